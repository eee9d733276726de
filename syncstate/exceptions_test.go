package syncstate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/crmtest"
	"github.com/crmdav/crmdav/crmclient/democrm"
	"github.com/crmdav/crmdav/syncstate"
)

// setUpSeries is setUp with an embedded CRM whose expansion window covers
// the series of these tests whatever the date they run on (max bounds the
// instances of a series; 0 is the default).
func setUpSeries(t *testing.T, max int) *fixture {
	t.Helper()
	const century = 100 * 365 * 24 * time.Hour
	f := &fixture{env: crmtest.Start(t, crmtest.Options{CRM: democrm.Options{PastExpansion: century, FutureExpansion: century, ExpansionMax: max}}),
		dir: t.TempDir()}
	f.alice = f.env.Users[0]
	f.open(t)
	if _, err := f.st.AddUser(ctx(t), "alice", "correct horse battery", f.alice); err != nil {
		t.Fatal(err)
	}
	return f
}

// instancesAt maps the original starts of a series' instances in the CRM
// to the instances.
func instancesAt(t *testing.T, f *fixture, series string) map[string]crmclient.Record {
	t.Helper()
	recs, err := f.env.Client.Instances(ctx(t), f.alice, series)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]crmclient.Record{}
	for _, r := range recs {
		out[r.Columns["originalstartdate"]] = r
	}
	return out
}

func onlyMaster(t *testing.T, f *fixture) crmclient.Record {
	t.Helper()
	list, err := f.env.Client.List(ctx(t), crmclient.RecurringAppointment, f.alice.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("CRM recurring masters: %v %v", list, err)
	}
	rec, err := f.env.Client.Get(ctx(t), f.alice, crmclient.RecurringAppointment, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// idle runs a round and checks that it writes nothing to the CRM and
// changes nothing in the object.
func idle(t *testing.T, f *fixture, href string) {
	t.Helper()
	before, err := f.st.Get(ctx(t), "alice", "appointments", href)
	if err != nil {
		t.Fatal(err)
	}
	f.env.CRM.RecordRequests(true)
	f.round(t)
	w := f.crmWrites()
	f.env.CRM.RecordRequests(false)
	if len(w) != 0 {
		t.Errorf("an idle round wrote to the CRM: %q", w)
	}
	if after, _ := f.st.Get(ctx(t), "alice", "appointments", href); after.ETag != before.ETag {
		t.Errorf("an idle round changed the object:\n%s", after.Body)
	}
}

// TestSeriesExceptionsBothWays is issue 6's scenario: a weekly recurring
// event with one moved and one deleted instance, created in a client,
// becomes one recurring master in the CRM with the right pattern and
// exceptions (the moved instance has its new start in the CRM, the deleted
// one is gone); the CRM moves another instance and the client sees a
// RECURRENCE-ID override; the CRM deletes an instance and the client sees
// an EXDATE; an idle round writes nothing.
func TestSeriesExceptionsBothWays(t *testing.T) {
	f := setUpSeries(t, 0)
	body := ics("BEGIN:VEVENT", "UID:weekly-x", "DTSTAMP:20261125T100000Z", "SUMMARY:Jour fixe", "LOCATION:Room 1",
		"DTSTART:20261207T090000Z", "DTEND:20261207T093000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6",
		"EXDATE:20261221T090000Z",
		"BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Soon", "TRIGGER:-PT5M", "END:VALARM", "END:VEVENT",
		"BEGIN:VEVENT", "UID:weekly-x", "DTSTAMP:20261125T100000Z", "RECURRENCE-ID:20261214T090000Z", "SUMMARY:Jour fixe (moved)",
		"LOCATION:Room 1", "DTSTART:20261215T140000Z", "DTEND:20261215T143000Z", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-x.ics", body, syncstate.Conditions{IfNoneMatch: "*"}); err != nil {
		t.Fatal(err)
	}
	f.round(t)

	master := onlyMaster(t, f)
	if c := master.Columns; c["recurrencepatterntype"] != "1" || c["daysofweekmask"] != "2" || c["occurrences"] != "6" || c["subject"] != "Jour fixe" {
		t.Errorf("CRM master: %v", c)
	}
	insts := instancesAt(t, f, master.ID)
	moved := insts["2026-12-14T09:00:00Z"]
	if moved.Columns["instancetypecode"] != "3" || moved.Columns["scheduledstart"] != "2026-12-15T14:00:00Z" ||
		moved.Columns["scheduledend"] != "2026-12-15T14:30:00Z" || moved.Columns["subject"] != "Jour fixe (moved)" {
		t.Errorf("moved instance in the CRM: %v", moved.Columns)
	}
	if _, ok := insts["2026-12-21T09:00:00Z"]; ok || len(insts) != 5 {
		t.Errorf("CRM instances %d, the deleted one there: %v; want 5 without 2026-12-21", len(insts), ok)
	}
	if !strings.Contains(master.Columns["deletedexceptionslist"], "2026-12-21T09:00:00Z") {
		t.Errorf("master's deletedexceptionslist %q", master.Columns["deletedexceptionslist"])
	}
	idle(t, f, "weekly-x.ics")

	// The CRM moves the instance of 2026-12-28 to 11:00.
	other := insts["2026-12-28T09:00:00Z"]
	time.Sleep(1100 * time.Millisecond)
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Appointment, other.ID, other.ETag, crmclient.Columns{
		"scheduledstart": "2026-12-28T11:00:00Z", "scheduledend": "2026-12-28T11:30:00Z"}, nil); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	it, _ := f.st.Get(ctx(t), "alice", "appointments", "weekly-x.ics")
	b := string(it.Body)
	if !strings.Contains(b, "RECURRENCE-ID:20261228T090000Z") || !strings.Contains(b, "DTSTART:20261228T110000Z") ||
		!strings.Contains(b, "RECURRENCE-ID:20261214T090000Z") || !strings.Contains(b, "EXDATE:20261221T090000Z") || !strings.Contains(b, "BEGIN:VALARM") {
		t.Errorf("client's series after the CRM moved an instance:\n%s", b)
	}
	idle(t, f, "weekly-x.ics")

	// The CRM deletes the instance of 2027-01-04, and the exception it
	// kept of 2026-12-14.
	insts = instancesAt(t, f, master.ID)
	for _, at := range []string{"2027-01-04T09:00:00Z", "2026-12-14T09:00:00Z"} {
		if err := f.env.Client.Delete(ctx(t), f.alice, crmclient.Appointment, insts[at].ID, ""); err != nil {
			t.Fatal(err)
		}
	}
	f.round(t)
	it, _ = f.st.Get(ctx(t), "alice", "appointments", "weekly-x.ics")
	b = string(it.Body)
	if strings.Contains(b, "RECURRENCE-ID:20261214T090000Z") || strings.Count(b, "EXDATE") != 3 ||
		!strings.Contains(b, "20270104T090000Z") || !strings.Contains(b, "20261214T090000Z") || !strings.Contains(b, "RECURRENCE-ID:20261228T090000Z") {
		t.Errorf("client's series after the CRM deleted an instance and an exception:\n%s", b)
	}
	idle(t, f, "weekly-x.ics")
}

// TestClientExceptionEdits: the client moves its override again, deletes
// another instance and later drops the override; each change reaches the
// instance in the CRM (a PATCH of the changed columns, a DELETE, a PATCH
// back to the series' values), across a restart between the PUT and the
// push and a CRM that fails once; nothing is written twice.
func TestClientExceptionEdits(t *testing.T) {
	f := setUpSeries(t, 0)
	body := ics("BEGIN:VEVENT", "UID:weekly-y", "DTSTAMP:20261125T100000Z", "SUMMARY:Jour fixe", "LOCATION:Room 1",
		"DTSTART:20261207T090000Z", "DTEND:20261207T093000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6", "END:VEVENT",
		"BEGIN:VEVENT", "UID:weekly-y", "DTSTAMP:20261125T100000Z", "RECURRENCE-ID:20261214T090000Z", "SUMMARY:Jour fixe",
		"LOCATION:Room 1", "DTSTART:20261214T100000Z", "DTEND:20261214T103000Z", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-y.ics", body, syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	master := onlyMaster(t, f)
	if got := instancesAt(t, f, master.ID)["2026-12-14T09:00:00Z"].Columns["scheduledstart"]; got != "2026-12-14T10:00:00Z" {
		t.Fatalf("moved instance starts %s in the CRM", got)
	}

	cur, _ := f.st.Get(ctx(t), "alice", "appointments", "weekly-y.ics")
	edited := strings.NewReplacer("DTSTART:20261214T100000Z", "DTSTART:20261214T160000Z", "DTEND:20261214T103000Z", "DTEND:20261214T163000Z",
		"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6\r\nEXDATE:20261228T090000Z").Replace(string(cur.Body))
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-y.ics", []byte(edited), syncstate.Conditions{IfMatch: cur.ETag}); err != nil {
		t.Fatal(err)
	}
	f.st.Close()
	f.open(t)
	f.env.CRM.FailNext(1)
	f.env.CRM.RecordRequests(true)
	f.sync.Round(ctx(t)) // the first CRM call fails (503, retried by the adapter or the next round)
	f.round(t)
	writes := f.crmWrites()
	f.env.CRM.RecordRequests(false)
	insts := instancesAt(t, f, master.ID)
	if got := insts["2026-12-14T09:00:00Z"].Columns; got["scheduledstart"] != "2026-12-14T16:00:00Z" || got["scheduledend"] != "2026-12-14T16:30:00Z" {
		t.Errorf("moved again in the client, the CRM has %v", got)
	}
	if _, ok := insts["2026-12-28T09:00:00Z"]; ok {
		t.Errorf("EXDATE of the client, the CRM still has the instance")
	}
	var patches, deletes int
	for _, w := range writes {
		switch {
		case strings.HasPrefix(w, "PATCH"):
			patches++
			if strings.Contains(w, "subject") || strings.Contains(w, "location") {
				t.Errorf("PATCH sends unchanged columns: %s", w)
			}
		case strings.HasPrefix(w, "DELETE"):
			deletes++
		}
	}
	if patches != 1 || deletes != 1 {
		t.Errorf("CRM writes %q, want one PATCH and one DELETE", writes)
	}
	idle(t, f, "weekly-y.ics")

	// The client drops the override: the instance goes back to the
	// series' time.
	cur, _ = f.st.Get(ctx(t), "alice", "appointments", "weekly-y.ics")
	b := string(cur.Body)
	i := strings.Index(b, "BEGIN:VEVENT\r\n")
	j := strings.LastIndex(b, "BEGIN:VEVENT\r\n")
	k := strings.LastIndex(b, "END:VEVENT\r\n")
	if i == j {
		t.Fatalf("no override in\n%s", b)
	}
	dropped := b[:j] + b[k+len("END:VEVENT\r\n"):]
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-y.ics", []byte(dropped), syncstate.Conditions{IfMatch: cur.ETag}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	if got := instancesAt(t, f, master.ID)["2026-12-14T09:00:00Z"].Columns; got["scheduledstart"] != "2026-12-14T09:00:00Z" || got["scheduledend"] != "2026-12-14T09:30:00Z" {
		t.Errorf("override dropped by the client, the CRM instance is %v", got)
	}
	if it, _ := f.st.Get(ctx(t), "alice", "appointments", "weekly-y.ics"); strings.Contains(string(it.Body), "RECURRENCE-ID") {
		t.Errorf("the override came back:\n%s", it.Body)
	}
	idle(t, f, "weekly-y.ics")
}

// TestExceptionConflictLaterWins: the client and then, later, the CRM
// change the same overridden instance; the CRM's change is later and wins
// the whole exception, and the client's change of another exception
// still reaches the CRM.
func TestExceptionConflictLaterWins(t *testing.T) {
	f := setUpSeries(t, 0)
	body := ics("BEGIN:VEVENT", "UID:weekly-z", "DTSTAMP:20261125T100000Z", "SUMMARY:Jour fixe",
		"DTSTART:20261207T090000Z", "DTEND:20261207T093000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6", "END:VEVENT",
		"BEGIN:VEVENT", "UID:weekly-z", "DTSTAMP:20261125T100000Z", "RECURRENCE-ID:20261214T090000Z", "SUMMARY:Jour fixe",
		"DTSTART:20261214T100000Z", "DTEND:20261214T103000Z", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-z.ics", body, syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	master := onlyMaster(t, f)
	cur, _ := f.st.Get(ctx(t), "alice", "appointments", "weekly-z.ics")
	b := string(cur.Body)
	o := strings.LastIndex(b, "BEGIN:VEVENT")
	edited := strings.Replace(b[:o], "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=6\r\nEXDATE:20261228T090000Z", 1) +
		strings.Replace(b[o:], "SUMMARY:Jour fixe", "SUMMARY:Client title", 1)
	if edited == string(cur.Body) || !strings.Contains(edited, "Client title") {
		t.Fatalf("test edit did not apply to\n%s", cur.Body)
	}
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-z.ics", []byte(edited), syncstate.Conditions{IfMatch: cur.ETag}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	inst := instancesAt(t, f, master.ID)["2026-12-14T09:00:00Z"]
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Appointment, inst.ID, inst.ETag, crmclient.Columns{"subject": "CRM title", "location": "Room 9"}, nil); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	insts := instancesAt(t, f, master.ID)
	if got := insts["2026-12-14T09:00:00Z"].Columns; got["subject"] != "CRM title" || got["location"] != "Room 9" {
		t.Errorf("CRM's later change lost: %v", got)
	}
	if _, ok := insts["2026-12-28T09:00:00Z"]; ok {
		t.Errorf("the client's other exception (EXDATE) did not reach the CRM")
	}
	it, _ := f.st.Get(ctx(t), "alice", "appointments", "weekly-z.ics")
	if b := string(it.Body); !strings.Contains(b, "SUMMARY:CRM title") || strings.Contains(b, "Client title") || !strings.Contains(b, "LOCATION:Room 9") {
		t.Errorf("client's object after the conflict:\n%s", b)
	}
	idle(t, f, "weekly-z.ics")
}

// TestInstanceDeletionFoundByFullRead: an instance deleted in the CRM while
// the gateway's delta token was lost is found by the full read that
// follows (it lists every instance; one known here and not listed is
// gone), and the client gets its EXDATE.
func TestInstanceDeletionFoundByFullRead(t *testing.T) {
	f := setUpSeries(t, 0)
	body := ics("BEGIN:VEVENT", "UID:weekly-f", "DTSTAMP:20261125T100000Z", "SUMMARY:Jour fixe",
		"DTSTART:20261207T090000Z", "DTEND:20261207T093000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-f.ics", body, syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	f.round(t) // the instances are known
	master := onlyMaster(t, f)
	inst := instancesAt(t, f, master.ID)["2026-12-14T09:00:00Z"]
	if err := f.env.Client.Delete(ctx(t), f.alice, crmclient.Appointment, inst.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.st.ForgetCursors(ctx(t)); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	it, _ := f.st.Get(ctx(t), "alice", "appointments", "weekly-f.ics")
	if b := string(it.Body); !strings.Contains(b, "EXDATE:20261214T090000Z") {
		t.Errorf("instance deleted while the feed was lost; the client has:\n%s", b)
	}
	idle(t, f, "weekly-f.ics")
}

// TestExceptionBeyondExpansionWaits: an exception of an occurrence the CRM
// has not expanded (beyond its window; here the CRM expands two
// instances) waits in the outbox and is retried, while the series' other
// exceptions go through.
func TestExceptionBeyondExpansionWaits(t *testing.T) {
	f := setUpSeries(t, 2)
	body := ics("BEGIN:VEVENT", "UID:weekly-w", "DTSTAMP:20261125T100000Z", "SUMMARY:Jour fixe",
		"DTSTART:20261207T090000Z", "DTEND:20261207T093000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4", "END:VEVENT",
		"BEGIN:VEVENT", "UID:weekly-w", "DTSTAMP:20261125T100000Z", "RECURRENCE-ID:20261207T090000Z", "SUMMARY:First",
		"DTSTART:20261207T100000Z", "DTEND:20261207T103000Z", "END:VEVENT",
		"BEGIN:VEVENT", "UID:weekly-w", "DTSTAMP:20261125T100000Z", "RECURRENCE-ID:20261221T090000Z", "SUMMARY:Third",
		"DTSTART:20261221T100000Z", "DTEND:20261221T103000Z", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-w.ics", body, syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.sync.Round(ctx(t)); err == nil || !strings.Contains(err.Error(), "not expanded") {
		t.Errorf("round: %v, want the exception beyond the expansion said to wait", err)
	}
	master := onlyMaster(t, f)
	if got := instancesAt(t, f, master.ID)["2026-12-07T09:00:00Z"].Columns["subject"]; got != "First" {
		t.Errorf("the expanded instance's exception did not go through: subject %q", got)
	}
	st, err := f.st.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Rejected) != 0 {
		t.Errorf("a waiting exception is not refused: %+v", st.Rejected)
	}
	// It is listed as retrying, with the reason.
	if len(st.Retrying) != 1 || st.Retrying[0].Href != "weekly-w.ics" || st.Retrying[0].Attempts < 1 || !strings.Contains(st.Retrying[0].Error, "not expanded") {
		t.Errorf("status of the waiting exception: %+v", st.Retrying)
	}
	if it, _ := f.st.Get(ctx(t), "alice", "appointments", "weekly-w.ics"); !strings.Contains(string(it.Body), "SUMMARY:Third") {
		t.Errorf("the waiting exception left the client's object:\n%s", it.Body)
	}
}

// TestDemoDataSyncs: the demo CRM's data (series expanded into instances,
// one moved, parties with users and contacts) reaches a gateway user's
// collections without error; the series with the moved instance shows it
// as an override; a second round writes nothing to the CRM and changes no
// object.
func TestDemoDataSyncs(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{Users: []string{"admin"}})
	users, err := env.CRM.Seed(democrm.Demo{Users: 2, Contacts: 8, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{env: env, dir: t.TempDir(), alice: users[0]}
	f.open(t)
	for i, name := range []string{"alice", "bob"} {
		if _, err := f.st.AddUser(ctx(t), name, "correct horse battery", users[i]); err != nil {
			t.Fatal(err)
		}
	}
	f.round(t)
	f.round(t)
	var series, moved int
	bodies := map[string]string{}
	f.st.Items(ctx(t), "alice", "appointments", true, func(it syncstate.Item) error {
		b := string(it.Body)
		bodies[it.Href] = it.ETag
		if strings.Contains(b, "RRULE:") {
			series++
		}
		if strings.Contains(b, "RECURRENCE-ID") && strings.Contains(b, "Team sync (moved)") {
			moved++
		}
		if !strings.Contains(b, "ORGANIZER") {
			t.Errorf("demo appointment without its organizer:\n%s", b)
		}
		return nil
	})
	if series != 2 || moved != 1 {
		t.Errorf("alice's calendar: %d series, %d with the moved instance; want 2 and 1", series, moved)
	}
	f.env.CRM.RecordRequests(true)
	f.round(t)
	w := f.crmWrites()
	f.env.CRM.RecordRequests(false)
	if len(w) != 0 {
		t.Errorf("an idle round wrote to the CRM: %q", w)
	}
	f.st.Items(ctx(t), "alice", "appointments", false, func(it syncstate.Item) error {
		if bodies[it.Href] != it.ETag {
			t.Errorf("an idle round changed %s", it.Href)
		}
		return nil
	})
}

// TestOverrideOfNoOccurrence: an override whose RECURRENCE-ID names no
// occurrence of the series (the CRM expanded it fully and has none there)
// is kept in the client's object, not retried for ever, and the other
// exceptions go through.
func TestOverrideOfNoOccurrence(t *testing.T) {
	f := setUpSeries(t, 0)
	body := ics("BEGIN:VEVENT", "UID:weekly-n", "DTSTAMP:20261125T100000Z", "SUMMARY:Jour fixe",
		"DTSTART:20261207T090000Z", "DTEND:20261207T093000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3", "EXDATE:20261214T090000Z", "END:VEVENT",
		"BEGIN:VEVENT", "UID:weekly-n", "DTSTAMP:20261125T100000Z", "RECURRENCE-ID:20261208T090000Z", "SUMMARY:Tuesday?",
		"DTSTART:20261208T100000Z", "DTEND:20261208T103000Z", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-n.ics", body, syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	master := onlyMaster(t, f)
	if _, ok := instancesAt(t, f, master.ID)["2026-12-14T09:00:00Z"]; ok {
		t.Error("the EXDATE did not reach the CRM")
	}
	if st, _ := f.st.Status(ctx(t)); st.Pending != 0 {
		t.Errorf("still pending: %d", st.Pending)
	}
	if it, _ := f.st.Get(ctx(t), "alice", "appointments", "weekly-n.ics"); !strings.Contains(string(it.Body), "SUMMARY:Tuesday?") {
		t.Errorf("the client's override was dropped:\n%s", it.Body)
	}
	idle(t, f, "weekly-n.ics")
}

// TestNewPatternKeepsExceptions: the client gives its series more
// occurrences; Dataverse deletes the series' instances and expands the new
// pattern, and the client's moved and deleted instances are written into
// the new instances again, so both sides still have them.
func TestNewPatternKeepsExceptions(t *testing.T) {
	f := setUpSeries(t, 0)
	body := ics("BEGIN:VEVENT", "UID:weekly-p", "DTSTAMP:20261125T100000Z", "SUMMARY:Jour fixe",
		"DTSTART:20261207T090000Z", "DTEND:20261207T093000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4", "EXDATE:20261221T090000Z", "END:VEVENT",
		"BEGIN:VEVENT", "UID:weekly-p", "DTSTAMP:20261125T100000Z", "RECURRENCE-ID:20261214T090000Z", "SUMMARY:Moved",
		"DTSTART:20261214T150000Z", "DTEND:20261214T153000Z", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-p.ics", body, syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	cur, _ := f.st.Get(ctx(t), "alice", "appointments", "weekly-p.ics")
	longer := strings.Replace(string(cur.Body), "COUNT=4", "COUNT=6", 1)
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-p.ics", []byte(longer), syncstate.Conditions{IfMatch: cur.ETag}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	f.round(t)
	master := onlyMaster(t, f)
	insts := instancesAt(t, f, master.ID)
	if len(insts) != 5 || insts["2026-12-14T09:00:00Z"].Columns["scheduledstart"] != "2026-12-14T15:00:00Z" {
		t.Errorf("CRM after the new pattern: %d instances, the moved one %v; want 5, moved to 15:00", len(insts), insts["2026-12-14T09:00:00Z"].Columns)
	}
	if _, ok := insts["2026-12-21T09:00:00Z"]; ok {
		t.Error("the deleted instance came back in the CRM")
	}
	it, _ := f.st.Get(ctx(t), "alice", "appointments", "weekly-p.ics")
	if b := string(it.Body); !strings.Contains(b, "EXDATE:20261221T090000Z") || !strings.Contains(b, "RECURRENCE-ID:20261214T090000Z") || !strings.Contains(b, "COUNT=6") {
		t.Errorf("client's series after its new pattern:\n%s", b)
	}
	idle(t, f, "weekly-p.ics")
}
