package syncstate

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/crmdav/crmdav/crmclient"
)

// Objects lists a collection in chunks built by SQLite (stmtObjects). The
// listing must be the same as reading the rows one by one: every item,
// once, in href order, across chunk boundaries, whatever the href holds.
func TestObjectsChunked(t *testing.T) {
	ctx := context.Background()
	st, err := Open(t.TempDir(), Options{PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.AddUser(ctx, "alice", "correct horse battery", crmclient.User{ID: "00000000-0000-0000-0000-00000000000a"}); err != nil {
		t.Fatal(err)
	}
	col, err := st.collection(st.db, "alice", "contacts")
	if err != nil {
		t.Fatal(err)
	}
	// Odd names first: spaces, a newline, digits that look like a length,
	// multi-byte characters, an empty-looking ETag neighbour.
	names := []string{"a b c.vcf", "line\nbreak.vcf", "12 34.vcf", "é café ☕.vcf", "z", " lead", "tab\there", "quote\"d"}
	for i := range 2*objectsChunk + 17 - len(names) {
		names = append(names, fmt.Sprintf("item-%05d.vcf", i))
	}
	rows := make([]itemRow, len(names))
	for i, n := range names {
		rows[i] = itemRow{CollectionID: col.ID, Href: n, UID: fmt.Sprint("uid-", i), ETag: fmt.Sprintf(`"e%d"`, i), Body: []byte("x"), Revision: 1}
	}
	if err := st.db.CreateInBatches(rows, 500).Error; err != nil {
		t.Fatal(err)
	}
	var want []string
	if err := st.Items(ctx, "alice", "contacts", false, func(it Item) error {
		want = append(want, it.Href+"|"+it.ETag)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := st.Objects(ctx, "alice", "contacts", false, func(it Item) error {
		got = append(got, it.Href+"|"+it.ETag)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(names) {
		t.Fatalf("Items listed %d, want %d", len(want), len(names))
	}
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("Objects differs from Items at %d: %q, want %q (got %d, want %d)", i, got[i], want[i], len(got), len(want))
			}
		}
		t.Fatalf("Objects listed %d, want %d", len(got), len(want))
	}
	// A callback's error stops the listing and is returned.
	stop := fmt.Errorf("stop")
	n := 0
	if err := st.Objects(ctx, "alice", "contacts", false, func(Item) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Objects after a callback error: %v after %d items", err, n)
	}
}

func TestSplitObjectNames(t *testing.T) {
	got, err := splitObjectNames(nil, "\"b\"z.vcf/\"a\"a b.vcf/\"c\"m")
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{{Href: "a b.vcf", ETag: `"a"`}, {Href: "m", ETag: `"c"`}, {Href: "z.vcf", ETag: `"b"`}}
	if !slices.EqualFunc(got, want, func(a, b Item) bool { return a.Href == b.Href && a.ETag == b.ETag }) {
		t.Errorf("unsorted chunk: %+v, want %+v", got, want)
	}
	for _, chunk := range []string{"x.vcf", "\"e\"", "\"e\"a/\"e", "\"e\"a//\"e\"b", "\"e\"a/"} {
		if _, err := splitObjectNames(nil, chunk); err == nil {
			t.Errorf("%q: no error", chunk)
		}
	}
}
