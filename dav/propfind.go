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
	pAddressData          = cn("address-data")           // RFC 6352 §10.4
	pGetCTag              = xml.Name{Space: nsCS, Local: "getctag"}
	pSyncToken            = dn("sync-token")                 // RFC 6578 §4
	pPrivileges           = dn("current-user-privilege-set") // RFC 3744 §5.4
	pOwner                = dn("owner")                      // RFC 3744 §5.1
	pColor                = xml.Name{Space: nsApple, Local: "calendar-color"}
	pOrder                = xml.Name{Space: nsApple, Local: "calendar-order"}

	pCalHomeSet            = ln("calendar-home-set")                // RFC 4791 §6.2.1
	pCalUserAddressSet     = ln("calendar-user-address-set")        // RFC 6638 §2.4.1
	pCalDescription        = ln("calendar-description")             // RFC 4791 §5.2.1
	pSupportedComponentSet = ln("supported-calendar-component-set") // RFC 4791 §5.2.3
	pSupportedCalData      = ln("supported-calendar-data")          // RFC 4791 §5.2.4
	pCalMaxResourceSize    = ln("max-resource-size")                // RFC 4791 §5.2.5
	pSupportedCollations   = ln("supported-collation-set")          // RFC 4791 §7.5.1
	pCalendarData          = ln("calendar-data")                    // RFC 4791 §9.6
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
				if served(c.Kind) {
					books = append(books, c)
				}
			}
		}
	case kindCollection:
		if book, err = h.collection(r, t); err != nil {
			return err
		}
	case kindObject:
		if book, err = h.collection(r, t); err != nil {
			return err
		}
		if obj, err = h.st.Get(r.Context(), t.user, t.slug, t.name); err != nil {
			return err
		}
	}

	m := startMultistatus(w)
	switch t.kind {
	case kindRoot:
		m.response(t.root, &pf, h.rootProps(user))
	case kindPrincipal:
		m.response(principalPath(user), &pf, h.principalProps(user))
	case kindHome:
		m.response(homePath(user), &pf, homeProps(user))
		for _, c := range books {
			m.response(collectionPath(user, c.Slug), &pf, h.collectionProps(user, c))
		}
	case kindCollection:
		m.response(collectionPath(user, book.Slug), &pf, h.collectionProps(user, book))
		if depth == "1" {
			withBody := false
			for _, n := range pf.props {
				withBody = withBody || n == pGetContentLength
			}
			ow := m.objectWriter(user, book, withBody, nil, &pf)
			err := h.st.List(r.Context(), user, book.Slug, withBody, func(o Object) error {
				ow.write(&o)
				return nil
			})
			if err != nil {
				m.abort()
				h.logRefused(r, http.StatusInternalServerError, "listing cut short: "+err.Error())
				return nil
			}
		}
	case kindObject:
		m.response(objectPath(user, t.slug, t.name), &pf, objectProps(user, book, obj, true, nil))
	}
	return m.finish()
}

func dn(local string) xml.Name { return xml.Name{Space: nsDAV, Local: local} }
func cn(local string) xml.Name { return xml.Name{Space: nsCard, Local: local} }
func ln(local string) xml.Name { return xml.Name{Space: nsCal, Local: local} }

// kindInfo is what differs between the kinds of collection we serve.
// The code that serves collections reads this table and not the kind.
type kindInfo struct {
	resourceType string                  // inner XML of DAV:resourcetype
	reports      []xml.Name              // REPORTs beside sync-collection
	description  xml.Name                // the description property
	maxSize      xml.Name                // the max-resource-size property
	dataProps    func(Collection) []prop // e.g. supported-address-data
	contentType  string                  // of every object
	dataProp     xml.Name                // the object data property of REPORTs (address-data)
	// checkType checks a PUT's Content-Type, check its body (what dav
	// promises Store.Put), before the Store sees it.
	checkType func(ct string) error
	check     func(c Collection, body []byte) error
	// invalid and uidConflict are the preconditions of a body the Store
	// refuses (ErrInvalid) and of a UID in use (ErrConflict).
	invalid, uidConflict xml.Name
}

var kinds = map[string]*kindInfo{
	AddressBook: {
		resourceType: "<D:collection/><C:addressbook/>",
		reports:      []xml.Name{reportMultiget, reportQuery},
		description:  pDescription,
		maxSize:      pMaxResourceSize,
		dataProps: func(Collection) []prop {
			return []prop{{name: pSupportedAddressData, inner: `<C:address-data-type content-type="text/vcard" version="3.0"/>` +
				`<C:address-data-type content-type="text/vcard" version="4.0"/>`}}
		},
		contentType: vcardType,
		dataProp:    pAddressData,
		checkType:   checkContentType,
		check:       func(_ Collection, body []byte) error { return checkCard(body) },
		invalid:     condValidAddressData,
		uidConflict: condNoUIDConflict,
	},
	// RFC 4791 §4.2, §5.2, §7.
	Calendar: {
		resourceType: "<D:collection/><L:calendar/>",
		reports:      []xml.Name{reportCalMultiget, reportCalQuery},
		description:  pCalDescription,
		maxSize:      pCalMaxResourceSize,
		dataProps:    calendarProps,
		contentType:  calendarType,
		dataProp:     pCalendarData,
		checkType:    checkCalendarType,
		check:        checkCalendar,
		invalid:      condValidCalendarData,
		uidConflict:  condCalNoUIDConflict,
	},
}

// served reports whether dav serves collections of a kind.
func served(kind string) bool { return kinds[kind] != nil }

// Privileges (RFC 3744 §3, §5.4). A user holds all of these on their own
// collections: the CRM enforces its own rights when the change is pushed
// (DESIGN "Who acts"). Homes and principals are read-only: collections
// are defined by the CRM (MKCOL is refused), so there is no bind there.
const (
	privRead   = "<D:privilege><D:read/></D:privilege><D:privilege><D:read-current-user-privilege-set/></D:privilege>"
	privWrite  = "<D:privilege><D:write/></D:privilege><D:privilege><D:write-content/></D:privilege><D:privilege><D:write-properties/></D:privilege>"
	privMember = "<D:privilege><D:bind/></D:privilege><D:privilege><D:unbind/></D:privilege>"
	// An object's body can be replaced (PUT); it has no settable
	// properties (PROPPATCH is refused), so no DAV:write aggregate.
	privObject = "<D:privilege><D:write-content/></D:privilege>"
)

// discoveryProps are what a client asks of the context path and of the
// principal (RFC 6764 §6, RFC 5397, RFC 6352 §7.1.1). They are part of
// allprop here: a client that follows a redirect may resend PROPFIND
// without its body, which is allprop.
//
// Address books and calendars share one home (RFC 4791 §6.2.1 and RFC
// 6352 §7.1.1 allow it): its Depth 1 listing holds both kinds, told apart
// by resourcetype. calendar-user-address-set (RFC 6638 §2.4.1) is the
// user's mailto: address from Options.UserAddress, absent when unknown.
func (h *handler) discoveryProps(user string) []prop {
	ps := []prop{
		{name: pCurrentUserPrincipal, allprop: true, inner: hrefXML(principalPath(user))},
		{name: pPrincipalURL, allprop: true, inner: hrefXML(principalPath(user))},
		{name: pHomeSet, allprop: true, inner: hrefXML(homePath(user))},
		{name: pCalHomeSet, allprop: true, inner: hrefXML(homePath(user))},
	}
	if a := h.userAddress(user); a != "" {
		ps = append(ps, prop{name: pCalUserAddressSet, inner: "<D:href>" + esc(a) + "</D:href>"})
	}
	return ps
}

func (h *handler) rootProps(user string) []prop {
	return append(h.discoveryProps(user),
		prop{name: pResourceType, allprop: true, inner: "<D:collection/>"},
		prop{name: pDisplayName, allprop: true, inner: "crmdav"},
		prop{name: pPrivileges, inner: privRead},
	)
}

func (h *handler) principalProps(user string) []prop {
	return append(h.discoveryProps(user),
		prop{name: pResourceType, allprop: true, inner: "<D:collection/><D:principal/>"},
		prop{name: pDisplayName, allprop: true, inner: esc(user)},
		prop{name: pPrivileges, inner: privRead},
	)
}

func homeProps(user string) []prop {
	return []prop{
		{name: pResourceType, allprop: true, inner: "<D:collection/>"},
		{name: pCurrentUserPrincipal, inner: hrefXML(principalPath(user))},
		{name: pOwner, inner: hrefXML(principalPath(user))},
		{name: pPrivileges, inner: privRead},
	}
}

// collectionProps are a collection's properties (issue 5). getctag and
// sync-token come from the same revision, so they change together and
// once per change (DESIGN invariant 5). RFC 6578 §4: sync-token is not
// part of allprop; nor are the other computed properties.
func (h *handler) collectionProps(user string, c Collection) []prop {
	k := kinds[c.Kind]
	name := c.DisplayName
	if name == "" {
		name = c.Slug
	}
	reports := "<D:supported-report><D:report><D:sync-collection/></D:report></D:supported-report>"
	for _, r := range k.reports {
		reports += "<D:supported-report><D:report>" + element(r, "") + "</D:report></D:supported-report>"
	}
	ps := []prop{
		{name: pResourceType, allprop: true, inner: k.resourceType},
		{name: pDisplayName, allprop: true, inner: esc(name)},
		{name: pGetCTag, inner: strconv.FormatInt(c.Revision, 10)},
		{name: pSyncToken, inner: esc(syncToken(user, c.Slug, c.Revision, ""))},
		{name: pSupportedReportSet, inner: reports},
		{name: pPrivileges, inner: collectionPrivileges(c)},
		{name: pOwner, inner: hrefXML(principalPath(user))},
		{name: pCurrentUserPrincipal, inner: hrefXML(principalPath(user))},
		{name: k.maxSize, inner: strconv.FormatInt(h.max, 10)},
	}
	ps = append(ps, k.dataProps(c)...)
	if c.Description != "" {
		ps = append(ps, prop{name: k.description, allprop: true, inner: esc(c.Description)})
	}
	// Apple's properties exist only once set (PROPPATCH or the CRM); an
	// order of 0 reads as unset.
	if c.Color != "" {
		ps = append(ps, prop{name: pColor, allprop: true, inner: esc(c.Color)})
	}
	if c.Order != 0 {
		ps = append(ps, prop{name: pOrder, allprop: true, inner: strconv.Itoa(c.Order)})
	}
	return ps
}

// collectionPrivileges (RFC 3744 §5.4): a read-only collection (issue 6:
// the e-mails) grants reading only; PUT, DELETE and PROPPATCH there are
// 403 DAV:need-privileges.
func collectionPrivileges(c Collection) string {
	if c.ReadOnly {
		return privRead
	}
	return privRead + privWrite + privMember
}

// objectProps are an object's properties; getcontentlength and the
// object's data (address-data, calendar-data) only when the body is at
// hand, the data only when a REPORT asks for it by name (pr != nil).
func objectProps(user string, c Collection, o Object, withBody bool, pr *propReq) []prop {
	k := kinds[c.Kind]
	priv := privRead + privObject
	if c.ReadOnly {
		priv = privRead
	}
	ps := []prop{
		{name: pResourceType, allprop: true, inner: ""},
		{name: pGetETag, allprop: true, inner: esc(o.ETag)},
		{name: pGetContentType, allprop: true, inner: esc(k.contentType)},
		{name: pCurrentUserPrincipal, inner: hrefXML(principalPath(user))},
		{name: pPrivileges, inner: priv},
	}
	if withBody {
		ps = append(ps, prop{name: pGetContentLength, allprop: true, inner: strconv.Itoa(len(o.Body))})
		switch {
		case pr == nil:
		case c.Kind == AddressBook && pr.data != nil:
			ps = append(ps, prop{name: pAddressData, inner: esc(string(addressData(o.Body, pr.data)))})
		case c.Kind == Calendar && pr.calData:
			// RFC 4791 §9.6: the object as stored; C:comp / C:prop
			// partial retrieval is answered with the whole object, which
			// §9.6 permits a client to receive (it asked for a subset of
			// it). C:expand and kin are refused when parsed.
			ps = append(ps, prop{name: pCalendarData, inner: esc(string(o.Body))})
		}
	}
	return ps
}
