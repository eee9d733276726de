package syncstate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
)

// changesFromDatabase is Changes read from the database only: the
// reference the hot state must equal.
func (s *Store) changesFromDatabase(t *testing.T, owner, slug string, since int64) (changes []Change, rev int64, pruned bool) {
	t.Helper()
	var col collectionRow
	if err := s.db.Where("owner = ? AND slug = ?", owner, slug).Take(&col).Error; err != nil {
		t.Fatal(err)
	}
	if since < col.Pruned {
		return nil, col.Revision, true
	}
	out, err := s.changesAfter(context.Background(), col.ID, since)
	if err != nil {
		t.Fatal(err)
	}
	return out, col.Revision, false
}

func hotCard(uid, title string) []byte {
	return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + uid + "\r\nN:" + uid + ";;;;\r\nTITLE:" + title + "\r\nEND:VCARD\r\n")
}

// Changes answered from memory equal the database's answer for every
// token, through client writes, writes of the sync (bump in a transaction
// of its own, as poll and push do), a rolled-back write, display
// properties and pruning. It fails if a writer's revision were not noted
// (the cache would answer an old state) or a tail were extended wrongly.
func TestHotChangesEqualDatabase(t *testing.T) {
	ctx := context.Background()
	st := openWithAlice(t)
	rnd := rand.New(rand.NewPCG(5, 6))
	live := map[string]bool{}
	check := func(step string) {
		t.Helper()
		_, rev, _ := st.changesFromDatabase(t, "alice", "contacts", 0)
		c, err := st.Collection(ctx, "alice", "contacts")
		if err != nil {
			t.Fatal(err)
		}
		if c.Revision != rev {
			t.Fatalf("%s: revision %d from memory, %d in the database", step, c.Revision, rev)
		}
		for since := int64(1); since <= rev; since++ {
			want, _, pruned := st.changesFromDatabase(t, "alice", "contacts", since)
			got, gotRev, err := st.Changes(ctx, "alice", "contacts", since)
			if pruned {
				if !errors.Is(err, ErrPrecondition) {
					t.Fatalf("%s: since %d is pruned, got %v", step, since, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: since %d: %v", step, since, err)
			}
			if gotRev != rev || !slices.Equal(got, want) {
				t.Fatalf("%s: since %d: %+v at %d, database %+v at %d", step, since, got, gotRev, want, rev)
			}
		}
	}
	// syncWrite changes an item as the sync does: its own transaction,
	// bump, the item rewritten.
	syncWrite := func(name string, rollback bool) {
		var col collectionRow
		if err := st.db.Where("owner = ? AND slug = ?", "alice", "contacts").Take(&col).Error; err != nil {
			t.Fatal(err)
		}
		errRollback := errors.New("rolled back")
		err := st.db.Transaction(func(tx *gorm.DB) error {
			rev, err := st.bump(tx, col.ID, name+".vcf", false)
			if err != nil {
				return err
			}
			body := hotCard(name, fmt.Sprint("from the CRM ", rev))
			if err := tx.Model(&itemRow{}).Where("collection_id = ? AND href = ?", col.ID, name+".vcf").
				Updates(map[string]any{"etag": etagOf(body), "body": body, "revision": rev}).Error; err != nil {
				return err
			}
			if rollback {
				return errRollback
			}
			return nil
		})
		if err != nil && !(rollback && errors.Is(err, errRollback)) {
			t.Fatal(err)
		}
	}
	for round := range 30 {
		for range rnd.IntN(8) {
			name := fmt.Sprintf("c%02d", rnd.IntN(20))
			switch {
			case live[name] && rnd.IntN(4) == 0:
				if err := st.Delete(ctx, "alice", "contacts", name+".vcf", Conditions{}); err != nil {
					t.Fatal(err)
				}
				delete(live, name)
			case live[name] && rnd.IntN(3) == 0:
				syncWrite(name, rnd.IntN(4) == 0)
			default:
				if _, _, err := st.Put(ctx, "alice", "contacts", name+".vcf", hotCard(name, fmt.Sprint(round, rnd.Int())), Conditions{}); err != nil {
					t.Fatal(err)
				}
				live[name] = true
			}
			if rnd.IntN(10) == 0 {
				title := fmt.Sprint("Book ", round)
				if err := st.SetProps(ctx, "alice", "contacts", Props{DisplayName: &title}); err != nil {
					t.Fatal(err)
				}
				if c, _ := st.Collection(ctx, "alice", "contacts"); c.DisplayName != title {
					t.Fatalf("display name %q after PROPPATCH, want %q", c.DisplayName, title)
				}
			}
		}
		check(fmt.Sprintf("round %d", round))
		if round == 15 {
			if err := st.PruneChanges(ctx, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			check("after pruning")
		}
	}
	if e := st.hot.current("alice", "contacts"); e == nil || len(e.tail) == 0 {
		t.Fatalf("no current entry with changes kept: %+v", e)
	}
}

// A write in flight is not answered from memory before it commits, and is
// answered after it commits even though nobody refreshed the entry: the
// revision it noted keeps the old entry from being used.
func TestHotWriteInFlight(t *testing.T) {
	ctx := context.Background()
	st := openWithAlice(t)
	if _, _, err := st.Put(ctx, "alice", "contacts", "a.vcf", hotCard("a", "1"), Conditions{}); err != nil {
		t.Fatal(err)
	}
	before, rev0, err := st.Changes(ctx, "alice", "contacts", 0)
	if err != nil || len(before) != 1 {
		t.Fatalf("%v %v", before, err)
	}
	var col collectionRow
	if err := st.db.Where("owner = ? AND slug = ?", "alice", "contacts").Take(&col).Error; err != nil {
		t.Fatal(err)
	}
	bumped, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := st.db.Transaction(func(tx *gorm.DB) error {
			if _, err := st.bump(tx, col.ID, "b.vcf", true); err != nil {
				return err
			}
			close(bumped)
			<-release
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}()
	<-bumped
	if c, err := st.Collection(ctx, "alice", "contacts"); err != nil || c.Revision != rev0 {
		t.Fatalf("while the write is in flight: revision %d, %v; want %d", c.Revision, err, rev0)
	}
	close(release)
	wg.Wait()
	got, rev, err := st.Changes(ctx, "alice", "contacts", rev0)
	if err != nil || rev != rev0+1 || len(got) != 1 || got[0].Href != "b.vcf" || !got[0].Deleted {
		t.Fatalf("after the commit: %+v at %d, %v; want b.vcf deleted at %d", got, rev, err, rev0+1)
	}
}

// Another Store on the same directory stands for another process (crmdav
// user ... beside crmdav serve): its changes of users reach this Store's
// cached credential stamps and collections within markerEvery, through
// the marker.
func TestUsersMarkerReachesOtherStores(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	serving, err := Open(dir, Options{PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer serving.Close()
	admin, err := Open(dir, Options{PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.AddUser(ctx, "bob", "password-1", crmclient.User{ID: "00000000-0000-0000-0000-00000000000b"}); err != nil {
		t.Fatal(err)
	}
	stamp1, err := serving.CredentialStamp(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	c1, err := serving.Collection(ctx, "bob", "contacts")
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.SetPassword(ctx, "bob", "password-2"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(markerEvery)
	if stamp2, err := serving.CredentialStamp(ctx, "bob"); err != nil || stamp2 == stamp1 {
		t.Fatalf("stamp after a password change elsewhere: unchanged=%v, %v", stamp2 == stamp1, err)
	}
	if err := admin.RemoveUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(markerEvery)
	if _, err := serving.CredentialStamp(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("stamp of a user removed elsewhere: %v", err)
	}
	if _, err := serving.Collection(ctx, "bob", "contacts"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("collection of a user removed elsewhere: %v", err)
	}
	if _, err := admin.AddUser(ctx, "bob", "password-3", crmclient.User{ID: "00000000-0000-0000-0000-00000000000b"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(markerEvery)
	if c2, err := serving.Collection(ctx, "bob", "contacts"); err != nil || c2.ID == c1.ID {
		t.Fatalf("collection of a user added again elsewhere: id %d (was %d), %v", c2.ID, c1.ID, err)
	}
}

// The entries stay within their bounds: tails are cut to maxTail, the
// changes of all entries to maxTotal, the entries to maxCols.
func TestHotBounded(t *testing.T) {
	h := newHotCollections()
	h.maxCols, h.maxTail, h.maxTotal = 3, 4, 6
	entry := func(id int64, owner string, rev int64, n int) *hotCol {
		e := &hotCol{c: Collection{ID: id, Owner: owner, Slug: "s", Revision: rev}, tailFrom: rev - int64(n)}
		for i := range n {
			e.tail = append(e.tail, Change{Href: fmt.Sprint(i), Revision: rev - int64(n) + 1 + int64(i)})
		}
		return e
	}
	h.install(entry(1, "a", 10, 6), 0)
	if e := h.current("a", "s"); len(e.tail) != 4 || e.tailFrom != 6 {
		t.Fatalf("tail not cut: %d entries from %d", len(e.tail), e.tailFrom)
	}
	if got, ok := h.current("a", "s").changes(5); ok || got != nil {
		t.Fatal("a token older than the tail answered from memory")
	}
	h.install(entry(2, "b", 10, 3), 0) // 7 > 6: a's tail goes, a stays
	if e := h.current("a", "s"); e == nil || len(e.tail) != 0 || h.total != 3 {
		t.Fatalf("after the total bound: %+v, total %d", e, h.total)
	}
	h.install(entry(3, "c", 10, 0), 0)
	h.current("a", "s")
	h.install(entry(4, "d", 10, 0), 0) // 4 > 3 collections: b (least recently used) goes
	if h.current("b", "s") != nil || h.current("a", "s") == nil || len(h.byKey) != 3 {
		t.Fatalf("after the collection bound: %v", h.byKey)
	}
	h.install(entry(1, "a", 9, 0), 0)
	if h.current("a", "s").c.Revision != 10 {
		t.Fatal("an older entry replaced a newer one")
	}
	h.forget(1)
	h.install(entry(1, "a", 11, 0), 0) // read before the forget: not kept
	if h.current("a", "s") != nil {
		t.Fatal("an entry read before forget was kept")
	}
}

// Readers and writers at once (run with -race): a reader never sees the
// revision go back nor a change at or before its token, and once the
// writers stop the memory answers as the database does.
func TestHotConcurrent(t *testing.T) {
	ctx := context.Background()
	st := openWithAlice(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				name := fmt.Sprintf("w%d-%02d.vcf", w, i%10)
				if _, _, err := st.Put(ctx, "alice", "contacts", name, hotCard(fmt.Sprintf("w%d-%02d", w, i%10), fmt.Sprint(i)), Conditions{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			var last int64
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				c, err := st.Collection(ctx, "alice", "contacts")
				if err != nil {
					errs <- err
					return
				}
				if c.Revision < last {
					errs <- fmt.Errorf("revision went back from %d to %d", last, c.Revision)
					return
				}
				last = c.Revision
				if last == 0 {
					continue
				}
				since := max(last-5, 1)
				got, rev, err := st.Changes(ctx, "alice", "contacts", since)
				if err != nil {
					errs <- err
					return
				}
				if rev < last {
					errs <- fmt.Errorf("changes at %d after the collection said %d", rev, last)
					return
				}
				// A change after rev may be told early (it is told
				// again from rev); none at or before the token.
				for _, ch := range got {
					if ch.Revision <= since {
						errs <- fmt.Errorf("change %+v at or before the token %d", ch, since)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	want, rev, _ := st.changesFromDatabase(t, "alice", "contacts", 1)
	got, gotRev, err := st.Changes(ctx, "alice", "contacts", 1)
	if err != nil || gotRev != rev || !slices.Equal(got, want) {
		t.Fatalf("after the writers: %d changes at %d (%v), database %d at %d", len(got), gotRev, err, len(want), rev)
	}
}
