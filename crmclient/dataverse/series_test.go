package dataverse_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/crmtest"
)

// Instances lists the appointments the CRM expanded from a series, each
// with its original start; List leaves them out of a user's appointments.
func TestInstancesOfSeries(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	alice := env.Users[0]
	master, err := env.Client.Create(ctx(t), alice, crmclient.Record{Kind: crmclient.RecurringAppointment, ID: uuid.NewString(), Columns: crmclient.Columns{
		"subject": "Weekly", "recurrencepatterntype": "1", "interval": "1", "daysofweekmask": "2", "patternendtype": "2", "occurrences": "3",
		"starttime": "2026-12-07T09:00:00Z", "endtime": "2026-12-07T09:30:00Z", "duration": "30"}})
	if err != nil {
		t.Fatal(err)
	}
	insts, err := env.Client.Instances(ctx(t), alice, master.ID)
	if err != nil {
		t.Fatal(err)
	}
	var starts []string
	for _, r := range insts {
		if r.Columns["seriesid"] != master.ID || r.Columns["instancetypecode"] != "2" {
			t.Errorf("instance %v", r.Columns)
		}
		starts = append(starts, r.Columns["originalstartdate"])
	}
	if len(starts) != 3 || !strings.Contains(strings.Join(starts, ","), "2026-12-21T09:00:00Z") {
		t.Errorf("instances start %v", starts)
	}
	if list, err := env.Client.List(ctx(t), crmclient.Appointment, alice.ID); err != nil || len(list) != 0 {
		t.Errorf("List of appointments includes instances: %v %v", list, err)
	}
	if _, err := env.Client.Instances(ctx(t), alice, "not-a-guid'"); err == nil {
		t.Error("a bad series id went to the CRM")
	}
}

// FindContacts finds contacts by any of their three e-mail addresses,
// without case, many addresses in few requests; Addresses gives the e-mail
// of contacts and users named by id.
func TestFindContactsAndAddresses(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	alice := env.Users[0]
	var addrs []string
	var ids []string
	for i := range 70 {
		rec, err := env.Client.Create(ctx(t), alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(),
			Columns: crmclient.Columns{"lastname": fmt.Sprint("C", i), fmt.Sprint("emailaddress", 1+i%3): fmt.Sprintf("Person%d@Example.com", i)}})
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, fmt.Sprintf("person%d@example.com", i))
		ids = append(ids, rec.ID)
	}
	env.CRM.RecordRequests(true)
	found, err := env.Client.FindContacts(ctx(t), append(addrs, "nobody@example.com")...)
	reqs := len(env.CRM.Requests())
	env.CRM.RecordRequests(false)
	if err != nil || len(found) != 70 {
		t.Fatalf("found %d, %v", len(found), err)
	}
	if reqs > 2 {
		t.Errorf("%d requests for 71 addresses", reqs)
	}
	got, err := env.Client.Addresses(ctx(t), "contact", ids[:3])
	if err != nil || got[ids[0]] != "Person0@Example.com" || len(got) != 1 {
		t.Errorf("contact addresses %v %v (only the first has emailaddress1)", got, err)
	}
	got, err = env.Client.Addresses(ctx(t), "systemuser", []string{alice.ID})
	if err != nil || got[alice.ID] != "alice@crmdav.demo" {
		t.Errorf("user addresses %v %v", got, err)
	}
	if _, err := env.Client.Addresses(ctx(t), "account", ids[:1]); err == nil {
		t.Error("addresses of an unsupported kind")
	}
}
