package dav

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/emersion/go-vcard"
)

// REPORT names we serve (RFC 6352 §8.6, §8.7, RFC 6578 §3).
var (
	reportQuery    = xml.Name{Space: nsCard, Local: "addressbook-query"}
	reportMultiget = xml.Name{Space: nsCard, Local: "addressbook-multiget"}
	reportSync     = xml.Name{Space: nsDAV, Local: "sync-collection"}
)

// serveReport answers REPORT on a user's own collection: sync-collection
// and the reports of the collection's kind (kindInfo.reports); others are
// 403 supported-report (RFC 3253 §3.6). Every answer is a streamed
// multistatus: one object is in memory at a time, and what is written
// reaches the client as the buffer fills.
func (h *handler) serveReport(w http.ResponseWriter, r *http.Request, t target) error {
	if t.kind != kindCollection {
		return &httpError{Status: http.StatusForbidden, Cond: condSupportedReport,
			Err: errors.New("REPORT is served on collections only")}
	}
	c, err := h.collection(r, t)
	if err != nil {
		return err
	}
	body, err := h.readBody(r)
	if err != nil {
		return err
	}
	root, err := parseTree(body)
	if err != nil {
		return failf(http.StatusBadRequest, "%v", err)
	}
	switch root.name {
	case reportSync:
		return h.serveSync(w, r, t, c, root)
	}
	for _, rep := range kinds[c.Kind].reports {
		if root.name != rep {
			continue
		}
		switch rep {
		case reportMultiget, reportCalMultiget:
			return h.serveMultiget(w, r, t, c, root)
		case reportQuery:
			return h.serveQuery(w, r, t, c, root)
		case reportCalQuery:
			return h.serveCalQuery(w, r, t, c, root)
		}
	}
	return &httpError{Status: http.StatusForbidden, Cond: condSupportedReport,
		Err: fmt.Errorf("unsupported report {%s}%s", root.name.Space, root.name.Local)}
}

// serveMultiget answers addressbook-multiget (RFC 6352 §8.7) and
// calendar-multiget (RFC 4791 §7.9), which have the same shape: one
// response per href, in request order. The hrefs are taken maxBatch at a
// time; those of the request's collection are looked up together when
// the Store is a BatchGetter. An href that names nothing of this user is
// its own 404 (403 for another user's path) inside the 207.
func (h *handler) serveMultiget(w http.ResponseWriter, r *http.Request, t target, c Collection, root *node) error {
	pr, err := parsePropReq(root)
	if err != nil {
		return asBadRequest(err)
	}
	ctx := r.Context()
	// Collections already looked up, by slug: at most the user's
	// collections, however many hrefs.
	colls := map[string]*Collection{c.Slug: &c}
	m := startMultistatus(w)
	ow := m.objectWriter(t.user, c, true, &pr, &pr.propfindReq)
	bg, _ := h.st.(BatchGetter)

	// mgEntry is one href of the request, as far as it is known before
	// its object is looked up.
	type mgEntry struct {
		raw    string // the href, when it is not a URL
		path   string
		status int // answered with this status, without lookup
		ot     target
		oc     *Collection
	}
	var (
		batch = make([]mgEntry, 0, min(len(root.children), maxBatch))
		names []string // of the entries in c, when looked up together
	)
	// write answers entry e, with its object o (nil: not found) when it
	// was looked up together.
	write := func(e *mgEntry, o *Object) error {
		switch {
		case e.status == http.StatusBadRequest:
			m.w.WriteString("<D:response><D:href>" + esc(e.raw) + "</D:href><D:status>" + statusLine(http.StatusBadRequest) + "</D:status></D:response>")
			return nil
		case e.status != 0:
			m.statusResponse(e.path, e.status, xml.Name{}, "")
			return nil
		}
		if o == nil && (bg == nil || names == nil) {
			got, err := h.st.Get(ctx, e.ot.user, e.ot.slug, e.ot.name)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			if err == nil {
				o = &got
			}
		}
		switch {
		case o == nil:
			m.statusResponse(e.path, http.StatusNotFound, xml.Name{}, "")
		case e.oc == &c:
			ow.write(o)
		default:
			m.response(objectPath(e.ot.user, e.ot.slug, o.Name), &pr.propfindReq, objectProps(t.user, *e.oc, *o, true, &pr))
		}
		return nil
	}
	flush := func() error {
		defer func() { batch, names = batch[:0], nil }()
		if bg != nil {
			// Together only when every entry to look up is in c: no
			// other lookup runs while the Store streams the batch.
			names = make([]string, 0, len(batch))
			for i := range batch {
				e := &batch[i]
				if e.status != 0 {
					continue
				}
				if e.oc != &c {
					names = nil
					break
				}
				names = append(names, e.ot.name)
			}
			if len(names) == 0 {
				names = nil // nothing to look up together
			}
		}
		if names == nil {
			for i := range batch {
				if err := write(&batch[i], nil); err != nil {
					return err
				}
			}
			return nil
		}
		next := 0 // the first entry not yet answered
		err := getInOrder(ctx, bg, t.user, c.Slug, names, func(_ int, o *Object) error {
			for ; batch[next].status != 0; next++ {
				write(&batch[next], nil)
			}
			e := &batch[next]
			next++
			if o == nil {
				m.statusResponse(e.path, http.StatusNotFound, xml.Name{}, "")
				return nil
			}
			ow.write(o)
			return nil
		})
		if err != nil {
			return err
		}
		for ; next < len(batch); next++ {
			write(&batch[next], nil)
		}
		return nil
	}
	for _, n := range root.children {
		if n.name != dn("href") {
			continue
		}
		raw := strings.TrimSpace(n.text)
		path, err := hrefPathOf(raw)
		if err != nil {
			batch = append(batch, mgEntry{raw: raw, status: http.StatusBadRequest})
		} else {
			e := mgEntry{path: path}
			ot, err := parsePath(path)
			switch {
			case err != nil || ot.kind != kindObject:
				e.status = http.StatusNotFound
			case ot.user != t.user:
				// DESIGN invariant 8, as for a request to that path.
				e.status = http.StatusForbidden
			default:
				oc, ok := colls[ot.slug]
				if !ok {
					cc, err := h.st.Collection(ctx, ot.user, ot.slug)
					switch {
					case err == nil && served(cc.Kind):
						oc = &cc
					case err == nil || errors.Is(err, ErrNotFound):
					default:
						m.abort()
						h.logRefused(r, http.StatusInternalServerError, "multiget cut short: "+err.Error())
						return nil
					}
					colls[ot.slug] = oc
				}
				if oc == nil {
					e.status = http.StatusNotFound
				}
				e.ot, e.oc = ot, oc
			}
			batch = append(batch, e)
		}
		if len(batch) == maxBatch {
			if err := flush(); err != nil {
				m.abort()
				h.logRefused(r, http.StatusInternalServerError, "multiget cut short: "+err.Error())
				return nil
			}
		}
	}
	if err := flush(); err != nil {
		m.abort()
		h.logRefused(r, http.StatusInternalServerError, "multiget cut short: "+err.Error())
		return nil
	}
	return m.finish()
}

// hrefPathOf is the path of a DAV:href, as url.Parse reads it. An
// absolute path with nothing to unescape (the hrefs clients send back) is
// its own path; url.Parse costs more than the rest of a multiget's
// per-href work.
func hrefPathOf(raw string) (string, error) {
	if plainHref(raw) {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	return u.Path, nil
}

// plainHref reports whether url.Parse would take raw whole as the path: it
// starts with "/" but not "//" (an authority), and has no escapes, query,
// fragment, control characters, spaces or backslashes.
func plainHref(raw string) bool {
	if len(raw) == 0 || raw[0] != '/' || len(raw) > 1 && raw[1] == '/' {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f || c == '%' || c == '?' || c == '#' || c == '\\' {
			return false
		}
	}
	return true
}

// getInOrder looks up names of collection user/slug with GetMany,
// maxBatch at a time, and calls fn for every name in order with its
// object, nil for a name that names nothing.
func getInOrder(ctx context.Context, bg BatchGetter, user, slug string, names []string, fn func(i int, o *Object) error) error {
	for start := 0; start < len(names); start += maxBatch {
		chunk := names[start:min(start+maxBatch, len(names))]
		i := 0
		err := bg.GetMany(ctx, user, slug, chunk, func(o Object) error {
			for ; i < len(chunk) && chunk[i] != o.Name; i++ {
				if err := fn(start+i, nil); err != nil {
					return err
				}
			}
			if i == len(chunk) {
				return fmt.Errorf("GetMany answered %q, not among the names asked for or out of their order", o.Name)
			}
			i++
			return fn(start+i-1, &o)
		})
		if err != nil {
			return err
		}
		for ; i < len(chunk); i++ {
			if err := fn(start+i, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// serveQuery answers addressbook-query (RFC 6352 §8.6) by reading the
// collection one object at a time and matching each with our own filter
// (match.go). C:limit (§8.6.1): after nresults matches, a further match
// ends the listing with a 507 response for the collection carrying
// DAV:number-of-matches-within-limits.
func (h *handler) serveQuery(w http.ResponseWriter, r *http.Request, t target, c Collection, root *node) error {
	pr, err := parsePropReq(root)
	if err != nil {
		return asBadRequest(err)
	}
	q, err := parseFilter(root.child(cn("filter")))
	if err != nil {
		return err
	}
	limit, err := parseLimit(root.child(cn("limit")), cn("nresults"))
	if err != nil {
		return err
	}
	var bad error // the first stored object we cannot read
	n, truncated := 0, false
	m := startMultistatus(w)
	ow := m.objectWriter(t.user, c, true, &pr, &pr.propfindReq)
	err = h.st.List(r.Context(), t.user, c.Slug, true, func(o Object) error {
		card, err := vcard.NewDecoder(bytes.NewReader(o.Body)).Decode()
		if err != nil {
			if bad == nil {
				bad = fmt.Errorf("stored vCard %s/%s: %w", c.Slug, o.Name, err)
			}
			return nil
		}
		if !q.match(card) {
			return nil
		}
		if limit > 0 && n == limit {
			truncated = true
			return errStop
		}
		ow.write(&o)
		n++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		m.abort()
		h.logRefused(r, http.StatusInternalServerError, "query cut short: "+err.Error())
		return nil
	}
	if bad != nil {
		// Answered, but a server fault is logged.
		h.logRefused(r, http.StatusInternalServerError, "in multistatus: "+bad.Error())
	}
	if truncated {
		m.statusResponse(collectionPath(t.user, c.Slug), http.StatusInsufficientStorage, condWithinLimits, "")
	}
	return m.finish()
}
