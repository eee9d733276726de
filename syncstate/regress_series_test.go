package syncstate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/syncstate"
)

func countItems(t *testing.T, f *fixture, slug string) []syncstate.Item {
	var out []syncstate.Item
	if err := f.st.Items(ctx(t), "alice", slug, true, func(it syncstate.Item) error { out = append(out, it); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// R1: a series created by a client comes back through the
// recurringappointmentmaster feed and must not become a second object.
func TestRegressionClientSeriesNotDuplicatedByPoll(t *testing.T) {
	f := setUp(t)
	body := ics("BEGIN:VEVENT", "UID:weekly-1", "DTSTAMP:20261125T100000Z", "SUMMARY:Team sync",
		"DTSTART:20261130T090000Z", "DTEND:20261130T093000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-1.ics", body, syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	f.round(t)
	if its := countItems(t, f, "appointments"); len(its) != 1 {
		for _, it := range its {
			t.Logf("%s uid=%s", it.Href, it.UID)
		}
		t.Fatalf("appointments collection holds %d objects after two rounds, want 1", len(its))
	}
}

// R2: a CRM-born series that the CRM changes later.
func TestRegressionCRMSeriesChangedInCRM(t *testing.T) {
	f := setUp(t)
	rec, err := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.RecurringAppointment, ID: uuid.NewString(), Columns: crmclient.Columns{
		"subject": "Weekly", "starttime": "2026-11-30T09:00:00Z", "endtime": "2026-11-30T09:30:00Z", "duration": "30",
		"patternstartdate": "2026-11-30T00:00:00Z", "recurrencepatterntype": "1", "interval": "1", "daysofweekmask": "2", "patternendtype": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	f.round(t)
	its := countItems(t, f, "appointments")
	if len(its) != 1 {
		t.Fatalf("after first poll: %d objects", len(its))
	}
	t.Logf("%s", its[0].Body)
	time.Sleep(1100 * time.Millisecond)
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.RecurringAppointment, rec.ID, "", crmclient.Columns{"subject": "Weekly (moved room)"}, nil); err != nil {
		t.Fatal(err)
	}
	// a task created after, to see whether later feeds still run
	task, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Task, ID: uuid.NewString(), Columns: crmclient.Columns{"subject": "after"}})
	if err := f.sync.Round(ctx(t)); err != nil {
		t.Errorf("round after a CRM change of a series: %v", err)
	}
	its = countItems(t, f, "appointments")
	if len(its) != 1 || !strings.Contains(string(its[0].Body), "SUMMARY:Weekly (moved room)") {
		for _, it := range its {
			t.Logf("%s\n%s", it.Href, it.Body)
		}
		t.Errorf("appointments: %d objects, want one with the new subject", len(its))
	}
	if _, err := f.st.Get(ctx(t), "alice", "tasks", task.ID+".ics"); err != nil {
		t.Errorf("task created in the CRM after the series change never arrives: %v", err)
	}
}
