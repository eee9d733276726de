package syncstate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/syncstate"
)

// TestReconcileFindsMissedInstanceChanges: the CRM moves one instance of a
// series and deletes another, and the change feed misses both (List leaves
// instances out too); the reconcile reads the series' instances and the
// client's object gets the override and the EXDATE.
func TestReconcileFindsMissedInstanceChanges(t *testing.T) {
	f := setUpSeries(t, 0)
	body := ics("BEGIN:VEVENT", "UID:weekly-r", "DTSTAMP:20261125T100000Z", "SUMMARY:Review", "LOCATION:Room 3",
		"DTSTART:20261207T090000Z", "DTEND:20261207T093000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-r.ics", body, syncstate.Conditions{IfNoneMatch: "*"}); err != nil {
		t.Fatal(err)
	}
	f.round(t) // the master reaches the CRM, which expands it
	f.round(t) // the feed tells the instances
	master := onlyMaster(t, f)
	insts := instancesAt(t, f, master.ID)
	if len(insts) != 4 {
		t.Fatalf("CRM instances: %d, want 4", len(insts))
	}
	f.sync = syncstate.NewSyncer(f.st, forgetfulFeed{f.env.Client}, syncstate.SyncOptions{PushDelay: time.Hour})

	time.Sleep(1100 * time.Millisecond) // a later writer than the client, in whole seconds
	moved := insts["2026-12-14T09:00:00Z"]
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Appointment, moved.ID, moved.ETag, crmclient.Columns{
		"scheduledstart": "2026-12-14T13:00:00Z", "scheduledend": "2026-12-14T13:30:00Z"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.env.Client.Delete(ctx(t), f.alice, crmclient.Appointment, insts["2026-12-21T09:00:00Z"].ID, ""); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	if it, _ := f.st.Get(ctx(t), "alice", "appointments", "weekly-r.ics"); strings.Contains(string(it.Body), "RECURRENCE-ID") || strings.Contains(string(it.Body), "EXDATE") {
		t.Fatalf("the forgetful feed reported the instance changes already:\n%s", it.Body)
	}
	if err := f.sync.Reconcile(ctx(t)); err != nil {
		t.Fatal(err)
	}
	it, err := f.st.Get(ctx(t), "alice", "appointments", "weekly-r.ics")
	if err != nil {
		t.Fatal(err)
	}
	b := string(it.Body)
	if !strings.Contains(b, "RECURRENCE-ID:20261214T090000Z") || !strings.Contains(b, "DTSTART:20261214T130000Z") || !strings.Contains(b, "EXDATE:20261221T090000Z") {
		t.Errorf("after reconcile, the client's series lacks the CRM's moved or deleted instance:\n%s", b)
	}
	// A second reconcile changes nothing.
	if err := f.sync.Reconcile(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if again, _ := f.st.Get(ctx(t), "alice", "appointments", "weekly-r.ics"); again.ETag != it.ETag {
		t.Errorf("a second reconcile changed the object:\n%s", again.Body)
	}
}
