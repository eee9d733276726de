package dav

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/emersion/go-vcard"
)

// memStore is the in-memory Store of dav's tests: the contract of Store as
// dav relies on it (conditions checked atomically with the write, UID
// unique per collection, ErrInvalid for what dav does not check).
type memStore struct {
	mu    sync.Mutex
	colls map[string][]Collection                 // user → collections
	objs  map[string]map[string]map[string][]byte // user → slug → name → body
	// plainConflict makes a UID conflict a bare ErrConflict, without the
	// name of the object holding the UID.
	plainConflict bool
	puts          int
}

func newMemStore() *memStore {
	s := &memStore{colls: map[string][]Collection{}, objs: map[string]map[string]map[string][]byte{}}
	for _, u := range []string{"alice", "bob"} {
		s.colls[u] = []Collection{
			{Slug: "contacts", Kind: AddressBook, DisplayName: u + "'s contacts", Revision: 1},
			{Slug: "calendar", Kind: Calendar, DisplayName: "Calendar", Revision: 1},
		}
		s.objs[u] = map[string]map[string][]byte{"contacts": {}, "calendar": {}}
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

func (s *memStore) Put(_ context.Context, user, slug, name string, body []byte, cond Conditions) (string, bool, error) {
	card, err := vcard.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		return "", false, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if card.Value(vcard.FieldFormattedName) == "" {
		return "", false, fmt.Errorf("%w: no FN", ErrInvalid)
	}
	uid := card.Value(vcard.FieldUID)
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
		c, _ := vcard.NewDecoder(bytes.NewReader(b)).Decode()
		if other != name && c.Value(vcard.FieldUID) == uid {
			if s.plainConflict {
				return "", false, fmt.Errorf("%w: UID %s", ErrConflict, uid)
			}
			return "", false, &UIDConflict{UID: uid, Name: other}
		}
	}
	m[name] = slices.Clone(body)
	s.puts++
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
	return nil
}

func (s *memStore) count(user, slug string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.objs[user][slug])
}
