package syncstate

import (
	"sort"
	"time"

	"github.com/crmdav/crmdav/crmclient"
)

// Merged is the outcome of a three-way column merge.
type Merged struct {
	// Columns is the merged record: what both sides hold once the changes
	// below are applied; it becomes the new snapshot.
	Columns crmclient.Columns
	// ToCRM are the columns the CRM must be sent (the client's side won).
	ToCRM crmclient.Columns
	// ToClient are the columns the client's copy must take (the CRM's side
	// won, or only the CRM changed them).
	ToClient crmclient.Columns
}

// Merge is the per-column three-way merge of the method (DESIGN.md, Poll):
// base is the snapshot of the last synchronized columns, ours the client's
// columns with the time the gateway accepted each client change (oursAt,
// by column), theirs the CRM's columns changed at theirsAt (the record's
// modifiedon). For each column:
//
//   - changed on one side only: that side's value;
//   - changed on both to different values: the later change, compared at
//     the CRM's precision (Dataverse's modifiedon has whole seconds); a tie
//     goes to the CRM, the system of record;
//   - changed on both to the same value, or on neither: kept.
//
// A column absent from a map is taken as equal to base there: callers pass
// only the columns they know. Merge is pure.
func Merge(base, ours crmclient.Columns, oursAt map[string]time.Time, theirs crmclient.Columns, theirsAt time.Time) Merged {
	m := Merged{Columns: crmclient.Columns{}, ToCRM: crmclient.Columns{}, ToClient: crmclient.Columns{}}
	for _, c := range columnNames(base, ours, theirs) {
		b := base[c]
		o, hasO := ours[c]
		t, hasT := theirs[c]
		if !hasO {
			o = b
		}
		if !hasT {
			t = b
		}
		oursChanged, theirsChanged := o != b, t != b
		switch {
		case oursChanged && theirsChanged && o != t:
			if oursAt[c].Truncate(time.Second).After(theirsAt.Truncate(time.Second)) {
				m.Columns[c], m.ToCRM[c] = o, o
			} else {
				m.Columns[c], m.ToClient[c] = t, t
			}
		case oursChanged && !theirsChanged:
			m.Columns[c], m.ToCRM[c] = o, o
		case theirsChanged && !oursChanged:
			m.Columns[c], m.ToClient[c] = t, t
		default: // unchanged, or both made the same change
			m.Columns[c] = t
		}
	}
	return m
}

func columnNames(maps ...crmclient.Columns) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Diff returns the columns of next that differ from prev (a column missing
// from prev counts as null).
func Diff(prev, next crmclient.Columns) crmclient.Columns {
	out := crmclient.Columns{}
	for k, v := range next {
		if prev[k] != v {
			out[k] = v
		}
	}
	return out
}
