package mapping

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-ical"
)

// calInputs are calendar objects as clients write them; what they read as is
// pinned in testdata/ical-activity/<name>.json.
var calInputs = []struct {
	name string
	kind crmclient.Kind
	text string
}{
	{"event-tzid", crmclient.Appointment, `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:tz-1
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20260715T093000
DTEND;TZID=Europe/Berlin:20260715T103000
SUMMARY:Kick-off\, phase 2
DESCRIPTION:Agenda:\n1. status\n2. next steps\; risks
LOCATION:Room 1
STATUS:CONFIRMED
PRIORITY:1
ORGANIZER;CN=Ann:mailto:ann@example.com
ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Bob:mailto:bob@example.com
ATTENDEE;ROLE=OPT-PARTICIPANT;RSVP=TRUE:MAILTO:Carl@Example.com
ATTENDEE;CUTYPE=ROOM:urn:uuid:room-1
CATEGORIES:Work
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT15M
DESCRIPTION:Reminder
END:VALARM
END:VEVENT
END:VCALENDAR`},
	{"event-allday", crmclient.Appointment, `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VEVENT
UID:allday-1
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20261224
DTEND;VALUE=DATE:20261227
SUMMARY:Holidays
STATUS:CANCELLED
END:VEVENT
END:VCALENDAR`},
	{"event-duration-floating", crmclient.Appointment, `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VEVENT
UID:float-1
DTSTAMP:20260101T000000Z
DTSTART:20260301T080000
DURATION:PT90M
SUMMARY:Floating
PRIORITY:7
END:VEVENT
END:VCALENDAR`},
	{"series-weekly", crmclient.Appointment, `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VEVENT
UID:series-1
DTSTAMP:20260101T000000Z
DTSTART:20260105T090000Z
DTEND:20260105T093000Z
RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260330T235959Z;WKST=MO
EXDATE:20260114T090000Z
SUMMARY:Team sync
ORGANIZER:mailto:ann@example.com
END:VEVENT
BEGIN:VEVENT
UID:series-1
DTSTAMP:20260101T000000Z
RECURRENCE-ID:20260112T090000Z
DTSTART:20260112T110000Z
DTEND:20260112T113000Z
SUMMARY:Team sync (moved)
ORGANIZER:mailto:ann@example.com
END:VEVENT
END:VCALENDAR`},
	{"series-approximated", crmclient.Appointment, `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VEVENT
UID:approx-1
DTSTAMP:20260101T000000Z
DTSTART:20260105T090000Z
DTEND:20260105T093000Z
RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15;BYHOUR=9,15
RDATE:20260220T090000Z
SUMMARY:Twice a month
END:VEVENT
END:VCALENDAR`},
	{"todo-completed", crmclient.Task, `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VTODO
UID:todo-1
DTSTAMP:20260101T000000Z
DTSTART:20260301T080000Z
DUE;VALUE=DATE:20260310
COMPLETED:20260309T170000Z
STATUS:COMPLETED
PERCENT-COMPLETE:100
PRIORITY:5
SUMMARY:Send offer
X-APPLE-SORT-ORDER:12
END:VTODO
END:VCALENDAR`},
	{"phonecall", crmclient.PhoneCall, `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VTODO
UID:call-1
DTSTAMP:20260101T000000Z
DUE:20260310T100000Z
STATUS:IN-PROCESS
SUMMARY:Call back
X-CRMDAV-PHONE-NUMBER:+49 30 1234567
X-CRMDAV-DIRECTION:INCOMING
X-CRMDAV-REGARDING;X-CRMDAV-KIND=Opportunity:7D6C5B4A-3F2E-4D1C-8B0A-9E8D7C6B5A4F
END:VTODO
END:VCALENDAR`},
	{"journal", crmclient.Email, `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VJOURNAL
UID:mail-1
DTSTAMP:20260101T000000Z
DTSTART:20260310T100000Z
STATUS:FINAL
SUMMARY:Re: offer
DESCRIPTION:<p>Thanks</p>
ORGANIZER:mailto:me@example.com
ATTENDEE:mailto:you@example.com
ATTENDEE;ROLE=OPT-PARTICIPANT:mailto:cc@example.com
END:VJOURNAL
END:VCALENDAR`},
}

// activityJSON is Activity in a stable, readable form for golden files.
func activityJSON(tb testing.TB, a Activity) string {
	tb.Helper()
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b) + "\n"
}

func TestActivityGolden(t *testing.T) {
	for _, in := range calInputs {
		t.Run(in.name, func(t *testing.T) {
			a := mustActivity(t, decodeCal(t, in.text), in.kind)
			checkGolden(t, "ical-activity/"+in.name+".json", activityJSON(t, a))
		})
	}
}

// crmActivities are CRM activities whose CRM-born rendering is pinned in
// testdata/ical-calendar/<name>.ics.
var crmActivities = []struct {
	name string
	a    Activity
}{
	{"appointment", Activity{Kind: crmclient.Appointment, Columns: crmclient.Columns{
		"subject": "Review, Q3; budget", "description": "Line 1\nLine 2", "location": "Online",
		"scheduledstart": "2026-07-15T07:30:00Z", "scheduledend": "2026-07-15T08:30:00Z", "isalldayevent": "false",
		"prioritycode": "2", "statecode": "3", "statuscode": "5", ModifiedOn: "2026-07-01T10:00:00Z",
	}, Parties: []crmclient.Party{
		{Role: crmclient.Organizer, Address: "ann@example.com", PartyKind: "systemuser", PartyID: "u1"},
		{Role: crmclient.RequiredAttendee, Address: "bob@example.com"},
		{Role: crmclient.OptionalAttendee, Address: "carl@example.com"},
		{Role: crmclient.RequiredAttendee, PartyKind: "contact", PartyID: "c-without-address"},
	}}},
	{"appointment-completed", Activity{Kind: crmclient.Appointment, Columns: crmclient.Columns{
		"subject": "Done", "scheduledstart": "2026-07-15T07:30:00Z", "scheduledend": "2026-07-15T08:30:00Z",
		"isalldayevent": "false", "prioritycode": "1", "statecode": "1", "statuscode": "3",
	}}},
	{"allday", Activity{Kind: crmclient.Appointment, Columns: crmclient.Columns{
		"subject": "Trade fair", "scheduledstart": "2026-07-15T00:00:00Z", "scheduledend": "2026-07-17T00:00:00Z",
		"isalldayevent": "true", "statecode": "0", "statuscode": "1",
	}}},
	{"weekly-series", Activity{Kind: crmclient.RecurringAppointment, Columns: weeklySeries(), Exceptions: []Exception{
		{RecurrenceID: time.Date(2026, 1, 7, 9, 0, 0, 0, time.UTC), Deleted: true},
		{RecurrenceID: time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC), Columns: crmclient.Columns{
			"subject": "Team sync (moved)", "scheduledstart": "2026-01-12T11:00:00Z", "scheduledend": "2026-01-12T11:30:00Z"}},
	}}},
	{"monthly-last-friday", Activity{Kind: crmclient.RecurringAppointment, Columns: func() crmclient.Columns {
		c := weeklySeries()
		c["recurrencepatterntype"], c["daysofweekmask"], c["instance"], c["isnthmonthly"] = "2", "32", "5", "true"
		c["patternendtype"], c["occurrences"], c["patternenddate"] = "2", "12", ""
		return c
	}()}},
	{"task", Activity{Kind: crmclient.Task, Columns: crmclient.Columns{
		"subject": "Send offer", "scheduledend": "2026-03-10T17:00:00Z", "percentcomplete": "100",
		"statecode": "1", "statuscode": "5", "actualend": "2026-03-10T16:00:00Z", "prioritycode": "0",
	}}},
	{"phonecall", Activity{Kind: crmclient.PhoneCall, Columns: crmclient.Columns{
		"subject": "Call about the offer", "scheduledend": "2026-03-10T10:00:00Z", "phonenumber": "+49 30 1234567",
		"directioncode": "true", "statecode": "0", "statuscode": "1",
	}}},
	{"letter", Activity{Kind: crmclient.Letter, Columns: crmclient.Columns{
		"subject": "Offer letter", "address": "Hauptstraße 5\n10115 Berlin", "directioncode": "true",
		"statecode": "1", "statuscode": "3",
	}}},
	{"fax", Activity{Kind: crmclient.Fax, Columns: crmclient.Columns{
		"subject": "Signed order form", "faxnumber": "+49 30 1234567", "numberofpages": "2",
		"scheduledend": "2026-03-08T11:00:00Z", "statecode": "2", "statuscode": "5",
	}}},
	{"email", Activity{Kind: crmclient.Email, Columns: crmclient.Columns{
		"subject": "Re: offer", "description": "<p>Thanks for your time today.</p>", "senton": "2026-03-09T09:00:00Z",
		"statecode": "1", "statuscode": "3",
	}, Parties: []crmclient.Party{{Role: crmclient.Sender, Address: "me@example.com"}, {Role: crmclient.ToRecipient, Address: "you@example.com"}, {Role: crmclient.BCCRecipient, Address: "hidden@example.com"}}}},
}

func weeklySeries() crmclient.Columns {
	return crmclient.Columns{
		"subject": "Team sync", "location": "Room 2", "starttime": "2026-01-05T09:00:00Z", "endtime": "2026-01-05T09:30:00Z",
		"duration": "30", "patternstartdate": "2026-01-05T00:00:00Z", "isalldayevent": "false",
		"recurrencepatterntype": "1", "interval": "1", "daysofweekmask": "10", "dayofmonth": "", "instance": "",
		"monthofyear": "", "firstdayofweek": "1", "isnthmonthly": "false", "isnthyearly": "false",
		"isweekdaypattern": "false", "patternendtype": "1", "occurrences": "", "patternenddate": "",
		"prioritycode": "1", "statecode": "0", "statuscode": "1",
	}
}

// full returns a's columns with every mapped name present.
func full(a Activity) Activity {
	c := crmclient.Columns{}
	for _, k := range ActivityColumns(a.Kind) {
		c[k] = a.Columns[k]
	}
	a.Columns = c
	return a
}

func TestCalendarGolden(t *testing.T) {
	for _, in := range crmActivities {
		t.Run(in.name, func(t *testing.T) {
			cal := mustCalendar(t, in.a, nil, "0f8fad5b-d9cb-469f-a165-70867728950e")
			checkGolden(t, "ical-calendar/"+in.name+".ics", encodeCal(t, cal))
		})
	}
}

// A CRM-born activity reads back as what it was made from, in memory and
// through go-ical's encoder and decoder; a second rendering changes nothing.
func TestCRMBornActivityRoundTrip(t *testing.T) {
	for _, in := range crmActivities {
		t.Run(in.name, func(t *testing.T) {
			want := full(in.a)
			for i, e := range want.Exceptions {
				if !e.Deleted {
					want.Exceptions[i].Columns = e.Columns
				}
			}
			cal := mustCalendar(t, in.a, nil, "id-1")
			if got := propValue(cal.Children[0], ical.PropUID); got != "id-1" {
				t.Errorf("UID %q", got)
			}
			if got := propValue(cal.Component, ical.PropProductID); got != ProdID {
				t.Errorf("PRODID %q", got)
			}
			got := mustActivity(t, decodeCal(t, encodeCal(t, cal)), in.a.Kind)
			for _, k := range ActivityColumns(in.a.Kind) {
				if got.Columns[k] != want.Columns[k] {
					t.Errorf("%s = %q, want %q", k, got.Columns[k], want.Columns[k])
				}
			}
			if !sameParties(got.Parties, mappedParties(in.a.Parties, PartyRoles(in.a.Kind))) {
				t.Errorf("parties %v", got.Parties)
			}
			sameCal(t, cal, mustCalendar(t, got, cal, "other"))
		})
	}
}

func TestActivityErrors(t *testing.T) {
	event := calInputs[1].text
	for _, tc := range []struct {
		text string
		kind crmclient.Kind
		err  error
	}{
		{event, crmclient.Task, ErrComponent},
		{event, crmclient.Contact, ErrKind},
		{strings.Replace(event, "END:VEVENT", "END:VEVENT\nBEGIN:VEVENT\nUID:other\nDTSTAMP:20260101T000000Z\nEND:VEVENT", 1), crmclient.Appointment, ErrUID},
		{strings.Replace(event, "DTSTART;VALUE=DATE:20261224", "DTSTART:2026-12-24", 1), crmclient.Appointment, ErrValue},
		{strings.Replace(event, "UID:allday-1", "UID:allday-1\nRECURRENCE-ID:20261224T000000Z", 1), crmclient.Appointment, ErrComponent},
	} {
		if _, err := CalendarActivity(decodeCal(t, tc.text), tc.kind); !errors.Is(err, tc.err) {
			t.Errorf("%s: err %v, want %v", tc.kind, err, tc.err)
		}
	}
	if _, err := ActivityCalendar(Activity{Kind: crmclient.Contact}, nil, "x"); !errors.Is(err, ErrKind) {
		t.Errorf("err %v, want ErrKind", err)
	}
}

// ActivityCalendar never modifies its base.
func TestActivityBaseUntouched(t *testing.T) {
	for _, in := range calInputs {
		base := decodeCal(t, in.text)
		a := mustActivity(t, base, in.kind)
		for _, k := range ActivityColumns(a.Kind) {
			a.Columns[k] = changedColumn(k, a.Columns[k])
		}
		a.Parties = []crmclient.Party{{Role: crmclient.Organizer, Address: "new@example.com"}}
		a.Exceptions = nil
		mustCalendar(t, a, base, "x")
		sameCal(t, decodeCal(t, in.text), base)
	}
}
