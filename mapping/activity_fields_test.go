package mapping

import (
	"strings"
	"testing"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-ical"
)

// A moved start is written in the body's TZID with its VTIMEZONE kept; an
// unchanged one keeps its bytes.
func TestTZIDPreserved(t *testing.T) {
	cal := decodeCal(t, calInputs[0].text)
	a := mustActivity(t, cal, crmclient.Appointment)
	if got := a.Columns["scheduledstart"]; got != "2026-07-15T07:30:00Z" {
		t.Fatalf("scheduledstart %s (09:30 CEST)", got)
	}
	a.Columns["scheduledstart"] = "2026-12-01T08:00:00Z" // 09:00 CET
	a.Columns["scheduledend"] = "2026-12-01T09:00:00Z"
	text := encodeCal(t, mustCalendar(t, a, cal, "x"))
	for _, want := range []string{"DTSTART;TZID=Europe/Berlin:20261201T090000", "DTEND;TZID=Europe/Berlin:20261201T100000", "BEGIN:VTIMEZONE"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in\n%s", want, text)
		}
	}
}

func TestAllDay(t *testing.T) {
	cal := decodeCal(t, calInputs[1].text)
	a := mustActivity(t, cal, crmclient.Appointment)
	if a.Columns["isalldayevent"] != "true" || a.Columns["scheduledstart"] != "2026-12-24T00:00:00Z" || a.Columns["scheduledend"] != "2026-12-27T00:00:00Z" {
		t.Errorf("columns %v", a.Columns)
	}
	// Widened by the largest offsets: the date holds in every zone.
	if a.Start.Format(layoutColumnTime) != "2026-12-23T10:00:00Z" || a.End.Format(layoutColumnTime) != "2026-12-27T14:00:00Z" {
		t.Errorf("span %v – %v", a.Start, a.End)
	}
	a.Columns["scheduledstart"], a.Columns["scheduledend"] = "2026-12-25T00:00:00Z", "2026-12-26T00:00:00Z"
	text := encodeCal(t, mustCalendar(t, a, cal, "x"))
	if !strings.Contains(text, "DTSTART;VALUE=DATE:20261225") || !strings.Contains(text, "DTEND;VALUE=DATE:20261226") {
		t.Errorf("all-day dates not written:\n%s", text)
	}
	// To a timed event and back.
	a.Columns["isalldayevent"] = "false"
	a.Columns["scheduledstart"], a.Columns["scheduledend"] = "2026-12-25T10:00:00Z", "2026-12-25T11:00:00Z"
	timed := mustCalendar(t, a, cal, "x")
	if got := timed.Children[0].Props.Get(ical.PropDateTimeStart); got.Value != "20261225T100000Z" || got.Params.Get(ical.ParamValue) != "" {
		t.Errorf("DTSTART %+v", got)
	}
	sameActivity(t, "timed", mustActivity(t, timed, crmclient.Appointment), a)
	// A date without DTEND lasts a day (RFC 5545 §3.6.1).
	one := decodeCal(t, strings.Replace(calInputs[1].text, "DTEND;VALUE=DATE:20261227\n", "", 1))
	if got := mustActivity(t, one, crmclient.Appointment).Columns["scheduledend"]; got != "2026-12-25T00:00:00Z" {
		t.Errorf("scheduledend %s", got)
	}
}

// States: STATUS carries the class, X-CRMDAV-STATE the codes that are not
// their class's default; the client's STATUS wins.
func TestStates(t *testing.T) {
	for _, tc := range []struct {
		kind          crmclient.Kind
		state, status string
		pct           string
		wantStatus    string
		wantX         string
	}{
		{crmclient.Appointment, "0", "1", "", "", ""},
		{crmclient.Appointment, "0", "2", "", "TENTATIVE", ""},
		{crmclient.Appointment, "3", "5", "", "CONFIRMED", ""},
		{crmclient.Appointment, "3", "6", "", "CONFIRMED", "3/6"},
		{crmclient.Appointment, "2", "4", "", "CANCELLED", ""},
		{crmclient.Appointment, "1", "3", "", "", "1/3"},
		{crmclient.Task, "0", "2", "0", "", ""}, // no STATUS reads as needs-action
		{crmclient.Task, "0", "3", "20", "IN-PROCESS", ""},
		{crmclient.Task, "0", "2", "20", "IN-PROCESS", "0/2"},
		{crmclient.Task, "1", "5", "100", "COMPLETED", ""},
		{crmclient.Task, "2", "6", "", "CANCELLED", ""},
		{crmclient.PhoneCall, "1", "4", "", "COMPLETED", "1/4"},
		{crmclient.PhoneCall, "2", "3", "", "CANCELLED", ""},
		{crmclient.Letter, "1", "4", "", "COMPLETED", ""},
		{crmclient.Fax, "1", "2", "", "COMPLETED", ""},
		{crmclient.Email, "1", "3", "", "FINAL", ""},
		{crmclient.Email, "0", "1", "", "DRAFT", ""},
	} {
		a := full(Activity{Kind: tc.kind, Columns: crmclient.Columns{"subject": "s", "statecode": tc.state, "statuscode": tc.status, "percentcomplete": tc.pct}})
		cal := mustCalendar(t, a, nil, "x")
		c := cal.Children[0]
		if got := propValue(c, ical.PropStatus); got != tc.wantStatus {
			t.Errorf("%s %s/%s: STATUS %q, want %q", tc.kind, tc.state, tc.status, got, tc.wantStatus)
		}
		if got := propValue(c, propState); got != tc.wantX {
			t.Errorf("%s %s/%s: %s %q, want %q", tc.kind, tc.state, tc.status, propState, got, tc.wantX)
		}
		got := mustActivity(t, cal, tc.kind)
		if got.Columns["statecode"] != tc.state || got.Columns["statuscode"] != tc.status {
			t.Errorf("%s %s/%s reads back as %s/%s", tc.kind, tc.state, tc.status, got.Columns["statecode"], got.Columns["statuscode"])
		}
	}
	// A client completing a phone call: STATUS wins over a stale X-CRMDAV-STATE.
	cal := decodeCal(t, strings.Replace(calInputs[6].text, "STATUS:IN-PROCESS", "STATUS:COMPLETED\nX-CRMDAV-STATE:0/1", 1))
	if a := mustActivity(t, cal, crmclient.PhoneCall); a.Columns["statecode"] != "1" || a.Columns["statuscode"] != "2" {
		t.Errorf("completed call reads %s/%s", a.Columns["statecode"], a.Columns["statuscode"])
	}
}

// Parties: attendees whose address stays keep their params; a party known
// only by id is not written; non-mailto attendees stay.
func TestParties(t *testing.T) {
	cal := decodeCal(t, calInputs[0].text)
	a := mustActivity(t, cal, crmclient.Appointment)
	want := []crmclient.Party{
		{Role: crmclient.Organizer, Address: "ann@example.com"},
		{Role: crmclient.RequiredAttendee, Address: "BOB@example.com", PartyKind: "contact", PartyID: "b"},
		{Role: crmclient.RequiredAttendee, Address: "carl@example.com"}, // was optional
		{Role: crmclient.RequiredAttendee, Address: "dora@example.com"},
		{Role: crmclient.OptionalAttendee, PartyKind: "systemuser", PartyID: "no-address"},
	}
	if len(a.Parties) != 3 || a.Parties[0].Role != crmclient.Organizer || a.Parties[2].Role != crmclient.OptionalAttendee || a.Parties[2].Address != "Carl@Example.com" {
		t.Fatalf("parties %+v", a.Parties)
	}
	a.Parties = want
	out := mustCalendar(t, a, cal, "x")
	lines := strings.Join(calLines(out.Component, ""), "\n")
	for _, w := range []string{
		`ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:"mailto:bob@example.com"`,
		`ATTENDEE;ROLE=REQ-PARTICIPANT;RSVP=TRUE:"MAILTO:Carl@Example.com"`,
		`ATTENDEE;ROLE=REQ-PARTICIPANT:"mailto:dora@example.com"`,
		`ATTENDEE;CUTYPE=ROOM:"urn:uuid:room-1"`,
		`ORGANIZER;CN=Ann:"mailto:ann@example.com"`,
	} {
		if !strings.Contains(lines, w) {
			t.Errorf("no %s in\n%s", w, lines)
		}
	}
	if got := mustActivity(t, out, crmclient.Appointment).Parties; len(got) != 4 {
		t.Errorf("parties read back %+v", got)
	}
}

// VTODO: DUE, DTSTART, COMPLETED and the X-CRMDAV properties.
func TestTodoColumns(t *testing.T) {
	cal := decodeCal(t, calInputs[5].text)
	a := mustActivity(t, cal, crmclient.Task)
	for k, v := range map[string]string{
		"scheduledstart": "2026-03-01T08:00:00Z", "scheduledend": "2026-03-10T00:00:00Z", "actualend": "2026-03-09T17:00:00Z",
		"percentcomplete": "100", "statecode": "1", "statuscode": "5", "prioritycode": "1",
	} {
		if a.Columns[k] != v {
			t.Errorf("%s = %q, want %q", k, a.Columns[k], v)
		}
	}
	a.Columns["scheduledend"] = "2026-03-12T00:00:00Z"
	if got := encodeCal(t, mustCalendar(t, a, cal, "x")); !strings.Contains(got, "DUE;VALUE=DATE:20260312") {
		t.Errorf("DUE not kept a date:\n%s", got)
	}
	a.Columns["scheduledend"] = "2026-03-12T15:00:00Z"
	if got := encodeCal(t, mustCalendar(t, a, cal, "x")); !strings.Contains(got, "DUE:20260312T150000Z") {
		t.Errorf("DUE with a time:\n%s", got)
	}
	call := mustActivity(t, decodeCal(t, calInputs[6].text), crmclient.PhoneCall)
	if call.Columns["phonenumber"] != "+49 30 1234567" || call.Columns["directioncode"] != "false" {
		t.Errorf("call %v", call.Columns)
	}
}

func BenchmarkCalendarActivity(b *testing.B) {
	cal := decodeCal(b, seriesText("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=40"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CalendarActivity(cal, crmclient.Appointment); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkActivityCalendar(b *testing.B) {
	cal := decodeCal(b, calInputs[0].text)
	a := mustActivity(b, cal, crmclient.Appointment)
	a.Columns["location"] = "Room 2"
	a.Columns["scheduledstart"], a.Columns["scheduledend"] = "2026-07-15T08:00:00Z", "2026-07-15T09:00:00Z"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ActivityCalendar(a, cal, "x"); err != nil {
			b.Fatal(err)
		}
	}
}
