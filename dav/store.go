// Package dav serves CalDAV and CardDAV (RFC 4791, RFC 6352, RFC 4918) for
// the gateway: discovery, principals, home sets, collections and objects.
// It builds on github.com/emersion/go-webdav where that is right and adds
// what it lacks. It knows nothing of the CRM or of storage: it talks to a
// Store, which the server passes in.
package dav

import (
	"context"
	"errors"
	"time"
)

// Store is what dav needs of the gateway's state. Names are a user's
// collection slug and an object's resource name within its collection.
type Store interface {
	// Collections lists the collections of user.
	Collections(ctx context.Context, user string) ([]Collection, error)
	// Collection returns one collection of user.
	Collection(ctx context.Context, user, slug string) (Collection, error)
	// Get returns one object.
	Get(ctx context.Context, user, slug, name string) (Object, error)
	// List calls fn for every object of a collection, in name order, without
	// holding the collection in memory; bodies only when withBody.
	List(ctx context.Context, user, slug string, withBody bool, fn func(Object) error) error
	// Put stores an object if the conditions hold, and returns its new ETag
	// and whether it was created. The body has been checked to be one
	// object of the collection's kind only as far as dav parses it; the
	// store checks the rest and answers ErrInvalid.
	Put(ctx context.Context, user, slug, name string, body []byte, cond Conditions) (etag string, created bool, err error)
	// Delete removes an object if the conditions hold.
	Delete(ctx context.Context, user, slug, name string, cond Conditions) error
	// Changes returns the objects of a collection changed after revision
	// since — each once, with its latest change, in revision order — and
	// the collection's current revision. A revision the store does not know
	// or no longer keeps the changes of gives ErrPrecondition (RFC 6578
	// §3.2: the client must start over). Its cost grows with the changes,
	// not with the collection.
	Changes(ctx context.Context, user, slug string, since int64) ([]Change, int64, error)
	// SetProps stores the display properties a client set on a collection
	// (PROPPATCH); nil fields are left as they are. They stay in the
	// gateway and advance the collection's revision.
	SetProps(ctx context.Context, user, slug string, p Props) error
	// Query calls fn, in no particular order and one object at a time, for the
	// objects of a calendar collection whose time span may overlap
	// [start, end) — a zero start or end is unbounded — using the store's
	// index of spans; objects without a known span are always included.
	// dav applies the exact CalDAV time-range rules (RFC 4791 §9.9) to
	// what it gets.
	Query(ctx context.Context, user, slug string, start, end time.Time, withBody bool, fn func(Object) error) error
}

// BatchGetter is what a Store may add to answer multiget and incremental
// sync-collection with one lookup for many objects instead of one each.
// dav uses it when the Store has it, and Get otherwise.
type BatchGetter interface {
	// GetMany calls fn, one object at a time and in the order of names,
	// for each object of a collection named in names that exists (a name
	// given twice is answered twice; one that names nothing is skipped).
	// dav passes at most maxBatch names at a time.
	GetMany(ctx context.Context, user, slug string, names []string, fn func(Object) error) error
}

// maxBatch bounds the names of one GetMany call: the objects of one
// batch may be held by the Store while it sorts them.
const maxBatch = 100

// Change is one changed object of a collection.
type Change struct {
	Name     string
	Revision int64
	Deleted  bool
	// ETag is the object's current ETag, when the store has it at hand:
	// a report that asks for no more than the ETag is then answered
	// without reading the objects. "" when unknown (dav gets the object).
	ETag string
}

// Props are a collection's client-settable properties.
type Props struct {
	DisplayName *string
	Color       *string // Apple calendar-color, "#RRGGBB" or "#RRGGBBAA"
	Order       *int    // Apple calendar-order
}

// Collection kinds.
const (
	AddressBook = "addressbook"
	Calendar    = "calendar"
)

// Collection is a user's collection.
type Collection struct {
	Slug        string
	Kind        string // AddressBook or Calendar
	DisplayName string
	Description string
	Color       string
	Order       int
	// Revision advances with every change of the collection: it is the
	// collection's CTag and sync token.
	Revision int64
	// Components are the iCalendar components a calendar holds
	// ("VEVENT", "VTODO", "VJOURNAL"; RFC 4791 §5.2.3).
	Components []string
	// ReadOnly collections refuse PUT and DELETE with 403
	// DAV:need-privileges (RFC 3744 §7.1.1) and say so in their
	// privileges.
	ReadOnly bool
}

// Object is a stored object.
type Object struct {
	Name string
	ETag string // quoted, strong
	Body []byte
}

// Conditions are a request's If-Match and If-None-Match header values, as
// received; empty when absent.
type Conditions struct {
	IfMatch     string
	IfNoneMatch string
}

// Errors a Store returns (wrapped, with detail), which dav turns into HTTP
// answers.
var (
	ErrNotFound     = errors.New("not found")           // 404
	ErrPrecondition = errors.New("precondition failed") // 412
	ErrConflict     = errors.New("conflict")            // e.g. UID in use: 409 / no-uid-conflict
	ErrInvalid      = errors.New("invalid object")      // 403/400 with valid-address-data / valid-calendar-data
)

type userKey struct{}

// WithUser returns a context for a request authenticated as user.
func WithUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

// UserFrom returns the authenticated user of a request's context.
func UserFrom(ctx context.Context) (string, bool) {
	u, ok := ctx.Value(userKey{}).(string)
	return u, ok && u != ""
}
