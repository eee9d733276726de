package syncstate_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/syncstate"
)

// partyList renders a record's parties as "mask kind address" lines,
// sorted, for comparison.
func partyList(ps []crmclient.Party) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		kind := p.PartyKind
		if p.PartyID == "" {
			kind = "unresolved"
		}
		out = append(out, strings.Join([]string{string(rune('0' + int(p.Role))), kind, strings.ToLower(p.Address)}, " "))
	}
	sort.Strings(out)
	return out
}

// TestPartiesBothWays: the organizer and attendees a client writes become
// the appointment's activity parties, each resolved to a CRM user or
// contact by e-mail, an unknown address kept as an unresolved party (and
// in the client's object); address lookups are batched and cached; an
// attendee the CRM adds or removes reaches the client's ATTENDEE list,
// keeping the other attendees' params; idle rounds write nothing.
func TestPartiesBothWays(t *testing.T) {
	f := setUp(t)
	bob := f.env.Users[1]
	anna, err := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(),
		Columns: crmclient.Columns{"lastname": "Berg", "firstname": "Anna", "emailaddress2": "Anna.Berg@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	body := ics("BEGIN:VEVENT", "UID:meet-p", "DTSTAMP:20261125T100000Z", "SUMMARY:Kick-off",
		"DTSTART:20261203T090000Z", "DTEND:20261203T100000Z",
		"ORGANIZER;CN=Alice:mailto:alice@crmdav.demo",
		"ATTENDEE;PARTSTAT=ACCEPTED:mailto:BOB@crmdav.demo",
		"ATTENDEE;PARTSTAT=TENTATIVE;CN=Anna Berg:mailto:anna.berg@example.com",
		"ATTENDEE;ROLE=OPT-PARTICIPANT:mailto:stranger@nowhere.example",
		"END:VEVENT")
	if _, err := f.st.AddUser(ctx(t), "bob", "correct horse battery", bob); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "meet-p.ics", body, syncstate.Conditions{IfNoneMatch: "*"}); err != nil {
		t.Fatal(err)
	}
	f.env.CRM.RecordRequests(true)
	f.round(t)
	lookups := 0
	for _, r := range f.env.CRM.Requests() {
		if r.Method == "GET" && (strings.Contains(r.URI, "/systemusers?") || strings.Contains(r.URI, "/contacts?")) {
			lookups++
		}
	}
	f.env.CRM.RecordRequests(false)
	if lookups > 2 {
		t.Errorf("%d address lookups for one create, want at most one for users and one for contacts", lookups)
	}
	list, _ := f.env.Client.List(ctx(t), crmclient.Appointment, f.alice.ID)
	if len(list) != 1 {
		t.Fatalf("CRM appointments %v", list)
	}
	rec, err := f.env.Client.Get(ctx(t), f.alice, crmclient.Appointment, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"5 contact anna.berg@example.com", "5 systemuser bob@crmdav.demo", "6 unresolved stranger@nowhere.example", "7 systemuser alice@crmdav.demo"}
	if got := partyList(rec.Parties); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("CRM parties\n%q\nwant\n%q", got, want)
	}
	for _, p := range rec.Parties {
		if (p.PartyKind == "contact" && p.PartyID != anna.ID) || (p.PartyKind == "systemuser" && p.Role == crmclient.RequiredAttendee && p.PartyID != bob.ID) {
			t.Errorf("party resolved to the wrong record: %+v", p)
		}
	}
	f.round(t) // the poll that sees the appointment routes it to its attendees
	if n := len(countItems(t, f, "appointments")); n != 1 {
		t.Errorf("alice has %d appointments", n)
	}
	var inBob int
	f.st.Items(ctx(t), "bob", "appointments", false, func(syncstate.Item) error { inBob++; return nil })
	if inBob != 1 {
		t.Errorf("bob, a required attendee, has %d appointments, want 1", inBob)
	}
	idle(t, f, "meet-p.ics")

	// The CRM takes bob off and adds a contact as optional attendee.
	carl, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(),
		Columns: crmclient.Columns{"lastname": "Lind", "emailaddress1": "carl@example.com"}})
	var next []crmclient.Party
	for _, p := range rec.Parties {
		if p.PartyID != bob.ID {
			next = append(next, p)
		}
	}
	next = append(next, crmclient.Party{Role: crmclient.OptionalAttendee, PartyKind: "contact", PartyID: carl.ID}) // no addressused
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Appointment, rec.ID, "", nil, next); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	it, _ := f.st.Get(ctx(t), "alice", "appointments", "meet-p.ics")
	b := string(it.Body)
	if strings.Contains(strings.ToLower(b), "bob@crmdav.demo") || !strings.Contains(b, "carl@example.com") ||
		!strings.Contains(b, "stranger@nowhere.example") || !strings.Contains(b, "PARTSTAT=TENTATIVE") || !strings.Contains(b, "ORGANIZER") {
		t.Errorf("client's object after the CRM changed the attendees:\n%s", b)
	}
	idle(t, f, "meet-p.ics")

	// The client adds an attendee: carl, whom the CRM keeps by record
	// only, is not written twice.
	cur0, _ := f.st.Get(ctx(t), "alice", "appointments", "meet-p.ics")
	added := strings.Replace(string(cur0.Body), "END:VEVENT", "ATTENDEE:mailto:gina@example.com\r\nEND:VEVENT", 1)
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "meet-p.ics", []byte(added), syncstate.Conditions{IfMatch: cur0.ETag}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	rec, _ = f.env.Client.Get(ctx(t), f.alice, crmclient.Appointment, rec.ID)
	n := 0
	for _, p := range rec.Parties {
		if p.PartyID == carl.ID {
			n++
		}
	}
	if n != 1 || len(rec.Parties) != 5 {
		t.Errorf("CRM parties after the client added one: %+v", rec.Parties)
	}
	idle(t, f, "meet-p.ics")

	// The client and, later, the CRM change the list: the later list wins
	// whole.
	cur, _ := f.st.Get(ctx(t), "alice", "appointments", "meet-p.ics")
	edited := strings.Replace(string(cur.Body), "END:VEVENT", "ATTENDEE:mailto:dora@example.org\r\nEND:VEVENT", 1)
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "meet-p.ics", []byte(edited), syncstate.Conditions{IfMatch: cur.ETag}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Appointment, rec.ID, "", nil, []crmclient.Party{
		{Role: crmclient.Organizer, PartyKind: "systemuser", PartyID: f.alice.ID, Address: "alice@crmdav.demo"},
		{Role: crmclient.RequiredAttendee, Address: "eve@example.net"}}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	rec, _ = f.env.Client.Get(ctx(t), f.alice, crmclient.Appointment, rec.ID)
	if got := partyList(rec.Parties); strings.Join(got, "|") != "5 unresolved eve@example.net|7 systemuser alice@crmdav.demo" {
		t.Errorf("CRM parties after the conflict: %q", got)
	}
	it, _ = f.st.Get(ctx(t), "alice", "appointments", "meet-p.ics")
	if b := string(it.Body); strings.Contains(b, "dora@example.org") || !strings.Contains(b, "eve@example.net") || strings.Contains(b, "carl@example.com") {
		t.Errorf("client's object after the conflict:\n%s", b)
	}
	idle(t, f, "meet-p.ics")

	// The client adds an attendee nobody knows: it reaches the CRM as an
	// unresolved party.
	cur, _ = f.st.Get(ctx(t), "alice", "appointments", "meet-p.ics")
	edited = strings.Replace(string(cur.Body), "END:VEVENT", "ATTENDEE;CN=Frank:mailto:frank@example.com\r\nEND:VEVENT", 1)
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "meet-p.ics", []byte(edited), syncstate.Conditions{IfMatch: cur.ETag}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	rec, _ = f.env.Client.Get(ctx(t), f.alice, crmclient.Appointment, rec.ID)
	if got := partyList(rec.Parties); strings.Join(got, "|") != "5 unresolved eve@example.net|5 unresolved frank@example.com|7 systemuser alice@crmdav.demo" {
		t.Errorf("CRM parties after the client added one: %q", got)
	}
	idle(t, f, "meet-p.ics")
}

// TestEmailPartiesReachClient: the sender and recipients of a CRM e-mail
// are the ORGANIZER and ATTENDEEs of its journal entry (a recipient known
// by its record only shows that record's address).
func TestEmailPartiesReachClient(t *testing.T) {
	f := setUp(t)
	anna, err := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(),
		Columns: crmclient.Columns{"lastname": "Berg", "emailaddress1": "anna@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Email, ID: uuid.NewString(),
		Columns: crmclient.Columns{"subject": "Offer", "description": "<p>Hi</p>"},
		Parties: []crmclient.Party{
			{Role: crmclient.Sender, PartyKind: "systemuser", PartyID: f.alice.ID, Address: "alice@crmdav.demo"},
			{Role: crmclient.ToRecipient, PartyKind: "contact", PartyID: anna.ID},
			{Role: crmclient.CCRecipient, Address: "boss@example.org"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	f.round(t)
	it, err := f.st.Get(ctx(t), "alice", "emails", rec.ID+".ics")
	if err != nil {
		t.Fatal(err)
	}
	b := string(it.Body)
	if !strings.Contains(b, "ORGANIZER:mailto:alice@crmdav.demo") || !strings.Contains(b, "ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:anna@example.com") ||
		!strings.Contains(b, "OPT-PARTICIPANT:mailto:boss@example.org") {
		t.Errorf("CRM e-mail's journal entry:\n%s", b)
	}
	f.env.CRM.RecordRequests(true)
	f.round(t)
	w := f.crmWrites()
	f.env.CRM.RecordRequests(false)
	if again, _ := f.st.Get(ctx(t), "alice", "emails", rec.ID+".ics"); again.ETag != it.ETag || len(w) != 0 {
		t.Errorf("idle round: writes %q, object changed %v", w, again.ETag != it.ETag)
	}
}
