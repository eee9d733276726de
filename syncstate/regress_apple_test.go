package syncstate_test

import (
	"testing"

	"github.com/crmdav/crmdav/syncstate"
)

// R4: iOS's structured location with a DQUOTE in an unquoted parameter.
func TestRegressionAppleStructuredLocation(t *testing.T) {
	f := setUp(t)
	body := ics("BEGIN:VEVENT", "UID:ios-1", "DTSTAMP:20261125T100000Z", "SUMMARY:Lunch", "DTSTART:20261201T120000Z", "DTEND:20261201T130000Z",
		`LOCATION:Café "A"\nMain St 1`,
		`X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS=Main St 1;X-APPLE-RADIUS=70;X-TITLE=Café \"A\":geo:52.5,13.4`,
		"END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "ios-1.ics", body, syncstate.Conditions{IfNoneMatch: "*"}); err != nil {
		t.Fatalf("PUT refused: %v", err)
	}
	f.round(t)
}
