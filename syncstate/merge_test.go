package syncstate

import (
	"fmt"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
)

// TestMergeMatrix covers every case of one column: unchanged, changed by
// the client only, by the CRM only, by both (to the same value, or to
// different values with either later, or at the same instant).
func TestMergeMatrix(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	earlier, later := t0.Add(-time.Minute), t0.Add(time.Minute)
	cases := []struct {
		name                  string
		base, ours, theirs    string
		oursAt                time.Time
		want, toCRM, toClient string // "-" = not in that map
	}{
		{"unchanged", "a", "a", "a", t0, "a", "-", "-"},
		{"client only", "a", "b", "a", t0, "b", "b", "-"},
		{"crm only", "a", "a", "c", t0, "c", "-", "c"},
		{"both, client later", "a", "b", "c", later, "b", "b", "-"},
		{"both, crm later", "a", "b", "c", earlier, "c", "-", "c"},
		{"both, same instant: crm wins", "a", "b", "c", t0, "c", "-", "c"},
		{"both, same value", "a", "b", "b", later, "b", "-", "-"},
		{"client clears", "a", "", "a", t0, "", "", "-"},
		{"crm clears", "a", "a", "", t0, "", "-", ""},
		{"client sets a null column", "", "x", "", t0, "x", "x", "-"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := Merge(crmclient.Columns{"col": c.base}, crmclient.Columns{"col": c.ours},
				map[string]time.Time{"col": c.oursAt}, crmclient.Columns{"col": c.theirs}, t0)
			if got := m.Columns["col"]; got != c.want {
				t.Errorf("merged %q, want %q", got, c.want)
			}
			check := func(name string, mm crmclient.Columns, want string) {
				v, ok := mm["col"]
				if want == "-" && ok {
					t.Errorf("%s has %q, want nothing", name, v)
				}
				if want != "-" && (!ok || v != want) {
					t.Errorf("%s = %q (%v), want %q", name, v, ok, want)
				}
			}
			check("ToCRM", m.ToCRM, c.toCRM)
			check("ToClient", m.ToClient, c.toClient)
		})
	}
}

// TestMergeWorkedExample is the method's worked example: the client edits
// A, B and C; later the CRM edits A and B. A and B come from the CRM, C from
// the client, and both sides end equal.
func TestMergeWorkedExample(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	base := crmclient.Columns{"jobtitle": "A0", "telephone1": "B0", "emailaddress1": "C0", "lastname": "Same"}
	ours := crmclient.Columns{"jobtitle": "A1", "telephone1": "B1", "emailaddress1": "C1", "lastname": "Same"}
	oursAt := map[string]time.Time{"jobtitle": t0, "telephone1": t0, "emailaddress1": t0}
	theirs := crmclient.Columns{"jobtitle": "A2", "telephone1": "B2", "emailaddress1": "C0", "lastname": "Same"}
	m := Merge(base, ours, oursAt, theirs, t0.Add(time.Second))
	want := crmclient.Columns{"jobtitle": "A2", "telephone1": "B2", "emailaddress1": "C1", "lastname": "Same"}
	if fmt.Sprint(m.Columns) != fmt.Sprint(want) {
		t.Errorf("merged %v, want %v", m.Columns, want)
	}
	if fmt.Sprint(m.ToCRM) != fmt.Sprint(crmclient.Columns{"emailaddress1": "C1"}) {
		t.Errorf("to the CRM %v, want only C", m.ToCRM)
	}
	if fmt.Sprint(m.ToClient) != fmt.Sprint(crmclient.Columns{"jobtitle": "A2", "telephone1": "B2"}) {
		t.Errorf("to the client %v, want A and B", m.ToClient)
	}
	// Applying each side's changes makes both sides equal the merge.
	crm, client := theirs.Clone(), ours.Clone()
	for k, v := range m.ToCRM {
		crm[k] = v
	}
	for k, v := range m.ToClient {
		client[k] = v
	}
	if fmt.Sprint(crm) != fmt.Sprint(m.Columns) || fmt.Sprint(client) != fmt.Sprint(m.Columns) {
		t.Errorf("sides differ after the merge: crm %v client %v", crm, client)
	}
}

func BenchmarkMerge(b *testing.B) {
	base, ours, theirs := crmclient.Columns{}, crmclient.Columns{}, crmclient.Columns{}
	at := map[string]time.Time{}
	t0 := time.Now()
	for i := range 40 {
		c := fmt.Sprintf("column%02d", i)
		base[c], ours[c], theirs[c] = "v", "v", "v"
		switch i % 4 {
		case 1:
			ours[c], at[c] = "client", t0
		case 2:
			theirs[c] = "crm"
		case 3:
			ours[c], theirs[c], at[c] = "client", "crm", t0.Add(time.Second)
		}
	}
	for b.Loop() {
		Merge(base, ours, at, theirs, t0)
	}
}

// TestMergeGroups: columns of a group changed on both sides go, all of
// them, to the later side.
func TestMergeGroups(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	base := crmclient.Columns{"start": "09", "end": "10", "subject": "S"}
	ours := crmclient.Columns{"start": "14", "end": "15", "subject": "S"}
	theirs := crmclient.Columns{"start": "09", "end": "10:30", "subject": "T"}
	group := []string{"start", "end"}
	crmLater := Merge(base, ours, map[string]time.Time{"start": t0, "end": t0}, theirs, t0.Add(time.Minute), group)
	if crmLater.Columns["start"] != "09" || crmLater.Columns["end"] != "10:30" || crmLater.Columns["subject"] != "T" || len(crmLater.ToCRM) != 0 {
		t.Errorf("CRM later: %+v", crmLater)
	}
	clientLater := Merge(base, ours, map[string]time.Time{"start": t0, "end": t0}, theirs, t0.Add(-time.Minute), group)
	if clientLater.Columns["start"] != "14" || clientLater.Columns["end"] != "15" || clientLater.ToCRM["end"] != "15" || clientLater.ToCRM["start"] != "14" || clientLater.Columns["subject"] != "T" {
		t.Errorf("client later: %+v", clientLater)
	}
	// Without the group, per column: start from the client, end from the CRM.
	mixed := Merge(base, ours, map[string]time.Time{"start": t0, "end": t0}, theirs, t0.Add(time.Minute))
	if mixed.Columns["start"] != "14" || mixed.Columns["end"] != "10:30" {
		t.Errorf("per column: %+v", mixed)
	}
}
