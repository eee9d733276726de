package syncstate_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/crmdav/crmdav/syncstate"
)

// TestChangeLog is a checklist for sync tokens in the manner of Radicale's:
// every change advances the revision exactly once; Changes lists each href
// once with its latest state; an unknown or pruned revision is refused.
func TestChangeLog(t *testing.T) {
	f := setUp(t)
	c := ctx(t)
	changes := func(since int64) ([]syncstate.Change, int64) {
		t.Helper()
		cs, rev, err := f.st.Changes(c, "alice", "contacts", since)
		if err != nil {
			t.Fatalf("changes since %d: %v", since, err)
		}
		return cs, rev
	}
	_, r0 := changes(0)
	if r0 != 0 {
		t.Fatalf("new collection at revision %d", r0)
	}
	put := func(name, title string, cond syncstate.Conditions) string {
		t.Helper()
		etag, _, err := f.st.Put(c, "alice", "contacts", name, card("UID:"+name, "FN:"+name, "N:"+name+";;;;", "TITLE:"+title), cond)
		if err != nil {
			t.Fatal(err)
		}
		return etag
	}
	ea := put("a", "1", syncstate.Conditions{})
	put("b", "1", syncstate.Conditions{})
	cs, r2 := changes(0)
	if r2 != 2 || len(cs) != 2 {
		t.Fatalf("after two PUTs: revision %d, %v", r2, cs)
	}
	ea2 := put("a", "2", syncstate.Conditions{IfMatch: ea})
	if err := f.st.Delete(c, "alice", "contacts", "b", syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	cs, r4 := changes(r2)
	// Each member comes with its current ETag (what a report of getetag
	// answers without reading the item); a deleted one with none.
	if r4 != 4 || fmt.Sprint(cs) != fmt.Sprint([]syncstate.Change{{Href: "a", Revision: 3, ETag: ea2}, {Href: "b", Revision: 4, Deleted: true}}) {
		t.Errorf("since %d: revision %d, %+v", r2, r4, cs)
	}
	if cs, r := changes(r4); len(cs) != 0 || r != r4 {
		t.Errorf("nothing new: %v at %d", cs, r)
	}
	// A failed precondition changes nothing.
	if _, _, err := f.st.Put(c, "alice", "contacts", "a", card("UID:a", "FN:a", "N:a;;;;"), syncstate.Conditions{IfMatch: ea}); !errors.Is(err, syncstate.ErrPrecondition) {
		t.Fatal(err)
	}
	if _, r := changes(0); r != r4 {
		t.Errorf("a refused PUT moved the revision to %d", r)
	}
	// A display property advances the revision but lists no member.
	name := "Kunden"
	if err := f.st.SetProps(c, "alice", "contacts", syncstate.Props{DisplayName: &name}); err != nil {
		t.Fatal(err)
	}
	col, _ := f.st.Collection(c, "alice", "contacts")
	if col.Revision != r4+1 || col.DisplayName != "Kunden" {
		t.Errorf("after PROPPATCH: %+v", col)
	}
	if cs, _ := changes(r4); len(cs) != 0 {
		t.Errorf("PROPPATCH listed members: %v", cs)
	}
	if _, _, err := f.st.Changes(c, "alice", "contacts", 999); !errors.Is(err, syncstate.ErrPrecondition) {
		t.Errorf("future revision: %v", err)
	}
	// Pruning: superseded entries go without harm; old tombstones make
	// older tokens too old.
	if err := f.st.PruneChanges(c, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.Changes(c, "alice", "contacts", r2); !errors.Is(err, syncstate.ErrPrecondition) {
		t.Errorf("token from before a pruned tombstone: %v", err)
	}
	if cs, _ := changes(r4); len(cs) != 0 {
		t.Errorf("a token after the pruned tombstone: %v", cs)
	}
	cs, _ = changes(0)
	if len(cs) != 1 || cs[0].Href != "a" || cs[0].Deleted {
		t.Errorf("initial listing after pruning: %+v", cs)
	}
}
