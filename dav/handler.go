package dav

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Options tune a Handler. The zero value is usable.
type Options struct {
	// MaxBodySize bounds a request body in bytes (PUT, PROPFIND, REPORT);
	// a larger body is refused with 413. Zero means DefaultMaxBodySize.
	MaxBodySize int64
	// UserAddress returns a user's calendar user address, an e-mail
	// address ("ann@example.com") or a URI ("mailto:ann@example.com"),
	// for the principal's calendar-user-address-set (RFC 6638 §2.4.1),
	// which clients use to recognise the user among an event's organizer
	// and attendees. nil, or "" for a user, leaves the property out (404
	// in its propstat): the Store knows no e-mail addresses.
	UserAddress func(user string) string
}

// DefaultMaxBodySize is the request body limit when Options leave it zero.
const DefaultMaxBodySize = 10 << 20

// vcardType is the Content-Type of every vCard we serve (RFC 6350 §10.1,
// RFC 6352 §5.1: UTF-8 only).
const vcardType = "text/vcard; charset=utf-8"

// Paths. Hrefs we send are absolute paths (RFC 4918 §8.3).
const (
	davRoot       = "/dav/"
	principalsDir = "principals"
	wellKnownCard = "/.well-known/carddav"
	wellKnownCal  = "/.well-known/caldav"
)

// calendarType is the Content-Type of every iCalendar object we serve
// (RFC 5545 §8.1, RFC 4791 §4.1).
const calendarType = "text/calendar; charset=utf-8"

// handler is the CardDAV entry point. It serves every method itself:
// go-webdav v0.6.0 builds multistatus answers in memory, re-encodes
// stored vCards and lacks sync-collection, PROPPATCH and the limits
// (DESIGN "dav").
type handler struct {
	st      Store
	log     *slog.Logger
	max     int64
	address func(user string) string
}

// NewHandler returns the CardDAV and CalDAV handler for the paths
// /.well-known/carddav, /.well-known/caldav, / (discovery only) and
// /dav/…. Every request's context must carry the authenticated user
// (WithUser): the server authenticates before dav.
//
// Layout: /dav/ (context path), /dav/principals/<user>/ (principal),
// /dav/<user>/ (the home of address books and calendars),
// /dav/<user>/<slug>/ (address books and calendars),
// /dav/<user>/<slug>/<name> (vCards, iCalendar objects). A user never
// reaches another user's paths (403).
func NewHandler(st Store, log *slog.Logger, opts Options) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = DefaultMaxBodySize
	}
	return &handler{st: st, log: log, max: opts.MaxBodySize, address: opts.UserAddress}
}

// userAddress is the mailto: URI of user for calendar-user-address-set,
// or "" when Options.UserAddress does not know it.
func (h *handler) userAddress(user string) string {
	if h.address == nil {
		return ""
	}
	a := strings.TrimSpace(h.address(user))
	if a == "" || strings.HasPrefix(strings.ToLower(a), "mailto:") {
		return a
	}
	return "mailto:" + a
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		h.serveError(w, r, err)
	}
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) error {
	user, ok := UserFrom(r.Context())
	if !ok {
		// The server authenticates before dav: this is a wiring bug.
		return fmt.Errorf("dav: request without an authenticated user")
	}
	if r.URL.Path == wellKnownCard || r.URL.Path == wellKnownCal {
		// RFC 6764 §5: the well-known URI redirects (301, 303 or 307) to
		// the context path, where PROPFIND finds current-user-principal
		// (RFC 6764 §6). 307, because it keeps the method and body: Go's
		// net/http turns a PROPFIND into a GET on 301.
		http.Redirect(w, r, davRoot, http.StatusTemporaryRedirect)
		return nil
	}
	t, err := parsePath(r.URL.Path)
	if err != nil {
		switch r.Method {
		case "MKCOL", "MKCALENDAR":
			// A collection inside a collection (litmus begins with
			// one) is refused as every MKCOL is, not "not found".
			return h.serveMkcol(r)
		case http.MethodPut:
			if nested(r.URL.Path) {
				// RFC 4918 §9.7.1: a PUT whose parent collection does
				// not exist fails with 409 (Conflict).
				return failf(http.StatusConflict, "no collection to hold %q", r.URL.Path)
			}
		}
		return err
	}
	if t.user != "" && t.user != user {
		// DESIGN invariant 8: another user's paths are refused whatever
		// they hold, before the Store is asked anything.
		return failf(http.StatusForbidden, "path of user %q", t.user)
	}
	switch r.Method {
	case http.MethodOptions:
		return h.serveOptions(w, t)
	case http.MethodGet, http.MethodHead:
		return h.serveGet(w, r, t)
	case http.MethodPut:
		return h.servePut(w, r, t)
	case http.MethodDelete:
		return h.serveDelete(w, r, t)
	case "PROPFIND":
		return h.servePropfind(w, r, t)
	case "REPORT":
		return h.serveReport(w, r, t)
	case "PROPPATCH":
		return h.serveProppatch(w, r, t)
	case "MKCOL", "MKCALENDAR":
		return h.serveMkcol(r)
	case "COPY", "MOVE", "LOCK", "UNLOCK", http.MethodPost:
		w.Header().Set("Allow", allowed(t))
		return failf(http.StatusMethodNotAllowed, "%s not supported", r.Method)
	}
	w.Header().Set("Allow", allowed(t))
	return failf(http.StatusMethodNotAllowed, "unknown method %s", r.Method)
}

// Resource kinds of the URL layout.
type kind int

const (
	kindRoot kind = iota + 1
	kindPrincipal
	kindHome
	kindCollection
	kindObject
)

// target is a parsed request path.
type target struct {
	kind             kind
	root             string // the href of a kindRoot: "/" or "/dav/"
	user, slug, name string
}

// nested reports whether p is a clean path below an object's place (a
// member of a collection inside a collection, which cannot exist).
func nested(p string) bool {
	rest, ok := strings.CutPrefix(p, davRoot)
	if !ok {
		return false
	}
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	return len(segs) > 3 && segs[0] != principalsDir && !slices.ContainsFunc(segs, func(s string) bool { return s == "" || s == "." || s == ".." })
}

// parsePath maps a request path to a resource of the layout, or 404.
// Empty, "." and ".." segments are refused, so that a path names one
// resource only.
func parsePath(p string) (target, error) {
	switch p {
	case "/":
		// RFC 6764 §6: clients given only the server URL PROPFIND it
		// for current-user-principal.
		return target{kind: kindRoot, root: "/"}, nil
	case "/dav", davRoot:
		return target{kind: kindRoot, root: davRoot}, nil
	}
	rest, ok := strings.CutPrefix(p, davRoot)
	if !ok {
		return target{}, failf(http.StatusNotFound, "no resource at %q", p)
	}
	dir := strings.HasSuffix(rest, "/")
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return target{}, failf(http.StatusNotFound, "no resource at %q", p)
		}
	}
	switch {
	case segs[0] == principalsDir && len(segs) == 2:
		return target{kind: kindPrincipal, user: segs[1]}, nil
	case segs[0] == principalsDir:
	case len(segs) == 1:
		return target{kind: kindHome, user: segs[0]}, nil
	case len(segs) == 2:
		return target{kind: kindCollection, user: segs[0], slug: segs[1]}, nil
	case len(segs) == 3 && !dir:
		return target{kind: kindObject, user: segs[0], slug: segs[1], name: segs[2]}, nil
	}
	return target{}, failf(http.StatusNotFound, "no resource at %q", p)
}

// Hrefs of the layout, unescaped; hrefPath escapes them for the wire.
func principalPath(user string) string { return davRoot + principalsDir + "/" + user + "/" }
func homePath(user string) string      { return davRoot + user + "/" }
func collectionPath(user, slug string) string {
	return davRoot + user + "/" + slug + "/"
}
func objectPath(user, slug, name string) string {
	return davRoot + user + "/" + slug + "/" + name
}

// hrefPath escapes an unescaped absolute path for an href or a header.
func hrefPath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

func allowed(t target) string {
	if t.kind == kindObject {
		return "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND"
	}
	if t.kind == kindCollection {
		return "OPTIONS, PROPFIND, PROPPATCH, REPORT"
	}
	return "OPTIONS, PROPFIND"
}

// collection returns the collection a target names, or 404 for a
// collection that does not exist or is of a kind dav does not serve.
func (h *handler) collection(r *http.Request, t target) (Collection, error) {
	c, err := h.st.Collection(r.Context(), t.user, t.slug)
	if err != nil {
		return Collection{}, err
	}
	if !served(c.Kind) {
		return Collection{}, failf(http.StatusNotFound, "collection %q is of a kind not served (%s)", t.slug, c.Kind)
	}
	return c, nil
}

// davClasses is the DAV header of OPTIONS (RFC 4918 §10.1, RFC 6352 §6.1,
// RFC 4791 §5.1). extended-mkcol (RFC 5689 §3) is not offered, as
// collections come from the CRM (MKCALENDAR is refused too, which RFC 4791
// §5.3.1 allows: support for it is optional).
const davClasses = "1, 3, calendar-access, addressbook"

// serveOptions answers OPTIONS.
func (h *handler) serveOptions(w http.ResponseWriter, t target) error {
	w.Header().Set("DAV", davClasses)
	w.Header().Set("Allow", allowed(t))
	w.WriteHeader(http.StatusOK)
	return nil
}

// serveGet serves an object as stored: the bytes the Store holds, never a
// re-encoding, so that the ETag names exactly these bytes.
func (h *handler) serveGet(w http.ResponseWriter, r *http.Request, t target) error {
	if t.kind != kindObject {
		w.Header().Set("Allow", allowed(t))
		return failf(http.StatusMethodNotAllowed, "GET on a collection")
	}
	c, err := h.collection(r, t)
	if err != nil {
		return err
	}
	o, err := h.st.Get(r.Context(), t.user, t.slug, t.name)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", kinds[c.Kind].contentType)
	hd.Set("ETag", o.ETag)
	// RFC 9110 §13.1.2: If-None-Match on GET uses weak comparison.
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListMatch(inm, o.ETag, true) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	hd.Set("Content-Length", strconv.Itoa(len(o.Body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(o.Body)
	}
	return nil
}

// servePut stores the client's bytes as sent (DESIGN invariant 4), after
// checking them as the collection's kind asks (kindInfo.check: one vCard
// with a UID; one iCalendar object resource, RFC 4791 §4.1). Conditions
// go to the Store, which evaluates them atomically with the write
// (invariant 3).
func (h *handler) servePut(w http.ResponseWriter, r *http.Request, t target) error {
	if t.kind != kindObject {
		w.Header().Set("Allow", allowed(t))
		return failf(http.StatusMethodNotAllowed, "PUT outside an address book or calendar")
	}
	if err := checkName(t.name); err != nil {
		return err
	}
	c, err := h.collection(r, t)
	if err != nil {
		return err
	}
	if c.ReadOnly {
		// RFC 3744 §7.1.1; a new member needs bind on the collection, a
		// replaced one write-content on itself: both are withheld.
		return needPrivileges(objectPath(t.user, t.slug, t.name), "write-content",
			"the collection %q is read-only", c.Slug)
	}
	k := kinds[c.Kind]
	if err := k.checkType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := h.readBody(r)
	if err != nil {
		return err
	}
	if err := k.check(c, body); err != nil {
		return err
	}
	cond := Conditions{IfMatch: r.Header.Get("If-Match"), IfNoneMatch: r.Header.Get("If-None-Match")}
	etag, created, err := h.st.Put(r.Context(), t.user, t.slug, t.name, body, cond)
	if err != nil {
		var uc *UIDConflict
		switch {
		case errors.As(err, &uc) && uc.Name != "":
			return &httpError{Status: http.StatusConflict, Cond: k.uidConflict,
				Href: hrefPath(objectPath(t.user, t.slug, uc.Name)), Err: err}
		case errors.Is(err, ErrConflict):
			return &httpError{Status: http.StatusConflict, Cond: k.uidConflict, Err: err}
		case errors.Is(err, ErrInvalid):
			return &httpError{Status: http.StatusForbidden, Cond: k.invalid, Err: err}
		}
		return err
	}
	// RFC 9110 §9.3.4: the ETag of the stored bytes, which are the bytes
	// the client sent, so the client may keep its copy.
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if created {
		w.Header().Set("Location", hrefPath(objectPath(t.user, t.slug, t.name)))
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// serveDelete deletes one object if If-Match / If-None-Match hold; go-webdav
// v0.6.0 ignores them on DELETE. Collections belong to the CRM.
func (h *handler) serveDelete(w http.ResponseWriter, r *http.Request, t target) error {
	if t.kind != kindObject {
		w.Header().Set("Allow", allowed(t))
		return failf(http.StatusMethodNotAllowed, "collections are defined by the CRM and cannot be deleted")
	}
	c, err := h.collection(r, t)
	if err != nil {
		return err
	}
	if c.ReadOnly {
		// RFC 3744 §7.1.1: DELETE needs unbind on the collection.
		return needPrivileges(collectionPath(t.user, t.slug), "unbind",
			"the collection %q is read-only", c.Slug)
	}
	cond := Conditions{IfMatch: r.Header.Get("If-Match"), IfNoneMatch: r.Header.Get("If-None-Match")}
	if err := h.st.Delete(r.Context(), t.user, t.slug, t.name, cond); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// readBody reads a request body of at most h.max bytes; more is 413.
func (h *handler) readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > h.max {
		return nil, failf(http.StatusRequestEntityTooLarge, "body of %d bytes over the limit of %d", r.ContentLength, h.max)
	}
	if r.ContentLength >= 0 {
		// A known length (net/http stops the body there): read into
		// a buffer of that size, not one grown by doubling.
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, failf(http.StatusBadRequest, "reading body: %v", err)
		}
		return b, nil
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(io.LimitReader(r.Body, h.max+1))
	if err != nil {
		return nil, failf(http.StatusBadRequest, "reading body: %v", err)
	}
	if int64(buf.Len()) > h.max {
		return nil, failf(http.StatusRequestEntityTooLarge, "body over the limit of %d bytes", h.max)
	}
	return buf.Bytes(), nil
}

// checkName refuses resource names no client should make.
func checkName(name string) error {
	if len(name) > 255 {
		return failf(http.StatusForbidden, "resource name longer than 255 bytes")
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return failf(http.StatusForbidden, "control character in resource name")
		}
	}
	return nil
}

// checkContentType accepts a PUT's media type: text/vcard (RFC 6350 §10.1)
// and the older names clients still send; an absent type is read as vCard.
// RFC 6352 §6.3.2.1: anything else fails supported-address-data.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	t, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return &httpError{Status: http.StatusForbidden, Cond: condSupportedAddressData, Err: fmt.Errorf("malformed Content-Type %q", ct)}
	}
	switch t {
	case "text/vcard", "text/x-vcard", "text/directory":
	default:
		return &httpError{Status: http.StatusForbidden, Cond: condSupportedAddressData, Err: fmt.Errorf("unsupported Content-Type %q", t)}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return &httpError{Status: http.StatusForbidden, Cond: condSupportedAddressData, Err: fmt.Errorf("unsupported charset %q", cs)}
	}
	return nil
}

// etagListMatch reports whether an If-Match / If-None-Match value matches
// etag (RFC 9110 §13.1.1, §13.1.2): "*" matches any existing resource;
// weak selects weak comparison (RFC 9110 §8.8.3.2).
func etagListMatch(list, etag string, weak bool) bool {
	if etag == "" {
		return false
	}
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if weak {
			if strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
				return true
			}
		} else if t == etag && !strings.HasPrefix(t, "W/") {
			return true
		}
	}
	return false
}
