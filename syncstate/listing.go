package syncstate

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// A listing is the (href, ETag) list of one collection at a revision,
// sorted by href. Listings are never changed once made: a newer revision
// gets a new one, so readers iterate theirs without a lock.
type listing struct {
	revision int64
	entries  []listEntry
	used     uint64 // the cache's clock at the last use, for eviction
}

type listEntry struct{ href, etag string }

// listings keeps the latest listing of the collections clients list, to
// answer PROPFIND Depth 1 and initial sync-collection without reading every
// item again: a listing older than its collection is brought up to date
// from the change log (Changes' statement, O(changes)), and read whole only
// when that log no longer covers it or holds more changes than a re-read
// costs. Memory is bounded by maxEntries over all collections; a collection
// larger than that is never kept and is listed from the database each time.
// Listings are kept by collection id, which SQLite never gives twice
// (AUTOINCREMENT): a user removed and added again, even by another process,
// has new collections.
type listings struct {
	mu         sync.Mutex
	maxEntries int
	total      int
	clock      uint64
	m          map[int64]*listing
}

// defaultListingEntries bounds the cached listings: about 100 bytes each
// (two strings and their bytes), some 20 MiB at most.
const defaultListingEntries = 200_000

func newListings(maxEntries int) *listings {
	return &listings{maxEntries: maxEntries, m: map[int64]*listing{}}
}

func (c *listings) get(colID int64) *listing {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.m[colID]
	if l != nil {
		c.clock++
		l.used = c.clock
	}
	return l
}

// put keeps l for colID unless a newer listing is already kept (one made
// by a request that read a later revision), or unless replace: a listing
// read whole from the database is right whatever the cache held. It
// evicts the least recently used listings while the bound is exceeded.
func (c *listings) put(colID int64, l *listing, replace bool) {
	if len(l.entries) > c.maxEntries {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[colID]; old != nil {
		if old.revision > l.revision && !replace {
			return
		}
		c.total -= len(old.entries)
	}
	c.clock++
	l.used = c.clock
	c.m[colID] = l
	c.total += len(l.entries)
	for c.total > c.maxEntries {
		var victim int64
		var oldest *listing
		for id, x := range c.m {
			if oldest == nil || x.used < oldest.used {
				victim, oldest = id, x
			}
		}
		delete(c.m, victim)
		c.total -= len(oldest.entries)
	}
}

// forget drops a collection's listing (its collection is gone).
func (c *listings) forget(colID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[colID]; old != nil {
		c.total -= len(old.entries)
		delete(c.m, colID)
	}
}

// listingOf returns the listing of the collection of hot entry e, at its
// revision or later, from the cache when it can: brought up to date from
// the entry's latest changes when they reach back far enough, else from
// the change log.
func (s *Store) listingOf(ctx context.Context, e *hotCol) (*listing, error) {
	col := collectionHead{id: e.c.ID, revision: e.c.Revision, pruned: e.pruned}
	l := s.listings.get(col.id)
	if l != nil && l.revision == col.revision {
		return l, nil
	}
	if l != nil && l.revision < col.revision && l.revision >= col.pruned {
		changes, ok := e.changes(l.revision)
		if !ok {
			var err error
			if changes, err = s.changesAfter(ctx, col.id, l.revision); err != nil {
				return nil, err
			}
		}
		// Applying costs a pass over the listing; past a quarter of it
		// in changes, reading the index again is about as cheap.
		if len(changes) <= len(l.entries)/4+64 {
			next := &listing{revision: col.revision, entries: applyChanges(l.entries, changes)}
			s.listings.put(col.id, next, false)
			return next, nil
		}
	}
	next := &listing{revision: col.revision}
	err := s.objectNames(ctx, col.id, func(it Item) error {
		next.entries = append(next.entries, listEntry{href: it.Href, etag: it.ETag})
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.listings.put(col.id, next, true)
	return next, nil
}

// changesAfter is the change log of a collection after revision since:
// each href once with its latest change and current ETag.
func (s *Store) changesAfter(ctx context.Context, colID, since int64) ([]Change, error) {
	rows, err := s.stmtChanges.QueryContext(noCancel(ctx), colID, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// applyChanges returns entries (sorted by href) with changes applied: a
// deleted member removed, another one added or given its new ETag. Applying
// a change again changes nothing, so a listing may safely be brought up to
// date from a revision it already partly holds.
func applyChanges(entries []listEntry, changes []Change) []listEntry {
	cs := slices.Clone(changes)
	slices.SortFunc(cs, func(a, b Change) int { return strings.Compare(a.Href, b.Href) })
	out := make([]listEntry, 0, len(entries)+len(cs))
	i := 0
	for _, c := range cs {
		for i < len(entries) && entries[i].href < c.Href {
			out = append(out, entries[i])
			i++
		}
		if i < len(entries) && entries[i].href == c.Href {
			i++ // replaced or removed
		}
		if !c.Deleted {
			out = append(out, listEntry{href: c.Href, etag: c.ETag})
		}
	}
	return append(out, entries[i:]...)
}
