package dav

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
)

// Property names.
var (
	pResourceType         = dn("resourcetype")
	pDisplayName          = dn("displayname")
	pGetETag              = dn("getetag")
	pGetContentType       = dn("getcontenttype")
	pGetContentLength     = dn("getcontentlength")
	pCurrentUserPrincipal = dn("current-user-principal") // RFC 5397 §3
	pPrincipalURL         = dn("principal-URL")          // RFC 3744 §4.2
	pSupportedReportSet   = dn("supported-report-set")   // RFC 3253 §3.1.5
	pHomeSet              = cn("addressbook-home-set")   // RFC 6352 §7.1.1
	pDescription          = cn("addressbook-description")
	pSupportedAddressData = cn("supported-address-data") // RFC 6352 §6.2.2
	pMaxResourceSize      = cn("max-resource-size")      // RFC 6352 §6.2.3
)

// servePropfind answers PROPFIND (RFC 4918 §9.1) on every resource of the
// layout itself: go-webdav v0.6.0 reads a missing Depth as infinity and
// walks everything, types resources by path depth (which our layout does
// not follow), and builds the answer in memory.
func (h *handler) servePropfind(w http.ResponseWriter, r *http.Request, t target) error {
	depth := r.Header.Get("Depth")
	switch depth {
	case "0", "1":
	case "", "infinity":
		// RFC 4918 §10.2: no Depth means infinity. Root and principal
		// list no members, an object has none: infinity is depth 0 there.
		if t.kind == kindHome || t.kind == kindCollection {
			return &httpError{Status: http.StatusForbidden, Cond: condPropfindFiniteDepth,
				Err: errors.New("Depth: infinity is not supported on collections")}
		}
		depth = "0"
	default:
		return failf(http.StatusBadRequest, "invalid Depth %q", depth)
	}
	body, err := h.readBody(r)
	if err != nil {
		return err
	}
	pf, err := parsePropfind(body)
	if err != nil {
		return failf(http.StatusBadRequest, "%v", err)
	}
	user := t.user
	if t.kind == kindRoot {
		user, _ = UserFrom(r.Context())
	}

	// Everything that can fail with a status is looked up before the 207
	// is sent.
	var (
		books []Collection
		book  Collection
		obj   Object
	)
	switch t.kind {
	case kindHome:
		if depth == "1" {
			all, err := h.st.Collections(r.Context(), user)
			if err != nil {
				return err
			}
			for _, c := range all {
				if c.Kind == AddressBook {
					books = append(books, c)
				}
			}
		}
	case kindCollection:
		if book, err = h.collection(r, t); err != nil {
			return err
		}
	case kindObject:
		if _, err := h.collection(r, t); err != nil {
			return err
		}
		if obj, err = h.st.Get(r.Context(), t.user, t.slug, t.name); err != nil {
			return err
		}
	}

	m := startMultistatus(w)
	switch t.kind {
	case kindRoot:
		m.response(t.root, &pf, rootProps(user))
	case kindPrincipal:
		m.response(principalPath(user), &pf, principalProps(user))
	case kindHome:
		m.response(homePath(user), &pf, homeProps(user))
		for _, c := range books {
			m.response(collectionPath(user, c.Slug), &pf, h.bookProps(user, c))
		}
	case kindCollection:
		m.response(collectionPath(user, book.Slug), &pf, h.bookProps(user, book))
		if depth == "1" {
			withBody := false
			for _, n := range pf.props {
				withBody = withBody || n == pGetContentLength
			}
			err := h.st.List(r.Context(), user, book.Slug, withBody, func(o Object) error {
				m.response(objectPath(user, book.Slug, o.Name), &pf, objectProps(user, o, withBody))
				return nil
			})
			if err != nil {
				m.abort()
				h.logRefused(r, http.StatusInternalServerError, "listing cut short: "+err.Error())
				return nil
			}
		}
	case kindObject:
		m.response(objectPath(user, t.slug, t.name), &pf, objectProps(user, obj, true))
	}
	return m.finish()
}

func dn(local string) xml.Name { return xml.Name{Space: nsDAV, Local: local} }
func cn(local string) xml.Name { return xml.Name{Space: nsCard, Local: local} }

// discoveryProps are what a client asks of the context path and of the
// principal (RFC 6764 §6, RFC 5397, RFC 6352 §7.1.1). They are part of
// allprop here: a client that follows a redirect may resend PROPFIND
// without its body, which is allprop.
func discoveryProps(user string) []prop {
	return []prop{
		{name: pCurrentUserPrincipal, allprop: true, inner: hrefXML(principalPath(user))},
		{name: pPrincipalURL, allprop: true, inner: hrefXML(principalPath(user))},
		{name: pHomeSet, allprop: true, inner: hrefXML(homePath(user))},
	}
}

func rootProps(user string) []prop {
	return append(discoveryProps(user),
		prop{name: pResourceType, allprop: true, inner: "<D:collection/>"},
		prop{name: pDisplayName, allprop: true, inner: "crmdav"},
	)
}

func principalProps(user string) []prop {
	return append(discoveryProps(user),
		prop{name: pResourceType, allprop: true, inner: "<D:collection/><D:principal/>"},
		prop{name: pDisplayName, allprop: true, inner: esc(user)},
	)
}

func homeProps(user string) []prop {
	return []prop{
		{name: pResourceType, allprop: true, inner: "<D:collection/>"},
		{name: pCurrentUserPrincipal, inner: hrefXML(principalPath(user))},
	}
}

func (h *handler) bookProps(user string, c Collection) []prop {
	name := c.DisplayName
	if name == "" {
		name = c.Slug
	}
	ps := []prop{
		{name: pResourceType, allprop: true, inner: "<D:collection/><C:addressbook/>"},
		{name: pDisplayName, allprop: true, inner: esc(name)},
		{name: pCurrentUserPrincipal, inner: hrefXML(principalPath(user))},
		{name: pSupportedAddressData, inner: `<C:address-data-type content-type="text/vcard" version="3.0"/>` +
			`<C:address-data-type content-type="text/vcard" version="4.0"/>`},
		{name: pMaxResourceSize, inner: strconv.FormatInt(h.max, 10)},
		{name: pSupportedReportSet, inner: "<D:supported-report><D:report><C:addressbook-multiget/></D:report></D:supported-report>" +
			"<D:supported-report><D:report><C:addressbook-query/></D:report></D:supported-report>"},
	}
	if c.Description != "" {
		ps = append(ps, prop{name: pDescription, inner: esc(c.Description)})
	}
	return ps
}

// objectProps are a vCard's properties; getcontentlength only when the
// body is at hand.
func objectProps(user string, o Object, withBody bool) []prop {
	ps := []prop{
		{name: pResourceType, allprop: true, inner: ""},
		{name: pGetETag, allprop: true, inner: esc(o.ETag)},
		{name: pGetContentType, allprop: true, inner: esc(vcardType)},
		{name: pCurrentUserPrincipal, inner: hrefXML(principalPath(user))},
	}
	if withBody {
		ps = append(ps, prop{name: pGetContentLength, allprop: true, inner: strconv.Itoa(len(o.Body))})
	}
	return ps
}
