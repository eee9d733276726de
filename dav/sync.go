package dav

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Sync tokens (RFC 6578 §4: a URI, opaque to clients) have the form
//
//	http://crmdav.invalid/sync/<collection>/<revision>
//	http://crmdav.invalid/sync/<collection>/<revision>?after=<name>
//
// <collection> is the first 16 hex digits of SHA-256("<user>/<slug>"), so
// that a token of one collection is refused by every other (and names no
// user); <revision> is the collection's revision in decimal, the same
// number getctag shows. The second form is the continuation of an
// initial listing cut short by DAV:limit: the members named after <name>
// remain to be listed as of <revision>; once they are, the token is the
// first form with that revision, so changes made while the client paged
// are reported by the next incremental sync. The .invalid TLD (RFC 2606)
// keeps the URI from ever being dereferenced.
const syncPrefix = "http://crmdav.invalid/sync/"

func collectionID(user, slug string) string {
	sum := sha256.Sum256([]byte(user + "/" + slug))
	return hex.EncodeToString(sum[:8])
}

func syncToken(user, slug string, rev int64, after string) string {
	t := syncPrefix + collectionID(user, slug) + "/" + strconv.FormatInt(rev, 10)
	if after != "" {
		t += "?after=" + url.QueryEscape(after)
	}
	return t
}

// errBadToken is a sync token we did not issue for this collection, or
// one that is no longer valid: 403 DAV:valid-sync-token (RFC 6578 §3.2).
func errBadToken(format string, args ...any) error {
	return &httpError{Status: http.StatusForbidden, Cond: condValidSyncToken, Err: fmt.Errorf("sync-token: "+format, args...)}
}

// parseSyncToken reads a token of collection user/slug whose revision is
// now cur. An empty token asks for the initial listing (initial=true).
func parseSyncToken(tok, user, slug string, cur int64) (rev int64, after string, initial bool, err error) {
	if tok == "" {
		return cur, "", true, nil
	}
	rest, ok := strings.CutPrefix(tok, syncPrefix)
	if !ok {
		return 0, "", false, errBadToken("%q is not ours", tok)
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	id, num, ok := strings.Cut(rest, "/")
	if !ok || id != collectionID(user, slug) {
		return 0, "", false, errBadToken("%q is of another collection", tok)
	}
	rev, err = strconv.ParseInt(num, 10, 64)
	if err != nil || rev < 0 || strconv.FormatInt(rev, 10) != num {
		return 0, "", false, errBadToken("malformed revision in %q", tok)
	}
	if rev > cur {
		// A revision the collection has not reached: another database,
		// or a collection made anew.
		return 0, "", false, errBadToken("revision %d is ahead of the collection's %d", rev, cur)
	}
	if hasQuery {
		v, err := url.ParseQuery(query)
		after = v.Get("after")
		if err != nil || len(v) != 1 || after == "" {
			return 0, "", false, errBadToken("malformed continuation in %q", tok)
		}
		return rev, after, true, nil
	}
	return rev, "", false, nil
}

// syncReq is a parsed DAV:sync-collection body (RFC 6578 §6.1).
type syncReq struct {
	token string
	limit int // 0: none
	props propReq
}

func parseSyncReq(root *node) (syncReq, error) {
	var s syncReq
	tok := root.child(dn("sync-token"))
	if tok == nil {
		return s, failf(http.StatusBadRequest, "sync-collection without DAV:sync-token")
	}
	s.token = strings.TrimSpace(tok.text)
	// RFC 6578 §3.3: the level is 1 or infinite. Members of our
	// collections are never collections, but a client asking for
	// infinite is told we do not traverse. A missing level (drafts before
	// the RFC) reads as 1.
	if lv := root.child(dn("sync-level")); lv != nil {
		switch v := strings.TrimSpace(lv.text); v {
		case "1":
		case "infinite", "infinity":
			return s, &httpError{Status: http.StatusForbidden, Cond: condSyncTraversal,
				Err: errors.New("sync-level infinite is not supported")}
		default:
			return s, failf(http.StatusBadRequest, "sync-level %q", v)
		}
	}
	var err error
	if s.limit, err = parseLimit(root.child(dn("limit")), dn("nresults")); err != nil {
		return s, err
	}
	if s.props, err = parsePropReq(root); err != nil {
		return s, asBadRequest(err)
	}
	if root.child(dn("prop")) == nil && root.child(dn("allprop")) == nil && root.child(dn("propname")) == nil {
		// RFC 6578 §6.1 requires DAV:prop; without one the member
		// ETags are what a client can use.
		s.props = propReq{propfindReq: propfindReq{props: []xml.Name{pGetETag}}}
	}
	return s, nil
}

// parseLimit reads a DAV:limit (RFC 5323 §5.17) or C:limit (RFC 6352
// §10.6): nresults is a positive integer.
func parseLimit(n *node, nresults xml.Name) (int, error) {
	if n == nil {
		return 0, nil
	}
	nr := n.child(nresults)
	if nr == nil {
		return 0, failf(http.StatusBadRequest, "limit without nresults")
	}
	v, err := strconv.Atoi(strings.TrimSpace(nr.text))
	if err != nil || v < 1 {
		return 0, failf(http.StatusBadRequest, "nresults %q is not a positive integer", nr.text)
	}
	return v, nil
}

// errStop ends a Store.List early; it never leaves dav.
var errStop = errors.New("stop listing")

// serveSync answers REPORT sync-collection (RFC 6578 §3). An initial
// request (empty token) lists the members; an incremental one lists the
// members changed since the token's revision, from Store.Changes, at a
// cost that grows with the changes only (DESIGN invariant 5): each
// changed member is fetched alone, the collection is never listed.
func (h *handler) serveSync(w http.ResponseWriter, r *http.Request, t target, c Collection, root *node) error {
	// RFC 6578 §3.2 defines the report for Depth 0 only, but clients in
	// use (python3-caldav 0.11) send Depth 1, and servers answer them as
	// for 0; so do we. Depth infinity is refused.
	if d := r.Header.Get("Depth"); d != "" && d != "0" && d != "1" {
		return failf(http.StatusBadRequest, "sync-collection with Depth %q (must be 0)", d)
	}
	req, err := parseSyncReq(root)
	if err != nil {
		return err
	}
	rev, after, initial, err := parseSyncToken(req.token, t.user, c.Slug, c.Revision)
	if err != nil {
		return err
	}
	pr := &req.props
	withBody := pr.data != nil || pr.calData || pr.wants(pGetContentLength)
	ctx := r.Context()

	if initial {
		// The revision is read before the listing: a change made while
		// listing is reported again by the next sync, never lost.
		m := startMultistatus(w)
		n, last, truncated := 0, "", false
		ow := m.objectWriter(t.user, c, withBody, pr, &pr.propfindReq)
		err := h.st.List(ctx, t.user, c.Slug, withBody, func(o Object) error {
			if after != "" && o.Name <= after {
				return nil
			}
			if req.limit > 0 && n == req.limit {
				truncated = true
				return errStop
			}
			ow.write(&o)
			n++
			last = o.Name
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			m.abort()
			h.logRefused(r, http.StatusInternalServerError, "sync listing cut short: "+err.Error())
			return nil
		}
		next := syncToken(t.user, c.Slug, rev, "")
		if truncated {
			m.statusResponse(collectionPath(t.user, c.Slug), http.StatusInsufficientStorage, condWithinLimits, "")
			next = syncToken(t.user, c.Slug, rev, last)
		}
		m.raw("<D:sync-token>" + esc(next) + "</D:sync-token>")
		return m.finish()
	}

	changes, cur, err := h.st.Changes(ctx, t.user, c.Slug, rev)
	if errors.Is(err, ErrPrecondition) {
		return errBadToken("revision %d no longer kept: %v", rev, err)
	}
	if err != nil {
		return err
	}
	next, truncated := cur, false
	if req.limit > 0 && len(changes) > req.limit {
		// RFC 6578 §3.6: the token answered must cover exactly what was
		// reported. A revision is reported whole, so the cut is moved back
		// to a revision boundary; a single revision larger than the limit
		// is sent whole rather than never.
		cut := req.limit
		for cut > 0 && changes[cut].Revision == changes[cut-1].Revision {
			cut--
		}
		if cut == 0 {
			for cut = req.limit; cut < len(changes) && changes[cut].Revision == changes[cut-1].Revision; cut++ {
			}
		}
		if cut < len(changes) {
			changes, truncated, next = changes[:cut], true, changes[cut-1].Revision
		}
	}
	m := startMultistatus(w)
	// finish ends the answer: the truncation, if any, and the new token.
	finish := func() error {
		if truncated {
			m.statusResponse(collectionPath(t.user, c.Slug), http.StatusInsufficientStorage, condWithinLimits, "")
		}
		m.raw("<D:sync-token>" + esc(syncToken(t.user, c.Slug, next, "")) + "</D:sync-token>")
		return m.finish()
	}
	if !withBody && knownETags(changes) {
		// The change log has the ETags: no object is read.
		ow := m.objectWriter(t.user, c, false, pr, &pr.propfindReq)
		for i := range changes {
			ch := &changes[i]
			if ch.Deleted {
				m.statusResponse(objectPath(t.user, c.Slug, ch.Name), http.StatusNotFound, xml.Name{}, "")
				continue
			}
			ow.write(&Object{Name: ch.Name, ETag: ch.ETag})
		}
		return finish()
	}
	ow := m.objectWriter(t.user, c, true, pr, &pr.propfindReq)
	// answer writes change ch, with its object o (nil: none).
	answer := func(ch *Change, o *Object) {
		if o == nil {
			// RFC 6578 §3.5.2: a removed member is a 404 without
			// propstat; so is one deleted since Changes answered (the
			// next sync says so again).
			m.statusResponse(objectPath(t.user, c.Slug, ch.Name), http.StatusNotFound, xml.Name{}, "")
			return
		}
		ow.write(o)
	}
	if bg, ok := h.st.(BatchGetter); ok {
		// The changed members maxBatch at a time, each batch with one
		// GetMany; deletions are answered in their place between them.
		var names []string
		next := 0 // the first change not yet answered
		for len(changes[next:]) > 0 {
			names = names[:0]
			for _, ch := range changes[next:] {
				if len(names) == maxBatch {
					break
				}
				if !ch.Deleted {
					names = append(names, ch.Name)
				}
			}
			err := getInOrder(ctx, bg, t.user, c.Slug, names, func(_ int, o *Object) error {
				for ; changes[next].Deleted; next++ {
					answer(&changes[next], nil)
				}
				answer(&changes[next], o)
				next++
				return nil
			})
			if err != nil {
				m.abort()
				h.logRefused(r, http.StatusInternalServerError, "sync cut short: "+err.Error())
				return nil
			}
			if len(names) < maxBatch {
				for ; next < len(changes); next++ {
					answer(&changes[next], nil) // deletions after the last member
				}
			}
		}
	} else {
		for i := range changes {
			ch := &changes[i]
			if ch.Deleted {
				answer(ch, nil)
				continue
			}
			o, err := h.st.Get(ctx, t.user, c.Slug, ch.Name)
			if errors.Is(err, ErrNotFound) {
				answer(ch, nil)
				continue
			}
			if err != nil {
				m.abort()
				h.logRefused(r, http.StatusInternalServerError, "sync cut short: "+err.Error())
				return nil
			}
			answer(ch, &o)
		}
	}
	return finish()
}

// knownETags reports whether the store gave the ETag of every changed
// member that still exists.
func knownETags(changes []Change) bool {
	for i := range changes {
		if !changes[i].Deleted && changes[i].ETag == "" {
			return false
		}
	}
	return true
}
