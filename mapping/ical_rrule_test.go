package mapping

import (
	"strings"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-ical"
)

// seriesText is a VEVENT master starting Monday 2026-01-05 09:00 Berlin time
// with rule rrule.
func seriesText(rrule string) string {
	return `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
DTSTART:19810329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
DTSTART:19961027T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:s
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20260105T090000
DTEND;TZID=Europe/Berlin:20260105T100000
RRULE:` + rrule + `
SUMMARY:Series
END:VEVENT
END:VCALENDAR`
}

// The pattern table: RRULE ⇄ recurringappointmentmaster pattern columns,
// both ways. Columns not listed are "" (isnth*/isweekdaypattern "false").
var patternTable = []struct {
	name, rule string
	cols       map[string]string
}{
	{"daily", "FREQ=DAILY", map[string]string{"recurrencepatterntype": "0", "interval": "1", "patternendtype": "1"}},
	{"daily interval count", "FREQ=DAILY;INTERVAL=3;COUNT=10", map[string]string{"recurrencepatterntype": "0", "interval": "3", "patternendtype": "2", "occurrences": "10"}},
	{"every weekday", "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", map[string]string{"recurrencepatterntype": "0", "interval": "1", "isweekdaypattern": "true", "patternendtype": "1"}},
	{"weekly byday", "FREQ=WEEKLY;BYDAY=MO,WE,FR", map[string]string{"recurrencepatterntype": "1", "interval": "1", "daysofweekmask": "42", "patternendtype": "1"}},
	{"biweekly until wkst", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;UNTIL=20260630T215959Z;WKST=SU", map[string]string{"recurrencepatterntype": "1", "interval": "2", "daysofweekmask": "4", "patternendtype": "3", "patternenddate": "2026-06-30T00:00:00Z", "firstdayofweek": "0"}},
	{"monthly by day", "FREQ=MONTHLY;BYMONTHDAY=15", map[string]string{"recurrencepatterntype": "2", "interval": "1", "dayofmonth": "15", "patternendtype": "1"}},
	{"monthly second monday", "FREQ=MONTHLY;BYDAY=2MO", map[string]string{"recurrencepatterntype": "2", "interval": "1", "isnthmonthly": "true", "instance": "2", "daysofweekmask": "2", "patternendtype": "1"}},
	{"monthly last friday", "FREQ=MONTHLY;BYDAY=-1FR;COUNT=6", map[string]string{"recurrencepatterntype": "2", "interval": "1", "isnthmonthly": "true", "instance": "5", "daysofweekmask": "32", "patternendtype": "2", "occurrences": "6"}},
	{"monthly first weekday", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1", map[string]string{"recurrencepatterntype": "2", "interval": "1", "isnthmonthly": "true", "instance": "1", "daysofweekmask": "62", "patternendtype": "1"}},
	{"yearly", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=21", map[string]string{"recurrencepatterntype": "3", "interval": "1", "monthofyear": "3", "dayofmonth": "21", "patternendtype": "1"}},
	{"yearly nth", "FREQ=YEARLY;INTERVAL=2;BYMONTH=11;BYDAY=4TH", map[string]string{"recurrencepatterntype": "3", "interval": "2", "monthofyear": "11", "isnthyearly": "true", "instance": "4", "daysofweekmask": "16", "patternendtype": "1"}},
}

func patternWant(m map[string]string) crmclient.Columns {
	c := crmclient.Columns{}
	for _, k := range patternCols {
		c[k] = m[k]
	}
	for _, k := range []string{"isnthmonthly", "isnthyearly", "isweekdaypattern"} {
		if c[k] == "" {
			c[k] = "false"
		}
	}
	return c
}

func TestPatternTable(t *testing.T) {
	for _, tc := range patternTable {
		t.Run(tc.name, func(t *testing.T) {
			want := patternWant(tc.cols)
			// RRULE → columns.
			a := mustActivity(t, decodeCal(t, seriesText(tc.rule)), crmclient.Appointment)
			if a.Kind != crmclient.RecurringAppointment {
				t.Fatalf("kind %s", a.Kind)
			}
			if a.Approximated != "" {
				t.Errorf("approximated: %s", a.Approximated)
			}
			for _, k := range patternCols {
				if a.Columns[k] != want[k] {
					t.Errorf("%s = %q, want %q", k, a.Columns[k], want[k])
				}
			}
			// Columns → RRULE, on a body with another rule: the same rule,
			// part by part.
			other := decodeCal(t, seriesText("FREQ=YEARLY;COUNT=2"))
			b := mustActivity(t, other, crmclient.Appointment)
			for k, v := range want {
				b.Columns[k] = v
			}
			out := mustCalendar(t, b, other, "x")
			got := out.Children[1].Props.Get(ical.PropRecurrenceRule).Value
			if !sameRule(got, tc.rule) {
				t.Errorf("RRULE %s, want %s", got, tc.rule)
			}
			// CRM-born: the same columns back.
			born := mustCalendar(t, full(Activity{Kind: crmclient.RecurringAppointment, Columns: b.Columns}), nil, "x")
			again := mustActivity(t, born, crmclient.Appointment)
			for _, k := range patternCols {
				if again.Columns[k] != want[k] && k != "patternenddate" {
					t.Errorf("CRM-born %s = %q, want %q", k, again.Columns[k], want[k])
				}
			}
		})
	}
}

// sameRule compares RRULE values part by part, in any order.
func sameRule(a, b string) bool {
	pa, pb := strings.Split(a, ";"), strings.Split(b, ";")
	if len(pa) != len(pb) {
		return false
	}
	n := map[string]int{}
	for _, p := range pa {
		n[p]++
	}
	for _, p := range pb {
		if n[p] == 0 {
			return false
		}
		n[p]--
	}
	return true
}

// A rule the CRM cannot hold is read as the nearest pattern, reported, and
// kept in the body unchanged while its pattern columns do not change.
func TestPatternApproximated(t *testing.T) {
	for _, tc := range []struct {
		rule, reason string
		cols         map[string]string
	}{
		{"FREQ=HOURLY;INTERVAL=4", "FREQ=HOURLY", map[string]string{"recurrencepatterntype": "0", "interval": "1", "patternendtype": "1"}},
		{"FREQ=DAILY;BYHOUR=9,17", "BYHOUR", map[string]string{"recurrencepatterntype": "0", "interval": "1", "patternendtype": "1"}},
		{"FREQ=MONTHLY;BYMONTHDAY=1,15", "several BYMONTHDAY", map[string]string{"recurrencepatterntype": "2", "interval": "1", "dayofmonth": "1", "patternendtype": "1"}},
		{"FREQ=MONTHLY;BYMONTHDAY=-1", "last day", map[string]string{"recurrencepatterntype": "2", "interval": "1", "dayofmonth": "31", "patternendtype": "1"}},
		{"FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "BYWEEKNO", map[string]string{"recurrencepatterntype": "3", "interval": "1", "monthofyear": "1", "dayofmonth": "5", "patternendtype": "1"}},
		{"FREQ=MONTHLY;BYDAY=-2MO", "ordinal -2", map[string]string{"recurrencepatterntype": "2", "interval": "1", "isnthmonthly": "true", "instance": "5", "daysofweekmask": "2", "patternendtype": "1"}},
		{"FREQ=DAILY;INTERVAL=2;BYDAY=MO,TU", "read as weekly", map[string]string{"recurrencepatterntype": "1", "interval": "1", "daysofweekmask": "6", "patternendtype": "1"}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			cal := decodeCal(t, seriesText(tc.rule))
			a := mustActivity(t, cal, crmclient.Appointment)
			if !strings.Contains(a.Approximated, tc.reason) {
				t.Errorf("Approximated %q, want it to say %q", a.Approximated, tc.reason)
			}
			want := patternWant(tc.cols)
			for _, k := range patternCols {
				if a.Columns[k] != want[k] {
					t.Errorf("%s = %q, want %q", k, a.Columns[k], want[k])
				}
			}
			a.Columns["subject"] = "Renamed"
			out := mustCalendar(t, a, cal, "x")
			if got := out.Children[1].Props.Get(ical.PropRecurrenceRule).Value; got != tc.rule {
				t.Errorf("RRULE rewritten: %s", got)
			}
		})
	}
	a := mustActivity(t, decodeCal(t, calInputs[0].text), crmclient.Appointment)
	if a.Approximated != "" {
		t.Errorf("exact object reported: %s", a.Approximated)
	}
}

// Exceptions: a moved instance becomes an override in the body's time zone,
// a deleted one an EXDATE; what the client had stays.
func TestExceptions(t *testing.T) {
	cal := decodeCal(t, seriesText("FREQ=WEEKLY;BYDAY=MO"))
	a := mustActivity(t, cal, crmclient.Appointment)
	rid := time.Date(2026, 1, 12, 8, 0, 0, 0, time.UTC) // Monday 09:00 Berlin
	a.Exceptions = []Exception{
		{RecurrenceID: time.Date(2026, 1, 19, 8, 0, 0, 0, time.UTC), Deleted: true},
		{RecurrenceID: rid, Columns: crmclient.Columns{"scheduledstart": "2026-01-12T10:00:00Z", "scheduledend": "2026-01-12T11:00:00Z"}},
	}
	out := mustCalendar(t, a, cal, "x")
	text := encodeCal(t, out)
	for _, want := range []string{
		"EXDATE;TZID=Europe/Berlin:20260119T090000",
		"RECURRENCE-ID;TZID=Europe/Berlin:20260112T090000",
		"DTSTART;TZID=Europe/Berlin:20260112T110000",
		"DTEND;TZID=Europe/Berlin:20260112T120000",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in\n%s", want, text)
		}
	}
	b := mustActivity(t, out, crmclient.Appointment)
	sameActivity(t, "read back", b, func() Activity {
		w := a
		w.Exceptions = []Exception{
			{RecurrenceID: rid, Columns: crmclient.Columns{"subject": "Series", "description": "", "location": "",
				"scheduledstart": "2026-01-12T10:00:00Z", "scheduledend": "2026-01-12T11:00:00Z", "isalldayevent": "false",
				"prioritycode": "", "statecode": "0", "statuscode": "1"}},
			{RecurrenceID: time.Date(2026, 1, 19, 8, 0, 0, 0, time.UTC), Deleted: true},
		}
		return w
	}())
	// The CRM restores both instances: EXDATE and the override go.
	b.Exceptions = nil
	back := mustCalendar(t, b, out, "x")
	sameCal(t, cal, back)
	// A single appointment drops the recurrence.
	b.Kind = crmclient.Appointment
	b.Columns["scheduledstart"], b.Columns["scheduledend"] = b.Columns["starttime"], b.Columns["endtime"]
	single := mustCalendar(t, b, out, "x")
	if len(single.Children) != 2 || single.Children[1].Props.Get(ical.PropRecurrenceRule) != nil {
		t.Errorf("single appointment keeps its recurrence:\n%s", encodeCal(t, single))
	}
}

// Recurring spans: a bounded series ends with its last instance, an open one
// is unbounded.
func TestSeriesSpan(t *testing.T) {
	for _, tc := range []struct {
		rule string
		end  time.Time
	}{
		{"FREQ=WEEKLY;BYDAY=MO", time.Time{}},
		{"FREQ=WEEKLY;BYDAY=MO;COUNT=3", time.Date(2026, 1, 19, 9, 0, 0, 0, time.UTC)},
		{"FREQ=DAILY;UNTIL=20260401T080000Z", time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)}, // 10:00 CEST, DST honoured
		{"FREQ=SECONDLY;COUNT=3", time.Time{}},
	} {
		a := mustActivity(t, decodeCal(t, seriesText(tc.rule)), crmclient.Appointment)
		if !a.End.Equal(tc.end) || !a.Start.Equal(time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: span %v – %v, want end %v", tc.rule, a.Start, a.End, tc.end)
		}
	}
}
