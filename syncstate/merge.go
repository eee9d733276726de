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
// only the columns they know.
//
// groups are sets of columns that only make sense together (an
// appointment's start, end and all-day flag; a recurrence pattern): when
// both sides changed columns of one group, the later side takes the whole
// group, so that no mix of the two (an end before its start) comes out.
// Merge is pure.
func Merge(base, ours crmclient.Columns, oursAt map[string]time.Time, theirs crmclient.Columns, theirsAt time.Time, groups ...[]string) Merged {
	m := merge(base, ours, oursAt, theirs, theirsAt)
	for _, g := range groups {
		var clientChanged, crmChanged bool
		var latest time.Time
		for _, c := range g {
			b := base[c]
			if o, ok := ours[c]; ok && o != b {
				clientChanged = true
				if oursAt[c].After(latest) {
					latest = oursAt[c]
				}
			}
			if t, ok := theirs[c]; ok && t != b {
				crmChanged = true
			}
		}
		if !clientChanged || !crmChanged {
			continue
		}
		clientWins := latest.Truncate(time.Second).After(theirsAt.Truncate(time.Second))
		for _, c := range g {
			o, hasO := ours[c]
			if !hasO {
				o = base[c]
			}
			t, hasT := theirs[c]
			if !hasT {
				t = base[c]
			}
			if !hasO && !hasT {
				continue
			}
			delete(m.ToCRM, c)
			delete(m.ToClient, c)
			if clientWins {
				m.Columns[c] = o
				if o != t {
					m.ToCRM[c] = o
				}
			} else {
				m.Columns[c] = t
				if o != t {
					m.ToClient[c] = t
				}
			}
		}
	}
	return m
}

func merge(base, ours crmclient.Columns, oursAt map[string]time.Time, theirs crmclient.Columns, theirsAt time.Time) Merged {
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
// from either counts as null there: one that prev has and next lacks is
// "" in the answer unless prev's value was null too).
func Diff(prev, next crmclient.Columns) crmclient.Columns {
	out := crmclient.Columns{}
	for k, v := range next {
		if prev[k] != v {
			out[k] = v
		}
	}
	for k, v := range prev {
		if _, ok := next[k]; !ok && v != "" {
			out[k] = ""
		}
	}
	return out
}
