package syncstate

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
)

// Objects lists a collection in chunks built by SQLite (stmtObjects). The
// listing must be the same as reading the rows one by one: every item,
// once, in href order, across chunk boundaries, whatever the href holds.
func TestObjectsChunked(t *testing.T) {
	ctx := context.Background()
	st := openWithAlice(t)
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

// Query reads the span index in two parts (short spans by a bounded range
// of starts, the rest whole). It must never miss an item whose span may
// overlap the range: compared with the plain rule over every item, for
// spans around the 7-day boundary, open ends, unknown starts, sub-second
// times, and open ranges.
func TestQueryNeverMisses(t *testing.T) {
	ctx := context.Background()
	st := openWithAlice(t)
	col, err := st.collection(st.db, "alice", "appointments")
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	durations := []time.Duration{0, time.Second, time.Hour, 24 * time.Hour, 7*24*time.Hour - time.Second, 7 * 24 * time.Hour,
		7*24*time.Hour + time.Millisecond, 7*24*time.Hour + time.Second, 8 * 24 * time.Hour, 9 * 24 * time.Hour, 400 * 24 * time.Hour}
	var rows []itemRow
	for i := range 3000 {
		s := base.Add(time.Duration(rnd.Int64N(int64(120*24*time.Hour))) - 60*24*time.Hour).Add(time.Duration(rnd.IntN(1000)) * time.Millisecond)
		e := s.Add(durations[rnd.IntN(len(durations))])
		r := itemRow{CollectionID: col.ID, Href: fmt.Sprintf("e%04d.ics", i), UID: fmt.Sprint("u", i), ETag: `"e"`, Body: []byte("x"), Revision: 1, Start: &s, End: &e}
		switch rnd.IntN(20) {
		case 0:
			r.Start, r.End = nil, nil
		case 1:
			r.End = nil
		}
		rows = append(rows, r)
	}
	if err := st.db.CreateInBatches(rows, 500).Error; err != nil {
		t.Fatal(err)
	}
	mayOverlap := func(r itemRow, lo, hi time.Time) bool {
		if r.Start == nil {
			return true
		}
		return (hi.IsZero() || r.Start.Before(hi)) && (lo.IsZero() || r.End == nil || r.End.After(lo))
	}
	for q := range 300 {
		lo := base.Add(time.Duration(rnd.Int64N(int64(120*24*time.Hour))) - 60*24*time.Hour)
		hi := lo.Add(time.Duration(rnd.Int64N(int64(40 * 24 * time.Hour))))
		switch q % 10 {
		case 0:
			lo = time.Time{}
		case 1:
			hi = time.Time{}
		}
		want := map[string]bool{}
		for _, r := range rows {
			if mayOverlap(r, lo, hi) {
				want[r.Href] = true
			}
		}
		got := map[string]bool{}
		if err := st.Query(ctx, "alice", "appointments", lo, hi, false, func(it Item) error {
			if got[it.Href] {
				t.Errorf("[%v, %v): %s twice", lo, hi, it.Href)
			}
			got[it.Href] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for h := range want {
			if !got[h] {
				t.Fatalf("[%v, %v): missed %s", lo, hi, h)
			}
		}
		// Extra candidates are allowed by the contract, but the index must
		// narrow: nothing that starts after hi.
		for h := range got {
			if !want[h] {
				t.Fatalf("[%v, %v): %s does not overlap", lo, hi, h)
			}
		}
	}
}

// The cached listing of a collection (listing.go) must always equal a
// listing read from the database: after creates, edits and deletes, across
// revisions, after the change log was pruned, and when it holds more
// changes than are worth applying.
func TestListingFollowsChanges(t *testing.T) {
	ctx := context.Background()
	st := openWithAlice(t)
	card := func(uid, title string) []byte {
		return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + uid + "\r\nN:" + uid + ";;;;\r\nTITLE:" + title + "\r\nEND:VCARD\r\n")
	}
	list := func(f func(context.Context, string, string, bool, func(Item) error) error) []string {
		var out []string
		if err := f(ctx, "alice", "contacts", false, func(it Item) error {
			out = append(out, it.Href+" "+it.ETag)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(step string) {
		t.Helper()
		got, want := list(st.Objects), list(st.Items)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: cached listing %q, database %q", step, got, want)
		}
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	live := map[string]bool{}
	for round := range 40 {
		for range rnd.IntN(12) {
			name := fmt.Sprintf("c%02d", rnd.IntN(30))
			if live[name] && rnd.IntN(3) == 0 {
				if err := st.Delete(ctx, "alice", "contacts", name+".vcf", Conditions{}); err != nil {
					t.Fatal(err)
				}
				delete(live, name)
				continue
			}
			if _, _, err := st.Put(ctx, "alice", "contacts", name+".vcf", card(name, fmt.Sprint(round, rnd.Int())), Conditions{}); err != nil {
				t.Fatal(err)
			}
			live[name] = true
		}
		check(fmt.Sprintf("round %d", round))
		if round == 20 {
			// Tombstones pruned: the listing's revision is no longer
			// covered by the log, and it is read again.
			if err := st.PruneChanges(ctx, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	col, err := st.head(ctx, "alice", "contacts")
	if err != nil {
		t.Fatal(err)
	}
	if l := st.listings.get(col.id); l == nil || l.revision != col.revision {
		t.Fatalf("no listing kept at revision %d: %+v", col.revision, l)
	}
}

// The listings stay within their bound: the least recently used go first,
// and a collection larger than the bound is never kept.
func TestListingsBounded(t *testing.T) {
	c := newListings(10)
	entries := func(n int) []listEntry { return make([]listEntry, n) }
	c.put(1, &listing{revision: 1, entries: entries(4)}, false)
	c.put(2, &listing{revision: 1, entries: entries(4)}, false)
	c.get(1)
	c.put(3, &listing{revision: 1, entries: entries(4)}, false) // 12 > 10: 2 goes
	if c.get(2) != nil || c.get(1) == nil || c.get(3) == nil || c.total != 8 {
		t.Fatalf("after eviction: %v, total %d", c.m, c.total)
	}
	c.put(4, &listing{revision: 1, entries: entries(11)}, false)
	if c.get(4) != nil || c.total != 8 {
		t.Fatalf("a listing over the bound was kept (total %d)", c.total)
	}
	c.put(1, &listing{revision: 0, entries: entries(1)}, false)
	if l := c.get(1); l.revision != 1 {
		t.Fatal("an older listing replaced a newer one")
	}
	c.put(1, &listing{revision: 0, entries: entries(1)}, true)
	if l := c.get(1); l.revision != 0 || c.total != 5 {
		t.Fatalf("a listing read whole did not replace: %+v, total %d", l, c.total)
	}
	c.forget(1)
	if c.get(1) != nil || c.total != 4 {
		t.Fatalf("forget: total %d", c.total)
	}
}

func TestApplyChanges(t *testing.T) {
	entries := []listEntry{{"a", `"1"`}, {"c", `"2"`}, {"e", `"3"`}}
	got := applyChanges(entries, []Change{{Href: "e", Deleted: true}, {Href: "b", ETag: `"4"`}, {Href: "c", ETag: `"5"`}, {Href: "f", ETag: `"6"`}, {Href: "z", Deleted: true}})
	want := []listEntry{{"a", `"1"`}, {"b", `"4"`}, {"c", `"5"`}, {"f", `"6"`}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if again := applyChanges(got, []Change{{Href: "b", ETag: `"4"`}, {Href: "e", Deleted: true}}); !slices.Equal(again, want) {
		t.Fatalf("applied twice: %v", again)
	}
	if entries[2].href != "e" {
		t.Fatal("the old listing was changed")
	}
}

// Client writes wait in line (clientWrite): many at once all succeed, and
// one whose request goes away while it waits stops waiting and stores
// nothing.
func TestClientWritesQueue(t *testing.T) {
	ctx := context.Background()
	st := openWithAlice(t)
	card := func(uid string) []byte {
		return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + uid + "\r\nN:" + uid + ";;;;\r\nEND:VCARD\r\n")
	}
	errs := make(chan error, 32)
	for i := range 32 {
		go func() {
			name := fmt.Sprintf("q%02d", i)
			_, _, err := st.Put(ctx, "alice", "contacts", name+".vcf", card(name), Conditions{IfNoneMatch: "*"})
			errs <- err
		}()
	}
	for range 32 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st.writer <- struct{}{} // another write holds the line
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := st.Put(short, "alice", "contacts", "late.vcf", card("late"), Conditions{})
	<-st.writer
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("a write whose request went away: %v after %v", err, time.Since(start))
	}
	if _, err := st.Get(ctx, "alice", "contacts", "late.vcf"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the abandoned write stored something: %v", err)
	}
	n := 0
	st.Items(ctx, "alice", "contacts", false, func(Item) error { n++; return nil })
	if n != 32 {
		t.Fatalf("%d items, want 32", n)
	}
}

// Every connection of the store has the page cache Open sets.
func TestPageCacheSize(t *testing.T) {
	st, err := Open(t.TempDir(), Options{PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sqlDB, err := st.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*sql.Conn, 3)
	for i := range conns {
		if conns[i], err = sqlDB.Conn(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer conns[i].Close()
		var n int
		if err := conns[i].QueryRowContext(context.Background(), "PRAGMA cache_size").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != -pageCacheKiB {
			t.Fatalf("connection %d: cache_size %d, want %d", i, n, -pageCacheKiB)
		}
	}
}

// openWithAlice opens a store in a temporary directory with the user alice.
func openWithAlice(t *testing.T) *Store {
	t.Helper()
	st, err := Open(t.TempDir(), Options{PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.AddUser(context.Background(), "alice", "correct horse battery", crmclient.User{ID: "00000000-0000-0000-0000-00000000000a"}); err != nil {
		t.Fatal(err)
	}
	return st
}

// Listings read while clients write (under -race): every listing is in
// href order without duplicates, and once the writes stop the cached
// listing equals the database.
func TestListingUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	st := openWithAlice(t)
	card := func(uid string, n int) []byte {
		return []byte(fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:%s\r\nN:%s;;;;\r\nNOTE:%d\r\nEND:VCARD\r\n", uid, uid, uid, n))
	}
	stop := make(chan struct{})
	errs := make(chan error, 8)
	var writers, readers sync.WaitGroup
	for w := range 3 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 9))
			for i := range 60 {
				name := fmt.Sprintf("w%02d", rnd.IntN(20))
				var err error
				if rnd.IntN(4) == 0 {
					err = st.Delete(ctx, "alice", "contacts", name+".vcf", Conditions{})
					if errors.Is(err, ErrNotFound) {
						err = nil
					}
				} else {
					_, _, err = st.Put(ctx, "alice", "contacts", name+".vcf", card(name, i), Conditions{})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				prev := ""
				err := st.Objects(ctx, "alice", "contacts", false, func(it Item) error {
					if it.Href <= prev {
						return fmt.Errorf("listing out of order or doubled: %q after %q", it.Href, prev)
					}
					prev = it.Href
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var got, want []string
	st.Objects(ctx, "alice", "contacts", false, func(it Item) error { got = append(got, it.Href+" "+it.ETag); return nil })
	st.Items(ctx, "alice", "contacts", false, func(it Item) error { want = append(want, it.Href+" "+it.ETag); return nil })
	if !slices.Equal(got, want) {
		t.Fatalf("after the writes: cached listing %q, database %q", got, want)
	}
}

// GetMany answers in the order of the hrefs asked for, an href named twice
// twice, one that does not exist not at all, whatever order SQLite reads
// the rows in.
func TestGetManyOrder(t *testing.T) {
	ctx := context.Background()
	st := openWithAlice(t)
	for i := range 30 {
		name := fmt.Sprintf("c%02d", i)
		if _, _, err := st.Put(ctx, "alice", "contacts", name+".vcf", hotCard(name, "x"), Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	rnd := rand.New(rand.NewPCG(7, 8))
	for range 20 {
		var hrefs, want []string
		for range 1 + rnd.IntN(60) {
			n := rnd.IntN(40) // 30..39 do not exist
			h := fmt.Sprintf("c%02d.vcf", n)
			hrefs = append(hrefs, h)
			if n < 30 {
				want = append(want, h)
			}
		}
		var got []string
		if err := st.GetMany(ctx, "alice", "contacts", hrefs, func(it Item) error {
			if !bytes.Contains(it.Body, []byte("UID:"+strings.TrimSuffix(it.Href, ".vcf"))) || it.ETag != etagOf(it.Body) {
				t.Fatalf("%s: body or ETag of another item", it.Href)
			}
			got = append(got, it.Href)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("GetMany(%q) = %q, want %q", hrefs, got, want)
		}
	}
}

// GetMany with the body cache answers what the database holds, through
// random edits and deletions, whether the listing is current or not; and a
// multiget of bodies read before reads no row.
func TestGetManyFromCache(t *testing.T) {
	ctx := context.Background()
	st := openWithAlice(t)
	rnd := rand.New(rand.NewPCG(9, 10))
	live := map[string]bool{}
	fromDB := func(hrefs []string) []string {
		col, err := st.collection(st.db, "alice", "contacts")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		if err := st.getMany(ctx, col.ID, hrefs, func(it Item) error {
			out = append(out, it.Href+" "+it.ETag+" "+string(it.Body))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for round := range 60 {
		for range rnd.IntN(6) {
			name := fmt.Sprintf("c%02d", rnd.IntN(25))
			if live[name] && rnd.IntN(3) == 0 {
				if err := st.Delete(ctx, "alice", "contacts", name+".vcf", Conditions{}); err != nil {
					t.Fatal(err)
				}
				delete(live, name)
				continue
			}
			if _, _, err := st.Put(ctx, "alice", "contacts", name+".vcf", hotCard(name, fmt.Sprint(round, rnd.IntN(3))), Conditions{}); err != nil {
				t.Fatal(err)
			}
			live[name] = true
		}
		if rnd.IntN(2) == 0 { // the listing brought up to date (PROPFIND)
			if err := st.Objects(ctx, "alice", "contacts", false, func(Item) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
		var hrefs []string
		for range 1 + rnd.IntN(40) {
			hrefs = append(hrefs, fmt.Sprintf("c%02d.vcf", rnd.IntN(30)))
		}
		var got []string
		if err := st.GetMany(ctx, "alice", "contacts", hrefs, func(it Item) error {
			got = append(got, it.Href+" "+it.ETag+" "+string(it.Body))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if want := fromDB(hrefs); !slices.Equal(got, want) {
			t.Fatalf("round %d: GetMany(%q)\n= %q\nwant %q", round, hrefs, got, want)
		}
	}
	// Everything read once and the listing current: a second multiget
	// needs no statement (closed here: reading a row would fail).
	var all []string
	for n := range live {
		all = append(all, n+".vcf")
	}
	if err := st.Objects(ctx, "alice", "contacts", false, func(Item) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := st.GetMany(ctx, "alice", "contacts", all, func(Item) error { return nil }); err != nil {
		t.Fatal(err)
	}
	st.stmtGetMany.Close()
	n := 0
	if err := st.GetMany(ctx, "alice", "contacts", all, func(Item) error { n++; return nil }); err != nil || n != len(all) {
		t.Fatalf("cached multiget: %d of %d, %v", n, len(all), err)
	}
}

// The body cache gives back exactly the body put for an ETag, or
// nothing: through random sizes and many wraps of its ring, the newest
// bodies kept, the oldest dropped; never one of more than an eighth of it.
func TestBodyCacheRing(t *testing.T) {
	c := newBodyCache(64 << 10)
	defer c.close()
	if len(c.ring) == 0 {
		t.Fatal("no ring mapped")
	}
	rnd := rand.New(rand.NewPCG(11, 12))
	bodies := map[string][]byte{}
	var recent []string
	for i := range 5000 {
		etag := fmt.Sprintf(`"e%d"`, i)
		body := make([]byte, 1+rnd.IntN(3000))
		for k := range body {
			body[k] = byte(rnd.IntN(256))
		}
		bodies[etag] = body
		c.put(etag, body)
		recent = append(recent, etag)
		if len(recent) > 5 {
			recent = recent[1:]
		}
		for _, e := range recent { // the last few always fit
			if b, ok := c.get(e); !ok || !bytes.Equal(b, bodies[e]) {
				t.Fatalf("after put %d: %s missing or changed (%v)", i, e, ok)
			}
		}
		if i%50 == 0 {
			for e, want := range bodies {
				if b, ok := c.get(e); ok && !bytes.Equal(b, want) {
					t.Fatalf("after put %d: %s holds another body", i, e)
				}
			}
		}
	}
	kept := 0
	for _, r := range c.m {
		kept += r.n
	}
	if kept > len(c.ring) || len(c.m) != len(c.order)-c.first {
		t.Errorf("%d bytes kept in a ring of %d; %d entries, %d in order", kept, len(c.ring), len(c.m), len(c.order)-c.first)
	}
	c.put(`"big"`, make([]byte, len(c.ring)/4))
	if _, ok := c.get(`"big"`); ok {
		t.Error("a body over an eighth of the ring was kept")
	}
	b, _ := c.get(recent[len(recent)-1])
	b[0]++ // a copy: the cache is not changed through it
	if b2, _ := c.get(recent[len(recent)-1]); !bytes.Equal(b2, bodies[recent[len(recent)-1]]) {
		t.Error("a body handed out shares the ring's bytes")
	}
	off := newBodyCache(0)
	off.put(`"x"`, []byte("x"))
	if _, ok := off.get(`"x"`); ok {
		t.Error("a cache of 0 bytes kept a body")
	}
}
