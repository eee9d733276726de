package syncstate_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/crmdav/crmdav/syncstate"
)

// stable: a client object reaches the CRM; after that, idle rounds must
// not change its ETag, nothing stays pending, nothing is rejected.
func stable(t *testing.T, f *fixture, slug, href string, body []byte) syncstate.Item {
	t.Helper()
	if _, _, err := f.st.Put(ctx(t), "alice", slug, href, body, syncstate.Conditions{IfNoneMatch: "*"}); err != nil {
		t.Fatalf("PUT refused: %v", err)
	}
	var etags []string
	var last syncstate.Item
	for i := 0; i < 4; i++ {
		if err := f.sync.Round(ctx(t)); err != nil {
			t.Errorf("round %d: %v", i, err)
		}
		it, err := f.st.Get(ctx(t), "alice", slug, href)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		etags = append(etags, it.ETag)
		if i > 0 && it.ETag != last.ETag {
			t.Errorf("idle round %d changed the object:\n--- before\n%s\n--- after\n%s", i, last.Body, it.Body)
		}
		last = it
	}
	st, _ := f.st.Status(ctx(t))
	if st.Pending != 0 || len(st.Rejected) != 0 {
		t.Errorf("pending %d rejected %+v", st.Pending, st.Rejected)
	}
	if its := countItems(t, f, slug); len(its) != 1 {
		t.Errorf("%s holds %d objects", slug, len(its))
	}
	return last
}

func TestRegressionStable(t *testing.T) {
	cases := []struct {
		name, slug string
		lines      []string
	}{
		{"allday", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Off", "DTSTART;VALUE=DATE:20261201", "DTEND;VALUE=DATE:20261202", "END:VEVENT"}},
		{"allday-noend", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Off", "DTSTART;VALUE=DATE:20261201", "END:VEVENT"}},
		{"allday-multi", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Trip", "DTSTART;VALUE=DATE:20261201", "DTEND;VALUE=DATE:20261204", "END:VEVENT"}},
		{"tzid", "appointments", []string{"BEGIN:VTIMEZONE", "TZID:Europe/Berlin", "BEGIN:STANDARD", "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "END:STANDARD", "BEGIN:DAYLIGHT", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "END:DAYLIGHT", "END:VTIMEZONE",
			"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Berlin", "DTSTART;TZID=Europe/Berlin:20261201T090000", "DTEND;TZID=Europe/Berlin:20261201T100000", "END:VEVENT"}},
		{"floating", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Float", "DTSTART:20261201T090000", "DTEND:20261201T100000", "END:VEVENT"}},
		{"nodtend", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Point", "DTSTART:20261201T090000Z", "END:VEVENT"}},
		{"duration", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Dur", "DTSTART:20261201T090000Z", "DURATION:PT45M", "END:VEVENT"}},
		{"status-confirmed", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:C", "STATUS:CONFIRMED", "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "END:VEVENT"}},
		{"status-tentative", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:C", "STATUS:TENTATIVE", "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "END:VEVENT"}},
		{"status-cancelled", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:C", "STATUS:CANCELLED", "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "END:VEVENT"}},
		{"nodates-event", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Nodate", "END:VEVENT"}},
		{"priority", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:P", "PRIORITY:3", "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "END:VEVENT"}},
		{"series-tz", "appointments", []string{"BEGIN:VTIMEZONE", "TZID:Europe/Berlin", "BEGIN:STANDARD", "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "END:STANDARD", "BEGIN:DAYLIGHT", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "END:DAYLIGHT", "END:VTIMEZONE",
			"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Weekly", "DTSTART;TZID=Europe/Berlin:20261201T090000", "DTEND;TZID=Europe/Berlin:20261201T100000", "RRULE:FREQ=WEEKLY;UNTIL=20270601T000000Z", "END:VEVENT"}},
		{"series-allday", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Bday", "DTSTART;VALUE=DATE:20261201", "DTEND;VALUE=DATE:20261202", "RRULE:FREQ=YEARLY", "END:VEVENT"}},
		{"series-monthly", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:M", "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "RRULE:FREQ=MONTHLY;BYDAY=1TU;COUNT=5", "END:VEVENT"}},
		{"series-exdate-override", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:W", "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE:20261208T090000Z", "END:VEVENT",
			"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "RECURRENCE-ID:20261215T090000Z", "SUMMARY:W moved", "DTSTART:20261215T110000Z", "DTEND:20261215T120000Z", "END:VEVENT"}},
		{"todo-bare", "tasks", []string{"BEGIN:VTODO", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Bare", "END:VTODO"}},
		{"todo-date-due", "tasks", []string{"BEGIN:VTODO", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:D", "DUE;VALUE=DATE:20261201", "END:VTODO"}},
		{"todo-needs-action", "tasks", []string{"BEGIN:VTODO", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:NA", "STATUS:NEEDS-ACTION", "END:VTODO"}},
		{"todo-inprocess", "tasks", []string{"BEGIN:VTODO", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:IP", "STATUS:IN-PROCESS", "PERCENT-COMPLETE:40", "END:VTODO"}},
		{"todo-completed", "tasks", []string{"BEGIN:VTODO", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Done", "STATUS:COMPLETED", "COMPLETED:20261120T100000Z", "PERCENT-COMPLETE:100", "END:VTODO"}},
		{"todo-start-due-tz", "tasks", []string{"BEGIN:VTIMEZONE", "TZID:America/New_York", "BEGIN:STANDARD", "DTSTART:19701101T020000", "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU", "TZOFFSETFROM:-0400", "TZOFFSETTO:-0500", "END:STANDARD", "BEGIN:DAYLIGHT", "DTSTART:19700308T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU", "TZOFFSETFROM:-0500", "TZOFFSETTO:-0400", "END:DAYLIGHT", "END:VTIMEZONE",
			"BEGIN:VTODO", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:TZ", "DTSTART;TZID=America/New_York:20261201T090000", "DUE;TZID=America/New_York:20261201T170000", "END:VTODO"}},
		{"phone", "phone-calls", []string{"BEGIN:VTODO", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Call", "X-CRMDAV-PHONE-NUMBER:+1 555", "X-CRMDAV-DIRECTION:INCOMING", "END:VTODO"}},
		{"letter", "letters", []string{"BEGIN:VTODO", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Letter", "X-CRMDAV-ADDRESS:Main St 1\\nTown", "END:VTODO"}},
		{"fax", "faxes", []string{"BEGIN:VTODO", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Fax", "X-CRMDAV-FAX-NUMBER:+1 555", "X-CRMDAV-PAGES:3", "END:VTODO"}},
		{"todo-priority-hi", "tasks", []string{"BEGIN:VTODO", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Hi", "PRIORITY:1", "END:VTODO"}},
		{"todo-cancelled", "tasks", []string{"BEGIN:VTODO", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:Cx", "STATUS:CANCELLED", "END:VTODO"}},
		{"event-long-desc", "appointments", []string{"BEGIN:VEVENT", "UID:u1", "DTSTAMP:20261125T100000Z", "SUMMARY:" + strings.Repeat("x", 300), "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "END:VEVENT"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := setUp(t)
			it := stable(t, f, c.slug, "obj.ics", ics(c.lines...))
			_ = fmt.Sprint(it)
		})
	}
}
