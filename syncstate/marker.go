package syncstate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// usersMarker is how a change of users reaches the in-memory state of a
// running server from another process (crmdav user add|remove|passwd runs
// beside crmdav serve): after such a change commits, the changing Store
// appends a byte to the file users.changed next to the database. A Store
// looks at the file's size and time (one stat, at most once per
// markerEvery) before it trusts its cached credential stamps and
// collection heads, and drops them when the file changed. The size only
// ever grows, so no change goes unseen. A change made through this Store
// drops its caches at once.
type usersMarker struct {
	path string
	mu   sync.Mutex
	seen markerState
	// looked is when the file was last looked at (monotonic).
	looked time.Time
	// stamps caches CredentialStamp by user (bounded: cleared when full).
	stamps map[string]string
}

type markerState struct {
	size  int64
	mod   time.Time
	valid bool
}

// maxStamps bounds the cached credential stamps.
const maxStamps = 10_000

// markerFile is the name of the users marker in the state directory.
const markerFile = "users.changed"

func newUsersMarker(path string) *usersMarker {
	return &usersMarker{path: path, stamps: map[string]string{}}
}

// state stats the marker; a missing file is a state of its own (never
// equal to another), so that caches are not trusted without it.
func (m *usersMarker) state() markerState {
	fi, err := os.Stat(m.path)
	if err != nil {
		return markerState{}
	}
	return markerState{size: fi.Size(), mod: fi.ModTime(), valid: true}
}

// markerEvery is how often the users marker is looked at: a request reads
// a collection's head two or three times, and a stat each time was a fifth
// of a small report's time. Another process's change of users is seen
// within this time.
const markerEvery = time.Millisecond

// checkUsersMarker drops the caches that depend on users when the marker
// changed since the last look.
func (s *Store) checkUsersMarker() {
	s.users.mu.Lock()
	recent := s.users.seen.valid && time.Since(s.users.looked) < markerEvery
	s.users.mu.Unlock()
	if recent {
		return
	}
	t := time.Now()
	now := s.users.state()
	s.users.mu.Lock()
	s.users.looked = t
	changed := !now.valid || now != s.users.seen
	if changed {
		s.users.seen = now
		s.users.stamps = map[string]string{}
	}
	s.users.mu.Unlock()
	if changed {
		s.hot.clear()
	}
}

// usersChanged announces a committed change of users to every Store on
// the directory, this one included.
func (s *Store) usersChanged() error {
	s.users.mu.Lock()
	s.users.stamps = map[string]string{}
	s.users.seen = markerState{} // nothing read meanwhile is kept
	s.users.mu.Unlock()
	s.hot.clear()
	f, err := os.OpenFile(s.users.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err == nil {
		_, err = f.Write([]byte{'\n'})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("syncstate: the change is saved, but a running server may not see it until restarted: %w", err)
	}
	return nil
}

// CredentialStamp returns an opaque value that changes whenever the user's
// password changes or the user is removed (ErrNotFound). It lets a server
// cache verified passwords safely: a cached login is good only while the
// stamp is unchanged. It is kept in memory while the users marker stays.
func (s *Store) CredentialStamp(ctx context.Context, name string) (string, error) {
	s.checkUsersMarker()
	s.users.mu.Lock()
	stamp, ok := s.users.stamps[name]
	seen := s.users.seen
	s.users.mu.Unlock()
	if ok {
		return stamp, nil
	}
	err := s.stmtStamp.QueryRowContext(noCancel(ctx), name).Scan(&stamp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: user %s", ErrNotFound, name)
	}
	if err != nil {
		return "", err
	}
	s.users.mu.Lock()
	// Kept only if no change was announced while it was read.
	if s.users.seen == seen && seen.valid {
		if len(s.users.stamps) >= maxStamps {
			s.users.stamps = map[string]string{}
		}
		s.users.stamps[name] = stamp
	}
	s.users.mu.Unlock()
	return stamp, nil
}
