package syncstate

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/crmdav/crmdav/crmclient"
)

// hotCollections keeps in memory what every read of a collection needs
// first: its head (id, kind, revision, display properties, pruned
// revision) and its latest changes. A sync-collection report right after a
// few writes is then answered without SQLite, whose connections drop their
// page caches whenever another connection commits (davbench: 0.11 ms for
// the report with no write before it, 0.25 ms right after 10 PUTs).
//
// Correctness does not depend on anyone remembering to update it: every
// revision a write assigns (bump, SetProps) is noted as pending before its
// transaction commits, and an entry whose revision is below its
// collection's pending revision is not used: the next read takes the head
// and the changes since the entry from the database again. Entries only
// ever come from reads of committed states and only move forward. The
// writers of client requests (Put, Delete, SetProps) refresh the entry
// after they commit, so that the client's next request finds it current.
//
// Other processes change only users (crmdav user ...); they announce it
// through the users marker (marker.go), on which the whole cache is
// dropped. Items and collections are written by the one serving process
// (crmdav serve holds serve.lock).
type hotCollections struct {
	mu      sync.Mutex
	byKey   map[colKey]*hotCol
	pending map[int64]int64 // collection id → highest revision a write assigned and no entry holds yet
	clock   uint64
	gen     uint64 // advanced by forget and clear: a refresh begun before installs nothing
	total   int    // tail entries over all entries
	// Bounds: collections kept, changes kept per collection and in all.
	maxCols, maxTail, maxTotal int
}

type colKey struct{ owner, slug string }

// hotCol is one collection's entry. An entry is never changed once made
// (a newer state gets a new entry), so readers use theirs without a lock.
type hotCol struct {
	c      Collection
	pruned int64
	// tail holds every change after tailFrom up to c.Revision, in
	// revision order; an href may appear more than once (its latest entry
	// counts). Entries carry the member's ETag as of that change.
	tail     []Change
	tailFrom int64
	used     uint64 // the cache's clock at the last use (eviction)
}

// Default bounds: about 100 bytes per change, some 6 MiB of changes.
const (
	hotMaxCols  = 8192
	hotMaxTail  = 1024
	hotMaxTotal = 65536
)

func newHotCollections() *hotCollections {
	return &hotCollections{byKey: map[colKey]*hotCol{}, pending: map[int64]int64{},
		maxCols: hotMaxCols, maxTail: hotMaxTail, maxTotal: hotMaxTotal}
}

// noteWrite records that a transaction assigned revision rev to collection
// id (it may commit or not): entries older than rev are not used from now.
func (h *hotCollections) noteWrite(id, rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rev > h.pending[id] {
		h.pending[id] = rev
	}
}

// current returns the entry of owner/slug if it is known to be current.
func (h *hotCollections) current(owner, slug string) *hotCol {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.byKey[colKey{owner, slug}]
	if e == nil || h.pending[e.c.ID] > e.c.Revision {
		return nil
	}
	h.clock++
	e.used = h.clock // a benign write: only eviction reads it, under mu
	return e
}

// stale returns the entry of owner/slug whatever its state (nil if none),
// the base a refresh extends, and the generation the refresh installs at.
func (h *hotCollections) stale(owner, slug string) (*hotCol, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byKey[colKey{owner, slug}], h.gen
}

// install keeps e, read from the database since generation gen, unless a
// newer entry is already kept or entries were dropped meanwhile, evicting
// what the bounds require.
func (h *hotCollections) install(e *hotCol, gen uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if gen != h.gen {
		return
	}
	k := colKey{e.c.Owner, e.c.Slug}
	old := h.byKey[k]
	if old != nil && old.c.ID == e.c.ID && old.c.Revision >= e.c.Revision {
		return
	}
	if len(e.tail) > h.maxTail {
		cut := len(e.tail) - h.maxTail
		e.tailFrom = e.tail[cut-1].Revision
		e.tail = e.tail[cut:]
	}
	if old != nil {
		h.total -= len(old.tail)
	} else if len(h.byKey) >= h.maxCols {
		h.evictLocked(func(*hotCol) bool { return true })
	}
	h.clock++
	e.used = h.clock
	h.byKey[k] = e
	h.total += len(e.tail)
	if p, ok := h.pending[e.c.ID]; ok && p <= e.c.Revision {
		delete(h.pending, e.c.ID)
	}
	for h.total > h.maxTotal {
		// Drop the tail of the least recently used collection that has
		// one; its head stays.
		h.evictLocked(func(x *hotCol) bool { return len(x.tail) > 0 })
	}
}

// evictLocked removes the least recently used entry that match accepts,
// or, when it accepts only entries with a tail, replaces it by one without.
func (h *hotCollections) evictLocked(match func(*hotCol) bool) {
	var victim *hotCol
	for _, x := range h.byKey {
		if match(x) && (victim == nil || x.used < victim.used) {
			victim = x
		}
	}
	if victim == nil {
		return
	}
	k := colKey{victim.c.Owner, victim.c.Slug}
	h.total -= len(victim.tail)
	if len(victim.tail) > 0 && len(h.byKey) < h.maxCols {
		cut := *victim
		cut.tail, cut.tailFrom = nil, victim.c.Revision
		h.byKey[k] = &cut
		return
	}
	delete(h.byKey, k)
}

// forget drops the entry of collection id (its pruned revision changed).
func (h *hotCollections) forget(id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	for k, e := range h.byKey {
		if e.c.ID == id {
			h.total -= len(e.tail)
			delete(h.byKey, k)
		}
	}
}

// clear drops everything (users changed, maybe in another process).
func (h *hotCollections) clear() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	h.byKey = map[colKey]*hotCol{}
	h.total = 0
}

// changes answers Changes(since) from the entry when its tail covers
// since: each href once with its latest change, in revision order. It
// reads only the changes after since (the tail is in revision order).
func (e *hotCol) changes(since int64) ([]Change, bool) {
	if since < e.tailFrom {
		return nil, false
	}
	first, _ := slices.BinarySearchFunc(e.tail, since+1, func(c Change, rev int64) int { return cmp.Compare(c.Revision, rev) })
	after := e.tail[first:]
	out := make([]Change, 0, len(after))
	if len(after) > 64 {
		return appendLatest(out, after), true
	}
	// A change is kept unless its href changes again later: a short
	// scan for the few changes a report usually covers.
	for i, c := range after {
		if !slices.ContainsFunc(after[i+1:], func(x Change) bool { return x.Href == c.Href }) {
			out = append(out, c)
		}
	}
	return out, true
}

// appendLatest appends to out the changes of cs (in revision order) that
// no later change of the same href supersedes.
func appendLatest(out, cs []Change) []Change {
	last := make(map[string]int, len(cs))
	for i, c := range cs {
		last[c.Href] = i
	}
	for i, c := range cs {
		if last[c.Href] == i {
			out = append(out, c)
		}
	}
	return out
}

// hotHead returns the current entry of a collection, from memory when it
// is known to be current, else read from the database (and kept).
func (s *Store) hotHead(ctx context.Context, owner, slug string) (*hotCol, error) {
	s.checkUsersMarker()
	if e := s.hot.current(owner, slug); e != nil {
		return e, nil
	}
	return s.refreshHot(ctx, owner, slug)
}

// refreshHot reads a collection's head from the database and, when an
// older entry is kept, the changes since it, and keeps the result.
func (s *Store) refreshHot(ctx context.Context, owner, slug string) (*hotCol, error) {
	old, gen := s.hot.stale(owner, slug)
	e := &hotCol{}
	var kind string
	err := s.stmtCollectionFull.QueryRowContext(noCancel(ctx), owner, slug).
		Scan(&e.c.ID, &e.c.Owner, &e.c.Slug, &kind, &e.c.Revision, &e.c.DisplayName, &e.c.Color, &e.c.Order, &e.pruned)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: collection %s/%s", ErrNotFound, owner, slug)
	}
	if err != nil {
		return nil, err
	}
	e.c.Kind = crmclient.Kind(kind)
	e.tailFrom = e.c.Revision
	if old != nil && old.c.ID == e.c.ID && old.c.Revision < e.c.Revision && old.c.Revision >= e.pruned {
		changes, err := s.changesAfter(ctx, e.c.ID, old.c.Revision)
		if err != nil {
			return nil, err
		}
		// The changes were read after the head, maybe at a later
		// state: a change beyond the head's revision may hide an earlier
		// one of the same href (the statement keeps each href's latest),
		// so the tail then starts again at the head.
		extend := len(changes) <= s.hot.maxTail
		for _, c := range changes {
			if c.Revision > e.c.Revision {
				extend = false
			}
		}
		if extend {
			e.tail = append(old.tail[:len(old.tail):len(old.tail)], changes...)
			e.tailFrom = old.tailFrom
		}
	} else if old != nil && old.c.ID == e.c.ID && old.c.Revision == e.c.Revision {
		e.tail, e.tailFrom = old.tail, old.tailFrom
	}
	s.hot.install(e, gen)
	return e, nil
}
