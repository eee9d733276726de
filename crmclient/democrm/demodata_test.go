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

// TestSeedCalendar: Appointments and Series add that many single
// appointments and recurring masters, within a year of Now, the same for
// the same seed, and leave the demo's own data as it was.
func TestSeedCalendar(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	type counts struct{ singles, masters, weekly, monthly, noEnd int }
	seed := func(d Demo) (*Server, crmclient.User, counts) {
		s, err := Open(Options{Dir: t.TempDir(), Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		us, err := s.Seed(d)
		if err != nil {
			t.Fatal(err)
		}
		var c counts
		singles, err := s.st.scanAll(s.schema.byName["appointment"], func(r *row) bool { return r.owner == us[0].ID && r.fields()["seriesid"] == nil })
		if err != nil {
			t.Fatal(err)
		}
		masters, err := s.st.scanAll(s.schema.byName["recurringappointmentmaster"], func(r *row) bool { return r.owner == us[0].ID })
		if err != nil {
			t.Fatal(err)
		}
		c.singles, c.masters = len(singles), len(masters)
		for _, r := range append(singles, masters...) {
			f := r.fields()
			start, _ := f["scheduledstart"].(string)
			if r.entity.name == "recurringappointmentmaster" {
				start, _ = f["starttime"].(string)
				switch f["recurrencepatterntype"] {
				case json.Number("1"):
					c.weekly++
				case json.Number("2"):
					c.monthly++
				}
				if f["patternendtype"] == json.Number("1") {
					c.noEnd++
				}
			}
			at, err := time.Parse(time.RFC3339, start)
			if err != nil || at.Before(now.AddDate(-1, 0, -3)) || at.After(now.AddDate(1, 0, 3)) {
				t.Errorf("%s %s starts at %q (%v)", r.entity.name, r.id, start, err)
			}
		}
		return s, us[0], c
	}
	_, _, base := seed(Demo{Users: 1, Contacts: 3, Now: now, Seed: 7})
	s, u, got := seed(Demo{Users: 1, Contacts: 3, Now: now, Seed: 7, Appointments: 60, Series: 12})
	if got.singles != base.singles+60 || got.masters != base.masters+12 {
		t.Errorf("%+v, want 60 singles and 12 masters more than %+v", got, base)
	}
	if got.weekly-base.weekly == 0 || got.monthly-base.monthly == 0 || got.noEnd-base.noEnd == 0 {
		t.Errorf("series: %+v (demo alone %+v): want weekly, monthly and open-ended ones", got, base)
	}
	// The demo's own data does not change with the extra calendar.
	s0, _, _ := seed(Demo{Users: 1, Contacts: 3, Now: now, Seed: 7})
	a, _ := s0.st.scanAll(s0.schema.byName["contact"], func(*row) bool { return true })
	b, _ := s.st.scanAll(s.schema.byName["contact"], func(*row) bool { return true })
	if len(a) != len(b) || a[0].raw != b[0].raw {
		t.Errorf("the contacts differ with and without the extra calendar")
	}
	// Deterministic.
	s2, _, _ := seed(Demo{Users: 1, Contacts: 3, Now: now, Seed: 7, Appointments: 60, Series: 12})
	for _, e := range []string{"appointment", "recurringappointmentmaster"} {
		x, _ := s.st.scanAll(s.schema.byName[e], func(r *row) bool { return r.owner == u.ID })
		y, _ := s2.st.scanAll(s2.schema.byName[e], func(*row) bool { return true })
		if len(x) != len(y) {
			t.Fatalf("%s: %d and %d rows", e, len(x), len(y))
		}
		for i := range x {
			if x[i].id != y[i].id || x[i].raw != y[i].raw {
				t.Fatalf("%s %d differs:\n%s %s\n%s %s", e, i, x[i].id, x[i].raw, y[i].id, y[i].raw)
			}
		}
	}
}
