package dav

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Properties a client may set on its collections (PROPPATCH): they are
// the user's own view, kept by the Store (Store.SetProps), never sent to
// the CRM. The description comes from the CRM and is not settable.
var settable = map[xml.Name]bool{pDisplayName: true, pColor: true, pOrder: true}

// serveProppatch answers PROPPATCH (RFC 4918 §9.2) on a user's collection.
// RFC 4918 §9.2: instructions are all carried out or none is: a property
// we cannot set is 403 (409 for a value we refuse), and then every other
// property of the request is 424 Failed Dependency and nothing is stored.
// Elsewhere (root, principal, home, objects) nothing is settable: 403
// cannot-modify-protected-property.
func (h *handler) serveProppatch(w http.ResponseWriter, r *http.Request, t target) error {
	if t.kind != kindCollection {
		return &httpError{Status: http.StatusForbidden, Cond: condProtectedProperty,
			Err: errors.New("PROPPATCH is served on collections only")}
	}
	c, err := h.collection(r, t)
	if err != nil {
		return err
	}
	if c.ReadOnly {
		// Its privileges say read only (collectionPrivileges): RFC 3744
		// §7.1.1, PROPPATCH needs write-properties.
		return needPrivileges(collectionPath(t.user, t.slug), "write-properties",
			"the collection %q is read-only", c.Slug)
	}
	body, err := h.readBody(r)
	if err != nil {
		return err
	}
	root, err := parseTree(body)
	if err != nil {
		return failf(http.StatusBadRequest, "%v", err)
	}
	if root.name != dn("propertyupdate") {
		return failf(http.StatusBadRequest, "root element is not DAV:propertyupdate")
	}

	var (
		p      Props
		names  []xml.Name           // in first-seen order
		status = map[xml.Name]int{} // final status of each name
		reason string               // of the first refusal, for the log
	)
	for _, op := range root.children {
		remove := op.name == dn("remove")
		if !remove && op.name != dn("set") {
			continue
		}
		for _, pe := range op.children {
			if pe.name != dn("prop") {
				continue
			}
			for _, n := range pe.children {
				if _, seen := status[n.name]; !seen {
					names = append(names, n.name)
				}
				code, why := setProp(&p, n, remove)
				status[n.name] = code
				if code != http.StatusOK && reason == "" {
					reason = fmt.Sprintf("{%s}%s: %s", n.name.Space, n.name.Local, why)
				}
			}
		}
	}
	failed := false
	for _, n := range names {
		failed = failed || status[n] != http.StatusOK
	}
	if !failed && len(names) > 0 {
		if err := h.st.SetProps(r.Context(), t.user, c.Slug, p); err != nil {
			return err
		}
	}
	groups := []propstat{
		{status: http.StatusOK},
		{status: http.StatusForbidden, desc: "Only displayname, calendar-color and calendar-order can be set here; the rest is defined by the CRM."},
		{status: http.StatusConflict, desc: "The value is not valid for this property."},
		{status: http.StatusFailedDependency, desc: "Not changed: another property of the request could not be set."},
	}
	for _, n := range names {
		code := status[n]
		if failed && code == http.StatusOK {
			code = http.StatusFailedDependency
		}
		for i := range groups {
			if groups[i].status == code {
				groups[i].names = append(groups[i].names, n)
			}
		}
	}
	if failed {
		h.logRefused(r, http.StatusForbidden, "PROPPATCH not applied: "+reason)
	}
	m := startMultistatus(w)
	if len(names) == 0 {
		m.statusResponse(collectionPath(t.user, c.Slug), http.StatusOK, xml.Name{}, "")
	} else {
		m.propstatResponse(collectionPath(t.user, c.Slug), groups)
	}
	return m.finish()
}

// setProp applies one set or remove instruction to p, and returns its
// status: 200, 403 (not settable) or 409 (a value we refuse, RFC 4918
// §9.2.1). Removing a property clears it.
func setProp(p *Props, n *node, remove bool) (int, string) {
	if !settable[n.name] {
		return http.StatusForbidden, "not settable"
	}
	if len(n.children) > 0 {
		return http.StatusConflict, "value has elements"
	}
	v := strings.TrimSpace(n.text)
	if remove {
		v = ""
	}
	switch n.name {
	case pDisplayName:
		if len(v) > 1024 || !utf8.ValidString(v) {
			return http.StatusConflict, "display name longer than 1024 bytes"
		}
		p.DisplayName = &v
	case pColor:
		if v != "" && !isColor(v) {
			return http.StatusConflict, fmt.Sprintf("colour %q is not #RRGGBB or #RRGGBBAA", v)
		}
		p.Color = &v
	case pOrder:
		o := 0
		if v != "" {
			var err error
			if o, err = strconv.Atoi(v); err != nil {
				return http.StatusConflict, fmt.Sprintf("order %q is not an integer", v)
			}
		}
		p.Order = &o
	}
	return http.StatusOK, ""
}

// isColor accepts Apple's calendar-color values: #RRGGBB or #RRGGBBAA.
func isColor(s string) bool {
	if len(s) != 7 && len(s) != 9 || s[0] != '#' {
		return false
	}
	for _, c := range s[1:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// serveMkcol refuses MKCOL, extended MKCOL (RFC 5689) and MKCALENDAR (RFC
// 4791 §5.3.1): the CRM defines a user's collections (a user's address
// book is their CRM contacts; calendars come from CRM activities), so a
// client cannot make one. 403 with a DAV:error holding our own
// crmdav:collections-defined-by-crm element, whose text says so to a
// person: no RFC precondition fits (calendar-collection-location-ok
// would tell the client to try elsewhere). serveError logs it once.
func (h *handler) serveMkcol(r *http.Request) error {
	return &httpError{Status: http.StatusForbidden, Cond: condByCRM,
		Text: "Address books and calendars are defined by the CRM and cannot be created here.",
		Err:  fmt.Errorf("%s refused: collections are defined by the CRM", r.Method)}
}
