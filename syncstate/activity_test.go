package syncstate_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/google/uuid"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/syncstate"
)

func ics(lines ...string) []byte {
	all := append([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"}, lines...)
	return []byte(strings.Join(append(all, "END:VCALENDAR"), "\r\n") + "\r\n")
}

// TestCRMTaskCompletedReachesClient: a task the CRM marks completed is a
// COMPLETED VTODO in the user's task list.
func TestCRMTaskCompletedReachesClient(t *testing.T) {
	f := setUp(t)
	rec, err := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Task, ID: uuid.NewString(), Columns: crmclient.Columns{
		"subject": "Send proposal", "scheduledend": "2026-12-01T17:00:00Z"}})
	if err != nil {
		t.Fatal(err)
	}
	f.round(t)
	it, err := f.st.Get(ctx(t), "alice", "tasks", rec.ID+".ics")
	if err != nil {
		t.Fatalf("task not in alice's task list: %v", err)
	}
	if !strings.Contains(string(it.Body), "BEGIN:VTODO") || !strings.Contains(string(it.Body), "SUMMARY:Send proposal") || !strings.Contains(string(it.Body), "UID:"+rec.ID) {
		t.Fatalf("CRM-born task:\n%s", it.Body)
	}
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Task, rec.ID, "", crmclient.Columns{"statecode": "1", "statuscode": "5", "actualend": "2026-11-30T10:00:00Z"}, nil); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	it, _ = f.st.Get(ctx(t), "alice", "tasks", rec.ID+".ics")
	if !strings.Contains(string(it.Body), "STATUS:COMPLETED") || !strings.Contains(string(it.Body), "COMPLETED:") {
		t.Errorf("completed in the CRM, the client has:\n%s", it.Body)
	}
}

// TestClientCompletesPhoneCall: a client completes a phone call; the CRM's
// phone call is completed, and the client's alarm stays.
func TestClientCompletesPhoneCall(t *testing.T) {
	f := setUp(t)
	body := ics("BEGIN:VTODO", "UID:call-1", "DTSTAMP:20261125T100000Z", "SUMMARY:Call Anna", "DUE:20261126T100000Z",
		"X-CRMDAV-PHONE-NUMBER:+49 30 1234", "BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Call", "TRIGGER:-PT15M", "END:VALARM", "END:VTODO")
	etag, _, err := f.st.Put(ctx(t), "alice", "phone-calls", "call-1.ics", body, syncstate.Conditions{IfNoneMatch: "*"})
	if err != nil {
		t.Fatal(err)
	}
	f.round(t)
	list, err := f.env.Client.List(ctx(t), crmclient.PhoneCall, f.alice.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("CRM phone calls: %v %v", list, err)
	}
	rec, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.PhoneCall, list[0].ID)
	if rec.Columns["subject"] != "Call Anna" || rec.Columns["phonenumber"] != "+49 30 1234" || rec.Columns["statecode"] != "0" {
		t.Fatalf("CRM phone call %v", rec.Columns)
	}
	// The CRM's defaults (priority, state) came back into the object: the
	// client edits what it now holds.
	cur, _ := f.st.Get(ctx(t), "alice", "phone-calls", "call-1.ics")
	if cur.ETag == etag {
		t.Log("object unchanged by the create")
	}
	done := strings.Replace(string(cur.Body), "DUE:20261126T100000Z", "DUE:20261126T100000Z\r\nSTATUS:COMPLETED\r\nCOMPLETED:20261126T093000Z", 1)
	if _, _, err := f.st.Put(ctx(t), "alice", "phone-calls", "call-1.ics", []byte(done), syncstate.Conditions{IfMatch: cur.ETag}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	rec, _ = f.env.Client.Get(ctx(t), f.alice, crmclient.PhoneCall, list[0].ID)
	if rec.Columns["statecode"] != "1" {
		t.Errorf("CRM phone call after the client completed it: %v", rec.Columns)
	}
	it, _ := f.st.Get(ctx(t), "alice", "phone-calls", "call-1.ics")
	if !strings.Contains(string(it.Body), "BEGIN:VALARM") || !strings.Contains(string(it.Body), "STATUS:COMPLETED") {
		t.Errorf("client's object:\n%s", it.Body)
	}
}

// TestAppointmentWorkedExample: the method's example on an appointment —
// A = location, B = start/end, C = description; the client changes A, B, C;
// the CRM later changes A and B: A and B from the CRM, C from the client,
// and the client's alarm is still there.
func TestAppointmentWorkedExample(t *testing.T) {
	f := setUp(t)
	body := ics("BEGIN:VEVENT", "UID:meet-1", "DTSTAMP:20261125T100000Z", "SUMMARY:Review", "LOCATION:Room A0",
		"DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "DESCRIPTION:C0",
		"BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Soon", "TRIGGER:-PT10M", "END:VALARM", "END:VEVENT")
	etag, _, err := f.st.Put(ctx(t), "alice", "appointments", "meet-1.ics", body, syncstate.Conditions{IfNoneMatch: "*"})
	if err != nil {
		t.Fatal(err)
	}
	f.round(t)
	list, _ := f.env.Client.List(ctx(t), crmclient.Appointment, f.alice.ID)
	if len(list) != 1 {
		t.Fatalf("CRM appointments: %v", list)
	}
	id := list[0].ID
	synced, _ := f.st.Get(ctx(t), "alice", "appointments", "meet-1.ics")
	_ = etag
	edited := strings.NewReplacer("LOCATION:Room A0", "LOCATION:Room A1", "DTSTART:20261201T090000Z", "DTSTART:20261201T110000Z",
		"DTEND:20261201T100000Z", "DTEND:20261201T120000Z", "DESCRIPTION:C0", "DESCRIPTION:C1").Replace(string(synced.Body))
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "meet-1.ics", []byte(edited), syncstate.Conditions{IfMatch: synced.ETag}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	cur, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Appointment, id)
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Appointment, id, cur.ETag, crmclient.Columns{
		"location": "Room A2", "scheduledstart": "2026-12-01T14:00:00Z", "scheduledend": "2026-12-01T15:00:00Z"}, nil); err != nil {
		t.Fatal(err)
	}
	f.env.CRM.RecordRequests(true)
	f.round(t)
	var patches []map[string]any
	for _, r := range f.env.CRM.Requests() {
		if r.Method == http.MethodPatch {
			var m map[string]any
			json.Unmarshal(r.Body, &m)
			patches = append(patches, m)
		}
	}
	if len(patches) != 1 || len(patches[0]) != 1 || patches[0]["description"] != "C1" {
		t.Errorf("CRM PATCHes %v, want one with only description", patches)
	}
	got, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Appointment, id)
	if got.Columns["location"] != "Room A2" || got.Columns["scheduledstart"] != "2026-12-01T14:00:00Z" || got.Columns["description"] != "C1" {
		t.Errorf("CRM appointment %v", got.Columns)
	}
	it, _ := f.st.Get(ctx(t), "alice", "appointments", "meet-1.ics")
	b := string(it.Body)
	if !strings.Contains(b, "LOCATION:Room A2") || !strings.Contains(b, "DTSTART:20261201T140000Z") || !strings.Contains(b, "DESCRIPTION:C1") || !strings.Contains(b, "BEGIN:VALARM") {
		t.Errorf("client's event:\n%s", b)
	}
}

// TestRecurringEventCreatesMaster: a weekly event from a client becomes one
// recurring master in the CRM with the pattern.
func TestRecurringEventCreatesMaster(t *testing.T) {
	f := setUp(t)
	body := ics("BEGIN:VEVENT", "UID:weekly-1", "DTSTAMP:20261125T100000Z", "SUMMARY:Team sync",
		"DTSTART:20261130T090000Z", "DTEND:20261130T093000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-1.ics", body, syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	list, _ := f.env.Client.List(ctx(t), crmclient.RecurringAppointment, f.alice.ID)
	if len(list) != 1 {
		t.Fatalf("CRM recurring masters: %v", list)
	}
	rec, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.RecurringAppointment, list[0].ID)
	c := rec.Columns
	if c["recurrencepatterntype"] != "1" || c["daysofweekmask"] != "10" || c["occurrences"] != "10" || c["patternendtype"] != "2" || c["subject"] != "Team sync" {
		t.Errorf("CRM master %v", c)
	}
	if singles, _ := f.env.Client.List(ctx(t), crmclient.Appointment, f.alice.ID); len(singles) != 0 {
		t.Errorf("the series also made %d single appointments", len(singles))
	}
	// A query by time range finds it through the span index.
	n := 0
	err := f.st.Query(ctx(t), "alice", "appointments", time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), false, func(syncstate.Item) error { n++; return nil })
	if err != nil || n != 1 {
		t.Errorf("query in range: %d, %v", n, err)
	}
	n = 0
	f.st.Query(ctx(t), "alice", "appointments", time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 6, 2, 0, 0, 0, 0, time.UTC), false, func(syncstate.Item) error { n++; return nil })
	if n != 0 {
		t.Errorf("query after the series ended found %d", n)
	}
}

// TestEventBecomesSeries: a client makes a single appointment repeat; the
// CRM's appointment is replaced by one recurring master (and back).
func TestEventBecomesSeries(t *testing.T) {
	f := setUp(t)
	single := ics("BEGIN:VEVENT", "UID:rekind-1", "DTSTAMP:20261125T100000Z", "SUMMARY:Planning",
		"DTSTART:20261207T090000Z", "DTEND:20261207T100000Z", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "rekind-1.ics", single, syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	cur, _ := f.st.Get(ctx(t), "alice", "appointments", "rekind-1.ics")
	weekly := strings.Replace(string(cur.Body), "DTEND:20261207T100000Z", "DTEND:20261207T100000Z\r\nRRULE:FREQ=WEEKLY;BYDAY=MO", 1)
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "rekind-1.ics", []byte(weekly), syncstate.Conditions{IfMatch: cur.ETag}); err != nil {
		t.Fatalf("making it repeat: %v", err)
	}
	f.round(t)
	singles, _ := f.env.Client.List(ctx(t), crmclient.Appointment, f.alice.ID)
	masters, _ := f.env.Client.List(ctx(t), crmclient.RecurringAppointment, f.alice.ID)
	if len(singles) != 0 || len(masters) != 1 {
		t.Fatalf("CRM has %d appointments and %d masters, want 0 and 1", len(singles), len(masters))
	}
	rec, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.RecurringAppointment, masters[0].ID)
	if rec.Columns["subject"] != "Planning" || rec.Columns["recurrencepatterntype"] != "1" {
		t.Errorf("CRM master %v", rec.Columns)
	}
	f.round(t)
	n := 0
	f.st.Items(ctx(t), "alice", "appointments", false, func(syncstate.Item) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d objects in the calendar, want 1", n)
	}
}

// TestApproximationIsLogged: a rule Dataverse cannot hold is kept for the
// client, and the approximation the CRM gets is logged.
func TestApproximationIsLogged(t *testing.T) {
	f := setUp(t)
	var logs lockedLog
	st, err := syncstate.Open(t.TempDir(), syncstate.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.AddUser(ctx(t), "alice", "correct horse battery", f.alice); err != nil {
		t.Fatal(err)
	}
	body := ics("BEGIN:VEVENT", "UID:hourly", "DTSTAMP:20261125T100000Z", "SUMMARY:Every hour",
		"DTSTART:20261201T090000Z", "DTEND:20261201T091500Z", "RRULE:FREQ=HOURLY;COUNT=5", "END:VEVENT")
	if _, _, err := st.Put(ctx(t), "alice", "appointments", "hourly.ics", body, syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "approximation") {
		t.Errorf("no approximation logged:\n%s", logs.String())
	}
	it, _ := st.Get(ctx(t), "alice", "appointments", "hourly.ics")
	if !strings.Contains(string(it.Body), "RRULE:FREQ=HOURLY;COUNT=5") {
		t.Errorf("the client's rule was changed:\n%s", it.Body)
	}
}

type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCRMMovedInstanceReachesClient: a client creates a weekly series; the
// CRM moves one instance (an exception appointment of the series); the
// client's object gets a RECURRENCE-ID override with the new time, and
// keeps its rule.
func TestCRMMovedInstanceReachesClient(t *testing.T) {
	f := setUp(t)
	body := ics("BEGIN:VEVENT", "UID:series-1", "DTSTAMP:20261125T100000Z", "SUMMARY:Jour fixe",
		"DTSTART:20261130T090000Z", "DTEND:20261130T093000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=8",
		"BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Soon", "TRIGGER:-PT5M", "END:VALARM", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "series-1.ics", body, syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	masters, _ := f.env.Client.List(ctx(t), crmclient.RecurringAppointment, f.alice.ID)
	if len(masters) != 1 {
		t.Fatalf("CRM masters: %v", masters)
	}
	// The CRM moves the instance of 2026-12-14 09:00 to 15:00.
	if _, err := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Appointment, ID: uuid.NewString(), Columns: crmclient.Columns{
		"subject": "Jour fixe (moved)", "seriesid": masters[0].ID, "instancetypecode": "3",
		"originalstartdate": "2026-12-14T09:00:00Z", "scheduledstart": "2026-12-14T15:00:00Z", "scheduledend": "2026-12-14T15:30:00Z"}}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	n := 0
	f.st.Items(ctx(t), "alice", "appointments", false, func(syncstate.Item) error { n++; return nil })
	if n != 1 {
		t.Errorf("%d objects: the exception became an object of its own", n)
	}
	it, _ := f.st.Get(ctx(t), "alice", "appointments", "series-1.ics")
	b := string(it.Body)
	if !strings.Contains(b, "RECURRENCE-ID:20261214T090000Z") || !strings.Contains(b, "DTSTART:20261214T150000Z") ||
		!strings.Contains(b, "SUMMARY:Jour fixe (moved)") || !strings.Contains(b, "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=8") || !strings.Contains(b, "BEGIN:VALARM") {
		t.Errorf("client's series after the CRM moved an instance:\n%s", b)
	}
	// An idle round changes nothing.
	f.round(t)
	if again, _ := f.st.Get(ctx(t), "alice", "appointments", "series-1.ics"); again.ETag != it.ETag {
		t.Errorf("idle round changed the series:\n%s", again.Body)
	}
}

// TestAttendeeSeesAppointment: an appointment alice owns with bob as a
// required attendee is in bob's calendar too; when bob is removed from the
// parties it leaves his calendar. bob's edits are refused by the CRM (he
// does not own it) and his object is brought back in line.
func TestAttendeeSeesAppointment(t *testing.T) {
	f := setUp(t)
	bob := f.env.Users[1]
	if _, err := f.st.AddUser(ctx(t), "bob", "correct horse battery", bob); err != nil {
		t.Fatal(err)
	}
	rec, err := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Appointment, ID: uuid.NewString(), Columns: crmclient.Columns{
		"subject": "Kick-off", "scheduledstart": "2026-12-02T09:00:00Z", "scheduledend": "2026-12-02T10:00:00Z"},
		Parties: []crmclient.Party{
			{Role: crmclient.Organizer, PartyKind: "systemuser", PartyID: f.alice.ID, Address: f.alice.Email},
			{Role: crmclient.RequiredAttendee, PartyKind: "systemuser", PartyID: bob.ID, Address: bob.Email},
		}})
	if err != nil {
		t.Fatal(err)
	}
	f.round(t)
	href := rec.ID + ".ics"
	if _, err := f.st.Get(ctx(t), "alice", "appointments", href); err != nil {
		t.Fatalf("not in the owner's calendar: %v", err)
	}
	it, err := f.st.Get(ctx(t), "bob", "appointments", href)
	if err != nil {
		t.Fatalf("not in the attendee's calendar: %v", err)
	}
	// bob edits it: the CRM refuses (he does not own it); his copy is restored.
	edited := strings.Replace(string(it.Body), "SUMMARY:Kick-off", "SUMMARY:Bob's title", 1)
	if _, _, err := f.st.Put(ctx(t), "bob", "appointments", href, []byte(edited), syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	f.sync.Round(ctx(t)) // the refusal is reported
	got, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Appointment, rec.ID)
	if got.Columns["subject"] != "Kick-off" {
		t.Errorf("bob changed alice's appointment: %v", got.Columns["subject"])
	}
	if it, _ := f.st.Get(ctx(t), "bob", "appointments", href); !strings.Contains(string(it.Body), "SUMMARY:Kick-off") {
		t.Errorf("bob's copy not restored:\n%s", it.Body)
	}
	// bob is taken off the parties: the appointment leaves his calendar.
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Appointment, rec.ID, "", crmclient.Columns{},
		[]crmclient.Party{{Role: crmclient.Organizer, PartyKind: "systemuser", PartyID: f.alice.ID, Address: f.alice.Email}}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	if _, err := f.st.Get(ctx(t), "bob", "appointments", href); err == nil {
		t.Error("still in bob's calendar after he left the parties")
	}
	if _, err := f.st.Get(ctx(t), "alice", "appointments", href); err != nil {
		t.Errorf("gone from the owner's calendar: %v", err)
	}
}
