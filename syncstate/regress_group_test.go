package syncstate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/syncstate"
)

// R7: start/end merged column by column: the client moves the meeting
// (start and end), the CRM later only extends it (end): the result ends
// before it starts.
func TestRegressionStartEndMergedAsOneUnit(t *testing.T) {
	f := setUp(t)
	body := ics("BEGIN:VEVENT", "UID:m1", "DTSTAMP:20261125T100000Z", "SUMMARY:Review",
		"DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "m1.ics", body, syncstate.Conditions{IfNoneMatch: "*"}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	list, _ := f.env.Client.List(ctx(t), crmclient.Appointment, f.alice.ID)
	id := list[0].ID
	cur, _ := f.st.Get(ctx(t), "alice", "appointments", "m1.ics")
	moved := strings.NewReplacer("DTSTART:20261201T090000Z", "DTSTART:20261201T140000Z", "DTEND:20261201T100000Z", "DTEND:20261201T150000Z").Replace(string(cur.Body))
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "m1.ics", []byte(moved), syncstate.Conditions{IfMatch: cur.ETag}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Appointment, id, "", crmclient.Columns{"scheduledend": "2026-12-01T10:30:00Z"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.sync.Round(ctx(t)); err != nil {
		t.Logf("round: %v", err)
	}
	got, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Appointment, id)
	s, e := got.Columns["scheduledstart"], got.Columns["scheduledend"]
	it, _ := f.st.Get(ctx(t), "alice", "appointments", "m1.ics")
	if e <= s {
		t.Errorf("CRM appointment now %s – %s (ends before it starts); client has:\n%s", s, e, it.Body)
	}
}
