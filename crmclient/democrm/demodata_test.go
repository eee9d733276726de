package democrm

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
)

func TestSeed(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	seed := func(dir string) (*Server, []crmclient.User) {
		s, err := Open(Options{Dir: dir, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		us, err := s.Seed(Demo{Users: 3, Contacts: 5, Now: now, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		return s, us
	}
	s, us := seed(t.TempDir())
	if len(us) != 3 || us[0].DomainName != "alice@crmdav.demo" || us[2].DomainName != "carol@crmdav.demo" || us[0].ObjectID == "" {
		t.Fatalf("users = %+v", us)
	}
	count := func(entity, owner string, keep func(*row) bool) int {
		rows, err := s.st.scanAll(s.schema.byName[entity], func(r *row) bool { return r.owner == owner && (keep == nil || keep(r)) })
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}
	for _, u := range us {
		for _, k := range crmclient.Kinds() {
			if n := count(string(k), u.ID, nil); n == 0 {
				t.Errorf("%s has no %s", u.DomainName, k)
			}
		}
		if n := count("contact", u.ID, nil); n != 5 {
			t.Errorf("%s has %d contacts, want 5", u.DomainName, n)
		}
		exceptions := count("appointment", u.ID, func(r *row) bool { return r.fields()["seriesid"] != nil })
		if exceptions == 0 {
			t.Errorf("%s has no exception of a recurring series", u.DomainName)
		}
		done := count("task", u.ID, func(r *row) bool { return r.fields()["statecode"] == json.Number("1") })
		if done == 0 {
			t.Errorf("%s has no completed task", u.DomainName)
		}
	}
	// Some appointments have another user as an attendee.
	parties, err := s.st.scanAll(s.schema.byName["activityparty"], func(r *row) bool {
		return r.fields()["participationtypemask"] == json.Number("5") && r.fields()["partyobjecttypecode"] == "systemuser"
	})
	if err != nil || len(parties) == 0 {
		t.Errorf("no appointment has a user as a required attendee (%v)", err)
	}

	// Deterministic: the same seed in another directory gives the same rows.
	s2, _ := seed(t.TempDir())
	a, _ := s.st.scanAll(s.schema.byName["contact"], func(*row) bool { return true })
	b, _ := s2.st.scanAll(s2.schema.byName["contact"], func(*row) bool { return true })
	if len(a) != len(b) {
		t.Fatalf("%d and %d contacts", len(a), len(b))
	}
	for i := range a {
		if a[i].id != b[i].id || a[i].raw != b[i].raw {
			t.Fatalf("contact %d differs:\n%s %s\n%s %s", i, a[i].id, a[i].raw, b[i].id, b[i].raw)
		}
	}
	// Seeding again adds nothing.
	if _, err := s.Seed(Demo{Users: 3, Contacts: 5, Now: now, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	if n := count("contact", us[0].ID, nil); n != 5 {
		t.Errorf("after a second Seed alice has %d contacts", n)
	}
}
