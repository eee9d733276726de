package syncstate

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// bodyCache keeps recently read object bodies by ETag, the oldest out
// past a bound in bytes. An ETag is a strong hash of its body (etagOf), so
// an entry is never stale: a changed object has another ETag. GetMany uses
// it with the collection's current listing (which says each member's ETag
// without reading SQLite): a multiget of objects read before reads no row.
//
// The bodies are kept in one ring buffer mapped outside Go's heap: held
// on the heap, the cache's bytes counted twice in the server's memory
// (the garbage collector lets the heap grow by as much as it holds live;
// davbench: 4 MiB of bodies were 11.7 MiB more peak RSS, 1.16x the
// floor's → 1.51x; mapped, 3 MiB were 7 MiB more, with the index and the
// garbage of copies). A body is copied out when read.
type bodyCache struct {
	mu    sync.Mutex
	ring  []byte // mapped; nil keeps nothing
	next  int    // where the next body is written
	order []bodyRef
	first int                // order[first:] are the entries kept, oldest first
	m     map[string]bodyRef // ETag → its body in ring
}

type bodyRef struct {
	etag   string
	off, n int
}

// DefaultBodyCacheBytes is the body cache's bound when Options leave it 0.
const DefaultBodyCacheBytes = 2 << 20

// newBodyCache maps a ring of max bytes (rounded up to pages); 0, or a
// mapping refused, keeps nothing.
func newBodyCache(max int) *bodyCache {
	c := &bodyCache{m: map[string]bodyRef{}}
	if max <= 0 {
		return c
	}
	page := os.Getpagesize()
	ring, err := syscall.Mmap(-1, 0, (max+page-1)/page*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err == nil {
		c.ring = ring
	}
	return c
}

// close unmaps the ring.
func (c *bodyCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring != nil {
		syscall.Munmap(c.ring)
		c.ring, c.m, c.order = nil, map[string]bodyRef{}, nil
	}
}

// get returns a copy of the body of etag.
func (c *bodyCache) get(etag string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[etag]
	if !ok {
		return nil, false
	}
	return bytes.Clone(c.ring[r.off : r.off+r.n]), true
}

// put keeps body as the body of etag, dropping the oldest bodies whose
// bytes it takes.
func (c *bodyCache) put(etag string, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(body) == 0 || len(body) > len(c.ring)/8 {
		return // nothing kept, or one object would take over an eighth
	}
	if _, ok := c.m[etag]; ok {
		return
	}
	if c.next+len(body) > len(c.ring) {
		// Wrap: the bytes from the write position to the end are left
		// unused, and the (oldest) bodies there go.
		for c.first < len(c.order) && c.order[c.first].off >= c.next {
			delete(c.m, c.order[c.first].etag)
			c.first++
		}
		c.next = 0
	}
	off, end := c.next, c.next+len(body)
	// Drop the entries whose bytes [off, end) overwrites: the oldest,
	// which lie just after the write position (or, on a wrap, past it).
	for c.first < len(c.order) {
		o := c.order[c.first]
		if o.off >= end || o.off+o.n <= off {
			break
		}
		delete(c.m, o.etag)
		c.first++
	}
	copy(c.ring[off:end], body)
	r := bodyRef{etag: etag, off: off, n: len(body)}
	c.m[etag] = r
	if c.first > len(c.order)/2 && c.first > 64 {
		c.order = append(c.order[:0], c.order[c.first:]...)
		c.first = 0
	}
	c.order = append(c.order, r)
	c.next = end
}

// lookup returns the ETag of href in the listing.
func (l *listing) lookup(href string) (string, bool) {
	i, ok := slices.BinarySearchFunc(l.entries, href, func(e listEntry, h string) int { return strings.Compare(e.href, h) })
	if !ok {
		return "", false
	}
	return l.entries[i].etag, true
}

// getManyCached answers GetMany from the collection's listing, when it is
// current, and the body cache: only bodies not cached are read, in one
// statement. ok is false when the listing is not current (the caller
// reads every row).
func (s *Store) getManyCached(ctx context.Context, e *hotCol, hrefs []string, fn func(Item) error) (ok bool, err error) {
	l := s.listings.get(e.c.ID)
	if l == nil || l.revision != e.c.Revision || s.bodies.ring == nil {
		return false, nil
	}
	items := make([]Item, len(hrefs))
	var missing []string
	for i, h := range hrefs {
		etag, found := l.lookup(h)
		if !found {
			continue // no such member at the listing's revision
		}
		items[i] = Item{Href: h, ETag: etag}
		if items[i].Body, found = s.bodies.get(etag); !found {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		read := make(map[string]Item, len(missing))
		err := s.getMany(ctx, e.c.ID, missing, func(it Item) error {
			read[it.Href] = it
			s.bodies.put(it.ETag, it.Body)
			return nil
		})
		if err != nil {
			return true, err
		}
		for i, h := range hrefs {
			if items[i].Body == nil && items[i].Href != "" {
				// Written since the listing, or gone: the row says.
				items[i] = read[h]
			}
		}
	}
	for _, it := range items {
		if it.Href == "" {
			continue
		}
		if err := fn(it); err != nil {
			return true, err
		}
	}
	return true, nil
}
