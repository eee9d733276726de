package dav

import (
	"bytes"
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
// response per href, in request order, each object fetched alone. An
// href that names nothing of this user is its own 404 (403 for another
// user's path) inside the 207.
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
	for _, n := range root.children {
		if n.name != dn("href") {
			continue
		}
		raw := strings.TrimSpace(n.text.String())
		u, err := url.Parse(raw)
		if err != nil {
			m.w.WriteString("<D:response><D:href>" + esc(raw) + "</D:href><D:status>" + statusLine(http.StatusBadRequest) + "</D:status></D:response>")
			continue
		}
		ot, err := parsePath(u.Path)
		switch {
		case err != nil || ot.kind != kindObject:
			m.statusResponse(u.Path, http.StatusNotFound, xml.Name{}, "")
			continue
		case ot.user != t.user:
			// DESIGN invariant 8, as for a request to that path.
			m.statusResponse(u.Path, http.StatusForbidden, xml.Name{}, "")
			continue
		}
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
			m.statusResponse(u.Path, http.StatusNotFound, xml.Name{}, "")
			continue
		}
		o, err := h.st.Get(ctx, ot.user, ot.slug, ot.name)
		if errors.Is(err, ErrNotFound) {
			m.statusResponse(u.Path, http.StatusNotFound, xml.Name{}, "")
			continue
		}
		if err != nil {
			m.abort()
			h.logRefused(r, http.StatusInternalServerError, "multiget cut short: "+err.Error())
			return nil
		}
		m.response(objectPath(ot.user, ot.slug, o.Name), &pr.propfindReq, objectProps(t.user, *oc, o, true, &pr))
	}
	return m.finish()
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
		m.response(objectPath(t.user, c.Slug, o.Name), &pr.propfindReq, objectProps(t.user, c, o, true, &pr))
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
