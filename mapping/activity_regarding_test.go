package mapping

import (
	"errors"
	"strings"
	"testing"

	"github.com/crmdav/crmdav/crmclient"
)

const (
	regContact = "contact:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a"
	regOpp     = "opportunity:7d6c5b4a-3f2e-4d1c-8b0a-9e8d7c6b5a4f"
)

func calText(lines ...string) string {
	return strings.Join(append(append([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN"}, lines...), "END:VCALENDAR"), "\r\n") + "\r\n"
}

// Every activity kind maps regarding, and a CRM-born object carries it only
// when the activity has one.
func TestRegardingCRMBorn(t *testing.T) {
	for _, k := range []crmclient.Kind{crmclient.Appointment, crmclient.RecurringAppointment, crmclient.Task,
		crmclient.PhoneCall, crmclient.Letter, crmclient.Fax, crmclient.Email} {
		if !contains(ActivityColumns(k), Regarding) {
			t.Errorf("%s: ActivityColumns lacks %s", k, Regarding)
		}
		cols := crmclient.Columns{"subject": "x", Regarding: regContact}
		if k == crmclient.RecurringAppointment {
			cols["starttime"], cols["endtime"], cols["recurrencepatterntype"], cols["patternendtype"] = "2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z", "0", "1"
		}
		out := encodeCal(t, mustCalendar(t, Activity{Kind: k, Columns: cols}, nil, "u1"))
		if !strings.Contains(out, "X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a\n") {
			t.Errorf("%s with regarding:\n%s", k, out)
		}
		if got := mustActivity(t, decodeCal(t, out), k).Columns[Regarding]; got != regContact {
			t.Errorf("%s reads back regarding %q", k, got)
		}
		cols[Regarding] = ""
		if out := encodeCal(t, mustCalendar(t, Activity{Kind: k, Columns: cols}, nil, "u1")); strings.Contains(out, "REGARDING") {
			t.Errorf("%s without regarding:\n%s", k, out)
		}
	}
}

// A client's value is read case-insensitively; a malformed one is an
// ErrValue that says what is wanted.
func TestRegardingRead(t *testing.T) {
	ok := map[string]string{
		"X-CRMDAV-REGARDING;X-CRMDAV-KIND=Contact:0B8C2F1E-5A4D-4E3B-9C2A-1F0E9D8C7B6A":     regContact,
		"X-CRMDAV-REGARDING;X-CRMDAV-KIND=new_project:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a": "new_project:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a",
		"X-CRMDAV-REGARDING:": "",
		"X-OTHER:1":           "",
	}
	for line, want := range ok {
		a := mustActivity(t, decodeCal(t, calText("BEGIN:VTODO", "UID:a", "DTSTAMP:20260101T000000Z", line, "END:VTODO")), crmclient.Task)
		if a.Columns[Regarding] != want {
			t.Errorf("%s reads as %q, want %q", line, a.Columns[Regarding], want)
		}
	}
	for _, bad := range [][]string{
		{"X-CRMDAV-REGARDING:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a"},
		{"X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact:"},
		{"X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact:Anna Meyer"},
		{"X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact:{0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a}"},
		{"X-CRMDAV-REGARDING;X-CRMDAV-KIND=con tact:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a"},
		{"X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a", "X-CRMDAV-REGARDING;X-CRMDAV-KIND=account:7d6c5b4a-3f2e-4d1c-8b0a-9e8d7c6b5a4f"},
	} {
		lines := append(append([]string{"BEGIN:VEVENT", "UID:a", "DTSTAMP:20260101T000000Z", "DTSTART:20260105T090000Z"}, bad...), "END:VEVENT")
		_, err := CalendarActivity(decodeCal(t, calText(lines...)), crmclient.Appointment)
		if !errors.Is(err, ErrValue) || !strings.Contains(err.Error(), "X-CRMDAV-REGARDING") {
			t.Errorf("%q: err %v, want ErrValue naming the property", bad, err)
		}
	}
}

// A changed regarding rewrites only X-CRMDAV-REGARDING, keeping a client's
// extra params while the kind stays; a removed one removes it.
func TestRegardingWrite(t *testing.T) {
	base := decodeCal(t, calText("BEGIN:VTODO", "UID:a", "DTSTAMP:20260101T000000Z", "SUMMARY:Call",
		"X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact;X-LABEL=Anna:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a", "END:VTODO"))
	a := mustActivity(t, base, crmclient.PhoneCall)
	a.Columns[Regarding] = "contact:11111111-2222-4333-8444-555555555555"
	out := encodeCal(t, mustCalendar(t, a, base, "a"))
	if !strings.Contains(out, "X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact;X-LABEL=Anna:11111111-2222-4333-8444-555555555555") &&
		!strings.Contains(out, "X-CRMDAV-REGARDING;X-LABEL=Anna;X-CRMDAV-KIND=contact:11111111-2222-4333-8444-555555555555") {
		t.Errorf("same kind, another record:\n%s", out)
	}
	a.Columns[Regarding] = regOpp
	out = encodeCal(t, mustCalendar(t, a, base, "a"))
	if !strings.Contains(out, "X-CRMDAV-REGARDING;X-CRMDAV-KIND=opportunity:7d6c5b4a-3f2e-4d1c-8b0a-9e8d7c6b5a4f\n") || strings.Contains(out, "Anna") {
		t.Errorf("another kind:\n%s", out)
	}
	a.Columns[Regarding] = ""
	out = encodeCal(t, mustCalendar(t, a, base, "a"))
	if strings.Contains(out, "REGARDING") || !strings.Contains(out, "SUMMARY:Call") {
		t.Errorf("removed:\n%s", out)
	}
}

// An overridden instance without X-CRMDAV-REGARDING has its series'; an
// empty one says it regards nothing; writing keeps both readings.
func TestRegardingOverrideInherits(t *testing.T) {
	cal := decodeCal(t, calText("BEGIN:VEVENT", "UID:s", "DTSTAMP:20260101T000000Z", "DTSTART:20260105T090000Z", "DTEND:20260105T100000Z",
		"RRULE:FREQ=DAILY;COUNT=5", "X-CRMDAV-REGARDING;X-CRMDAV-KIND=account:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a", "END:VEVENT",
		"BEGIN:VEVENT", "UID:s", "DTSTAMP:20260101T000000Z", "RECURRENCE-ID:20260106T090000Z", "DTSTART:20260106T110000Z", "DTEND:20260106T120000Z", "END:VEVENT",
		"BEGIN:VEVENT", "UID:s", "DTSTAMP:20260101T000000Z", "RECURRENCE-ID:20260107T090000Z", "DTSTART:20260107T110000Z", "DTEND:20260107T120000Z",
		"X-CRMDAV-REGARDING:", "END:VEVENT"))
	a := mustActivity(t, cal, crmclient.Appointment)
	want := "account:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a"
	if a.Columns[Regarding] != want || len(a.Exceptions) != 2 || a.Exceptions[0].Columns[Regarding] != want || a.Exceptions[1].Columns[Regarding] != "" {
		t.Fatalf("master %q, exceptions %+v", a.Columns[Regarding], a.Exceptions)
	}
	sameCal(t, cal, mustCalendar(t, a, cal, "s"))

	// The series changes its regarding: the first override follows, the
	// second keeps regarding nothing.
	a.Columns[Regarding] = regOpp
	a.Exceptions[0].Columns[Regarding] = regOpp
	got := mustActivity(t, mustCalendar(t, a, cal, "s"), crmclient.Appointment)
	if got.Columns[Regarding] != regOpp || got.Exceptions[0].Columns[Regarding] != regOpp || got.Exceptions[1].Columns[Regarding] != "" {
		t.Errorf("after the series changed: master %q, exceptions %+v", got.Columns[Regarding], got.Exceptions)
	}
	out := encodeCal(t, mustCalendar(t, a, cal, "s"))
	if strings.Count(out, "X-CRMDAV-REGARDING") != 2 {
		t.Errorf("want the master's and the empty one only:\n%s", out)
	}
}
