package syncstate_test

import (
	"strings"
	"testing"
)

// A rule the CRM cannot hold stays unchanged in the client's object (README).
func TestRegressionApproximatedRuleKept(t *testing.T) {
	for _, rule := range []string{
		"RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15",
		"RRULE:FREQ=WEEKLY;BYDAY=TU;BYHOUR=9,15",
		"RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
		"RRULE:FREQ=MONTHLY;BYDAY=-2FR",
		"RRULE:FREQ=YEARLY;BYMONTH=3,9;BYDAY=1TU",
		"RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=SU",
		"RRULE:FREQ=MONTHLY;BYMONTHDAY=-1",
		"RRULE:FREQ=WEEKLY;UNTIL=20270301",
		"RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
		"RRULE:FREQ=HOURLY;COUNT=3",
	} {
		t.Run(rule, func(t *testing.T) {
			f := setUp(t)
			it := stable(t, f, "appointments", "s.ics", ics("BEGIN:VEVENT", "UID:s", "DTSTAMP:20261125T100000Z", "SUMMARY:S",
				"DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", rule, "END:VEVENT"))
			if !strings.Contains(string(it.Body), rule+"\r\n") {
				t.Errorf("client's rule %s changed:\n%s", rule, it.Body)
			}
		})
	}
}
