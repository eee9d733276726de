package dav

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
)

// memStore is the in-memory Store of dav's tests: the contract of Store as
// dav relies on it (conditions checked atomically with the write, UID
// unique per collection, ErrInvalid for what dav does not check; every
// change — put, delete, SetProps — advances the collection's revision by
// one, in the same critical section as the change; deletions leave
// tombstones in the change log until forget).
type memStore struct {
	mu    sync.Mutex
	colls map[string][]Collection                 // user → collections
	objs  map[string]map[string]map[string][]byte // user → slug → name → body
	log   map[string][]Change                     // "user/slug" → changes, in revision order
	kept  map[string]int64                        // "user/slug" → oldest revision Changes answers from
	// plainConflict makes a UID conflict a bare ErrConflict, without the
	// name of the object holding the UID.
	plainConflict bool
	// queries are the bounds of every Query call.
	queries [][2]time.Time
	puts    int
	gets    int // objects read by Get
	// logETags makes Changes give each member's current ETag, as
	// syncstate does.
	logETags bool
	setProps int
}

func newMemStore() *memStore {
	s := &memStore{colls: map[string][]Collection{}, objs: map[string]map[string]map[string][]byte{},
		log: map[string][]Change{}, kept: map[string]int64{}}
	for _, u := range []string{"alice", "bob"} {
		s.colls[u] = []Collection{
			{Slug: "contacts", Kind: AddressBook, DisplayName: u + "'s contacts", Revision: 1},
			{Slug: "calendar", Kind: Calendar, DisplayName: "Calendar", Revision: 1, Components: []string{"VEVENT"}},
			{Slug: "tasks", Kind: Calendar, DisplayName: "Tasks", Revision: 1, Components: []string{"VTODO"}},
			{Slug: "journal", Kind: Calendar, DisplayName: "Journal", Revision: 1, Components: []string{"VJOURNAL"}},
			{Slug: "mail", Kind: Calendar, DisplayName: "E-mails", Revision: 1, Components: []string{"VJOURNAL"}, ReadOnly: true},
			{Slug: "all", Kind: Calendar, DisplayName: "Everything", Revision: 1},
		}
		s.objs[u] = map[string]map[string][]byte{"contacts": {}, "calendar": {}, "tasks": {}, "journal": {}, "mail": {}, "all": {}}
	}
	return s
}

func etagOf(body []byte) string {
	return fmt.Sprintf(`"%x"`, sha256.Sum256(body))[:18] + `"`
}

func (s *memStore) Collections(_ context.Context, user string) ([]Collection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.colls[user]), nil
}

func (s *memStore) Collection(_ context.Context, user, slug string) (Collection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.colls[user] {
		if c.Slug == slug {
			return c, nil
		}
	}
	return Collection{}, fmt.Errorf("%w: collection %s/%s", ErrNotFound, user, slug)
}

func (s *memStore) Get(_ context.Context, user, slug, name string) (Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	b, ok := s.objs[user][slug][name]
	if !ok {
		return Object{}, fmt.Errorf("%w: %s/%s/%s", ErrNotFound, user, slug, name)
	}
	return Object{Name: name, ETag: etagOf(b), Body: slices.Clone(b)}, nil
}

func (s *memStore) List(_ context.Context, user, slug string, withBody bool, fn func(Object) error) error {
	s.mu.Lock()
	m, ok := s.objs[user][slug]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: collection %s/%s", ErrNotFound, user, slug)
	}
	var objs []Object
	for name, b := range m {
		o := Object{Name: name, ETag: etagOf(b)}
		if withBody {
			o.Body = slices.Clone(b)
		}
		objs = append(objs, o)
	}
	s.mu.Unlock()
	sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
	for _, o := range objs {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func (c Conditions) holds(current string) bool {
	if c.IfMatch != "" && !etagListMatch(c.IfMatch, current, false) {
		return false
	}
	if c.IfNoneMatch != "" && etagListMatch(c.IfNoneMatch, current, false) {
		return false
	}
	return true
}

// uidOf returns the UID of a stored body of either kind.
func uidOf(body []byte) string {
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("BEGIN:VCALENDAR")) {
		cal, err := decodeCalendar(body)
		if err != nil {
			return ""
		}
		for _, c := range cal.Children {
			if c.Name != ical.CompTimezone {
				return propValue(c, ical.PropUID)
			}
		}
		return ""
	}
	c, _ := vcard.NewDecoder(bytes.NewReader(body)).Decode()
	return c.Value(vcard.FieldUID)
}

func (s *memStore) Put(ctx context.Context, user, slug, name string, body []byte, cond Conditions) (string, bool, error) {
	coll, err := s.Collection(ctx, user, slug)
	if err != nil {
		return "", false, err
	}
	if coll.Kind == Calendar {
		if _, err := decodeCalendar(body); err != nil {
			return "", false, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if bytes.Contains(body, []byte("X-STORE-REFUSES")) {
			return "", false, fmt.Errorf("%w: refused by the store", ErrInvalid)
		}
	} else {
		card, err := vcard.NewDecoder(bytes.NewReader(body)).Decode()
		if err != nil {
			return "", false, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if card.Value(vcard.FieldFormattedName) == "" {
			return "", false, fmt.Errorf("%w: no FN", ErrInvalid)
		}
	}
	uid := uidOf(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.objs[user][slug]
	if !ok {
		return "", false, fmt.Errorf("%w: collection %s/%s", ErrNotFound, user, slug)
	}
	old, exists := m[name]
	cur := ""
	if exists {
		cur = etagOf(old)
	}
	if !cond.holds(cur) {
		return "", false, fmt.Errorf("%w: conditions %+v, current %q", ErrPrecondition, cond, cur)
	}
	for other, b := range m {
		if other != name && uidOf(b) == uid {
			if s.plainConflict {
				return "", false, fmt.Errorf("%w: UID %s", ErrConflict, uid)
			}
			return "", false, &UIDConflict{UID: uid, Name: other}
		}
	}
	m[name] = slices.Clone(body)
	s.puts++
	s.changed(user, slug, name, false)
	return etagOf(body), !exists, nil
}

func (s *memStore) Delete(_ context.Context, user, slug, name string, cond Conditions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objs[user][slug][name]
	if !ok {
		return fmt.Errorf("%w: %s/%s/%s", ErrNotFound, user, slug, name)
	}
	if !cond.holds(etagOf(b)) {
		return fmt.Errorf("%w: conditions %+v", ErrPrecondition, cond)
	}
	delete(s.objs[user][slug], name)
	s.changed(user, slug, name, true)
	return nil
}

// changed advances a collection's revision and logs the change of an
// object (name "" for the collection's own properties). s.mu is held.
func (s *memStore) changed(user, slug, name string, deleted bool) {
	for i := range s.colls[user] {
		c := &s.colls[user][i]
		if c.Slug == slug {
			c.Revision++
			if name != "" {
				s.log[user+"/"+slug] = append(s.log[user+"/"+slug], Change{Name: name, Revision: c.Revision, Deleted: deleted})
			}
			return
		}
	}
}

func (s *memStore) Changes(_ context.Context, user, slug string, since int64) ([]Change, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur int64 = -1
	for _, c := range s.colls[user] {
		if c.Slug == slug {
			cur = c.Revision
		}
	}
	if cur < 0 {
		return nil, 0, fmt.Errorf("%w: collection %s/%s", ErrNotFound, user, slug)
	}
	key := user + "/" + slug
	if since > cur || since < max(1, s.kept[key]) {
		return nil, 0, fmt.Errorf("%w: revision %d not kept (%d..%d)", ErrPrecondition, since, s.kept[key], cur)
	}
	latest := map[string]int{}
	var out []Change
	for _, ch := range s.log[key] {
		if ch.Revision <= since {
			continue
		}
		if i, ok := latest[ch.Name]; ok {
			out[i].Revision = -1 // superseded
		}
		latest[ch.Name] = len(out)
		out = append(out, ch)
	}
	out = slices.DeleteFunc(out, func(c Change) bool { return c.Revision < 0 })
	if s.logETags {
		for i := range out {
			if b, ok := s.objs[user][slug][out[i].Name]; ok && !out[i].Deleted {
				out[i].ETag = etagOf(b)
			}
		}
	}
	return out, cur, nil
}

// forget drops the change log of a collection up to its current
// revision, as syncstate does with old tombstones.
func (s *memStore) forget(user, slug string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.colls[user] {
		if c.Slug == slug {
			s.kept[user+"/"+slug] = c.Revision
			s.log[user+"/"+slug] = nil
		}
	}
}

// SetProps applies all of p or nothing, and advances the revision once.
func (s *memStore) SetProps(_ context.Context, user, slug string, p Props) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.colls[user] {
		c := &s.colls[user][i]
		if c.Slug != slug {
			continue
		}
		if p.DisplayName != nil {
			c.DisplayName = *p.DisplayName
		}
		if p.Color != nil {
			c.Color = *p.Color
		}
		if p.Order != nil {
			c.Order = *p.Order
		}
		s.setProps++
		s.changed(user, slug, "", false)
		return nil
	}
	return fmt.Errorf("%w: collection %s/%s", ErrNotFound, user, slug)
}

func (s *memStore) revision(user, slug string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.colls[user] {
		if c.Slug == slug {
			return c.Revision
		}
	}
	return -1
}

func (s *memStore) count(user, slug string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.objs[user][slug])
}

// Query returns a superset of what overlaps [start, end), as a store's
// index would: each object's span runs from the earliest to the latest
// date of any of its components (plus a day), read as UTC whatever the
// zone; a recurring object's span has no end; an object without dates
// (or a VTODO with neither DTSTART nor DUE) or that does not parse is
// always returned.
func (s *memStore) Query(ctx context.Context, user, slug string, start, end time.Time, withBody bool, fn func(Object) error) error {
	s.mu.Lock()
	s.queries = append(s.queries, [2]time.Time{start, end})
	s.mu.Unlock()
	return s.List(ctx, user, slug, true, func(o Object) error {
		lo, hi, ok := roughSpan(o.Body)
		if ok && (!end.IsZero() && lo.After(end) || !start.IsZero() && !hi.IsZero() && hi.Before(start)) {
			return nil
		}
		if !withBody {
			o.Body = nil
		}
		return fn(o)
	})
}

// roughSpan is the fake index's span of a calendar object; hi is zero
// for no end; ok is false when the object has no span.
func roughSpan(body []byte) (lo, hi time.Time, ok bool) {
	cal, err := decodeCalendar(body)
	if err != nil {
		return lo, hi, false
	}
	open := false
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone {
			continue
		}
		for _, name := range []string{"DTSTART", "DTEND", "DUE", "COMPLETED", "CREATED", "RECURRENCE-ID", "RDATE"} {
			for _, p := range c.Props.Values(name) {
				ds, err := parseDTList(&p)
				if err != nil {
					return lo, hi, false
				}
				for _, d := range ds {
					if lo.IsZero() || d.wall.Before(lo) {
						lo = d.wall
					}
					if e := d.wall.Add(24 * time.Hour); e.After(hi) {
						hi = e
					}
				}
			}
		}
		if d := c.Props.Get("DURATION"); d != nil {
			if v, err := d.Duration(); err == nil {
				hi = hi.Add(v)
			}
		}
		if c.Props.Get("RRULE") != nil || c.Props.Get("RDATE") != nil {
			open = true
		}
		if c.Name == "VTODO" && c.Props.Get("DTSTART") == nil && c.Props.Get("DUE") == nil {
			// RFC 4791 §9.9: from CREATED on, without end.
			return lo, hi, false
		}
	}
	if lo.IsZero() {
		return lo, hi, false
	}
	if open {
		hi = time.Time{}
	}
	return lo, hi, true
}

// batchStore is memStore with GetMany (BatchGetter), for the answers dav
// gives with one lookup for many objects; memStore itself has none, so
// that the tests counting Gets see one per object. gets counts GetMany
// calls.
type batchStore struct {
	*memStore
	getMany atomic.Int64
}

func (s *batchStore) GetMany(ctx context.Context, user, slug string, names []string, fn func(Object) error) error {
	s.getMany.Add(1)
	if len(names) > maxBatch {
		return fmt.Errorf("GetMany of %d names", len(names))
	}
	for _, n := range names {
		o, err := s.memStore.Get(ctx, user, slug, n)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}
