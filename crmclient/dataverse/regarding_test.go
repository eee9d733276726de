package dataverse_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/crmtest"
)

// TestRegarding: every activity kind reads and writes its regarding as
// "<table>:<id>" through the typed navigation property
// regardingobjectid_<table>_<activity>; "" writes null, which clears it;
// the change feed asks for the lookuplogicalname annotation; a value the
// adapter cannot bind is rejected before any request.
func TestRegarding(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	as := env.Users[0]
	anna := newContact(t, env, as, "Anna", "Meyer").ID
	ben := newContact(t, env, as, "Ben", "Schulz").ID
	for _, k := range crmclient.Kinds() {
		if !k.IsActivity() {
			continue
		}
		t.Run(string(k), func(t *testing.T) {
			cols := crmclient.Columns{"subject": "about Anna", crmclient.RegardingColumn: "contact:" + anna}
			if k == crmclient.RecurringAppointment {
				cols["starttime"], cols["endtime"], cols["recurrencepatterntype"], cols["patternendtype"], cols["occurrences"] =
					"2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z", "0", "2", "3"
			}
			rec, err := env.Client.Create(ctx(t), as, crmclient.Record{Kind: k, ID: uuid.NewString(), Columns: cols})
			if err != nil {
				t.Fatal(err)
			}
			if rec.Columns[crmclient.RegardingColumn] != "contact:"+anna {
				t.Errorf("created: regarding %q", rec.Columns[crmclient.RegardingColumn])
			}
			env.CRM.RecordRequests(true)
			cs, err := env.Client.Changes(ctx(t), k, "")
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, c := range cs.Changed {
				found = found || c.ID == rec.ID && c.Columns[crmclient.RegardingColumn] == "contact:"+anna
			}
			reqs := env.CRM.Requests()
			if !found || len(reqs) == 0 || !strings.Contains(strings.Join(reqs[0].Header.Values("Prefer"), ","), "Microsoft.Dynamics.CRM.lookuplogicalname") {
				t.Errorf("change feed: found %v, Prefer %q", found, reqs[0].Header.Values("Prefer"))
			}

			env.CRM.RecordRequests(true)
			rec, err = env.Client.Update(ctx(t), as, k, rec.ID, rec.ETag, crmclient.Columns{crmclient.RegardingColumn: "contact:" + strings.ToUpper(ben)}, nil)
			if err != nil || rec.Columns[crmclient.RegardingColumn] != "contact:"+ben {
				t.Fatalf("moved to Ben: %v %v", rec.Columns[crmclient.RegardingColumn], err)
			}
			if b := patchBody(t, env); len(b) != 1 || b["regardingobjectid_contact_"+string(k)+"@odata.bind"] != "/contacts("+ben+")" {
				t.Errorf("PATCH body %v", b)
			}

			env.CRM.RecordRequests(true)
			rec, err = env.Client.Update(ctx(t), as, k, rec.ID, rec.ETag, crmclient.Columns{crmclient.RegardingColumn: ""}, nil)
			if err != nil || rec.Columns[crmclient.RegardingColumn] != "" {
				t.Fatalf("cleared: %q %v", rec.Columns[crmclient.RegardingColumn], err)
			}
			if b := patchBody(t, env); len(b) != 1 || b["regardingobjectid_contact_"+string(k)+"@odata.bind"] != nil {
				t.Errorf("PATCH body %v", b)
			}
			if got, _ := env.Client.Get(ctx(t), as, k, rec.ID); got.Columns[crmclient.RegardingColumn] != "" {
				t.Errorf("read after clearing: %q", got.Columns[crmclient.RegardingColumn])
			}

			env.CRM.RecordRequests(true)
			if _, err := env.Client.Create(ctx(t), as, crmclient.Record{Kind: k, ID: uuid.NewString(), Columns: crmclient.Columns{"subject": "about nobody", crmclient.RegardingColumn: ""}}); err != nil {
				t.Fatal(err)
			}
			for _, r := range env.CRM.Requests() {
				if r.Method == http.MethodPost && strings.Contains(string(r.Body), "regardingobjectid") {
					t.Errorf("a create without regarding sent %s", r.Body)
				}
			}

			for _, bad := range []string{"contact", "contact:anna", "widget:" + anna, ":" + anna} {
				env.CRM.RecordRequests(true)
				_, err := env.Client.Update(ctx(t), as, k, rec.ID, "", crmclient.Columns{crmclient.RegardingColumn: bad}, nil)
				if !errors.Is(err, crmclient.ErrRejected) || len(env.CRM.Requests()) != 0 {
					t.Errorf("%q: %v, %d requests; want ErrRejected before any request", bad, err, len(env.CRM.Requests()))
				}
			}
			env.CRM.RecordRequests(false)
		})
	}
}

func patchBody(t *testing.T, env *crmtest.Env) map[string]any {
	t.Helper()
	for _, r := range env.CRM.Requests() {
		if r.Method == http.MethodPatch {
			var m map[string]any
			if err := json.Unmarshal(r.Body, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatal("no PATCH")
	return nil
}
