package dav

import (
	"net/http"
	"strings"
	"testing"
)

func proppatch(set, remove string) string {
	b := `<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/" xmlns:CS="http://calendarserver.org/ns/" xmlns:C="urn:ietf:params:xml:ns:carddav">`
	if set != "" {
		b += "<D:set><D:prop>" + set + "</D:prop></D:set>"
	}
	if remove != "" {
		b += "<D:remove><D:prop>" + remove + "</D:prop></D:remove>"
	}
	return b + "</D:propertyupdate>"
}

const propfindCollection = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav" xmlns:CS="http://calendarserver.org/ns/" xmlns:A="http://apple.com/ns/ical/">
  <D:prop>
    <D:resourcetype/><D:displayname/><CS:getctag/><D:sync-token/><D:supported-report-set/>
    <D:current-user-privilege-set/><D:owner/><C:supported-address-data/><C:max-resource-size/>
    <C:addressbook-description/><A:calendar-color/><A:calendar-order/><D:getetag/><D:getcontenttype/>
    <X:unknown xmlns:X="urn:x"/>
  </D:prop>
</D:propfind>`

func TestCollectionProps(t *testing.T) {
	f := newFixture(t, Options{})
	book := "/dav/alice/contacts/"
	f.mustPut(book+"a.vcf", card("a", "Ann"))
	ms := parseMS(t, f.do("alice", "PROPFIND", book, propfindCollection, "Depth", "1"))
	r, ok := ms.find(book)
	if !ok || len(ms.Responses) != 2 {
		t.Fatalf("responses %v", ms.hrefs())
	}
	if rt := okProp(t, r, "resourcetype"); !strings.Contains(rt, "addressbook") {
		t.Fatalf("resourcetype %q", rt)
	}
	if got := okText(t, r, "getctag"); got != "2" {
		t.Fatalf("getctag %q", got)
	}
	if got := okText(t, r, "sync-token"); got != syncToken("alice", "contacts", 2, "") {
		t.Fatalf("sync-token %q", got)
	}
	reports := okProp(t, r, "supported-report-set")
	for _, rep := range []string{"sync-collection", "addressbook-multiget", "addressbook-query"} {
		if !strings.Contains(reports, ":"+rep+"/>") {
			t.Fatalf("supported-report-set lacks %s: %s", rep, reports)
		}
	}
	privs := okProp(t, r, "current-user-privilege-set")
	for _, p := range []string{"read", "write", "write-content", "write-properties", "bind", "unbind", "read-current-user-privilege-set"} {
		if !strings.Contains(privs, ":"+p+"/>") {
			t.Fatalf("current-user-privilege-set lacks %s: %s", p, privs)
		}
	}
	if got := hrefIn(t, okProp(t, r, "owner")); got != "/dav/principals/alice/" {
		t.Fatalf("owner %q", got)
	}
	if sad := okProp(t, r, "supported-address-data"); !strings.Contains(sad, `version="3.0"`) || !strings.Contains(sad, `version="4.0"`) {
		t.Fatalf("supported-address-data %s", sad)
	}
	if got := okText(t, r, "max-resource-size"); got != "10485760" {
		t.Fatalf("max-resource-size %q", got)
	}
	// Not set, not ours, or not a collection's: 404, in one propstat.
	var missing []string
	for _, ps := range r.PropStats {
		if strings.Contains(ps.Status, " 404 ") {
			for _, p := range ps.Prop.Props {
				missing = append(missing, p.XMLName.Local)
			}
		}
	}
	if strings.Join(missing, " ") != "addressbook-description calendar-color calendar-order getetag getcontenttype unknown" || len(r.PropStats) != 2 {
		t.Fatalf("404 propstat %v of %d", missing, len(r.PropStats))
	}
	o, _ := ms.find(book + "a.vcf")
	okProp(t, o, "getetag")
	if got := okText(t, o, "getcontenttype"); got != "text/vcard; charset=utf-8" {
		t.Fatalf("getcontenttype %q", got)
	}

	// Set properties appear; allprop holds them and not the sync-token.
	f.st.colls["alice"][0].Description = "From the CRM"
	f.do("alice", "PROPPATCH", book, proppatch(`<A:calendar-color>#FF0000FF</A:calendar-color><A:calendar-order>3</A:calendar-order>`, ""))
	ms = parseMS(t, f.do("alice", "PROPFIND", book, propfindCollection, "Depth", "0"))
	r = ms.Responses[0]
	if okText(t, r, "addressbook-description") != "From the CRM" || okText(t, r, "calendar-color") != "#FF0000FF" || okText(t, r, "calendar-order") != "3" {
		t.Fatalf("set properties: %+v", r)
	}
	ms = parseMS(t, f.do("alice", "PROPFIND", book, `<propfind xmlns="DAV:"><allprop/></propfind>`, "Depth", "0"))
	r = ms.Responses[0]
	okProp(t, r, "calendar-color")
	if _, _, ok := r.prop("sync-token"); ok {
		t.Fatal("RFC 6578 §4: sync-token in allprop")
	}
	// propname names everything, empty.
	ms = parseMS(t, f.do("alice", "PROPFIND", book, `<propfind xmlns="DAV:"><propname/></propfind>`, "Depth", "0"))
	for _, n := range []string{"getctag", "sync-token", "current-user-privilege-set", "owner", "supported-report-set"} {
		if inner := okProp(t, ms.Responses[0], n); inner != "" {
			t.Fatalf("propname %s: %q", n, inner)
		}
	}

	// Home and principal: read-only privileges.
	for _, p := range []string{"/dav/alice/", "/dav/principals/alice/", "/dav/"} {
		ms := parseMS(t, f.do("alice", "PROPFIND", p, `<propfind xmlns="DAV:"><prop><current-user-privilege-set/></prop></propfind>`, "Depth", "0"))
		privs := okProp(t, ms.Responses[0], "current-user-privilege-set")
		if !strings.Contains(privs, ":read/>") || strings.Contains(privs, "bind") || strings.Contains(privs, "write") {
			t.Fatalf("%s privileges %s", p, privs)
		}
	}
}

func TestProppatch(t *testing.T) {
	f := newFixture(t, Options{})
	book := "/dav/alice/contacts/"
	statuses := func(a answer) map[string]string {
		t.Helper()
		ms := parseMS(t, a)
		out := map[string]string{}
		for _, ps := range ms.Responses[0].PropStats {
			for _, p := range ps.Prop.Props {
				out[p.XMLName.Local] = strings.Fields(ps.Status)[1]
			}
		}
		return out
	}
	unchanged := func() {
		t.Helper()
		c, _ := f.st.Collection(t.Context(), "alice", "contacts")
		if f.st.setProps != 0 || c.DisplayName != "alice's contacts" || c.Color != "" || c.Revision != 1 {
			t.Fatalf("stored after a refused PROPPATCH: %+v (%d)", c, f.st.setProps)
		}
	}

	// Atomicity (RFC 4918 §9.2): one property not settable → 403, every
	// other 424, nothing stored.
	got := statuses(f.do("alice", "PROPPATCH", book, proppatch(
		`<D:displayname>Mine</D:displayname><A:calendar-color>#00FF00</A:calendar-color><CS:getctag>7</CS:getctag><C:addressbook-description>x</C:addressbook-description>`,
		`<A:calendar-order/>`)))
	want := map[string]string{"displayname": "424", "calendar-color": "424", "calendar-order": "424", "getctag": "403", "addressbook-description": "403"}
	if len(got) != len(want) {
		t.Fatalf("statuses %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	unchanged()
	// A refused value: 409, the rest 424.
	got = statuses(f.do("alice", "PROPPATCH", book, proppatch(`<D:displayname>Mine</D:displayname><A:calendar-color>red</A:calendar-color>`, "")))
	if got["calendar-color"] != "409" || got["displayname"] != "424" {
		t.Fatalf("statuses %v", got)
	}
	got = statuses(f.do("alice", "PROPPATCH", book, proppatch(`<A:calendar-order>first</A:calendar-order>`, "")))
	if got["calendar-order"] != "409" {
		t.Fatalf("statuses %v", got)
	}
	unchanged()

	// All settable: 200, stored once, in the gateway.
	got = statuses(f.do("alice", "PROPPATCH", book, proppatch(`<D:displayname>Mine</D:displayname><A:calendar-color>#00FF00</A:calendar-color><A:calendar-order>2</A:calendar-order>`, "")))
	if got["displayname"] != "200" || got["calendar-color"] != "200" || got["calendar-order"] != "200" {
		t.Fatalf("statuses %v", got)
	}
	c, _ := f.st.Collection(t.Context(), "alice", "contacts")
	if c.DisplayName != "Mine" || c.Color != "#00FF00" || c.Order != 2 || f.st.setProps != 1 {
		t.Fatalf("stored %+v", c)
	}
	// Remove clears; displayname falls back to the slug.
	got = statuses(f.do("alice", "PROPPATCH", book, proppatch("", `<D:displayname/><A:calendar-color/>`)))
	if got["displayname"] != "200" || got["calendar-color"] != "200" {
		t.Fatalf("statuses %v", got)
	}
	ms := parseMS(t, f.do("alice", "PROPFIND", book, propfindCollection, "Depth", "0"))
	if okText(t, ms.Responses[0], "displayname") != "contacts" {
		t.Fatal("displayname not cleared")
	}
	if _, st, _ := ms.Responses[0].prop("calendar-color"); !strings.Contains(st, " 404 ") {
		t.Fatalf("calendar-color after remove: %s", st)
	}
	// Another user's collection.
	if a := f.do("alice", "PROPPATCH", "/dav/bob/contacts/", proppatch(`<D:displayname>Mine</D:displayname>`, "")); a.status != http.StatusForbidden {
		t.Fatalf("PROPPATCH of bob's: %d", a.status)
	}
}

func TestMkcolLogged(t *testing.T) {
	f := newFixture(t, Options{})
	before := f.log.String()
	a := f.do("alice", "MKCALENDAR", "/dav/alice/new/", "")
	if a.status != http.StatusForbidden || !strings.Contains(a.body, "collections-defined-by-crm") ||
		!strings.Contains(a.body, "defined by the CRM") || !strings.Contains(a.body, `xmlns:CR="http://crmdav.invalid/ns/"`) {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if n := strings.Count(strings.TrimPrefix(f.log.String(), before), "\n"); n != 1 {
		t.Fatalf("%d log lines", n)
	}
	a = f.do("alice", http.MethodOptions, "/dav/alice/contacts/", "")
	if a.header.Get("DAV") != "1, 3, calendar-access, addressbook" || !strings.Contains(a.header.Get("Allow"), "PROPPATCH") || strings.Contains(a.header.Get("Allow"), "MKCOL") {
		t.Fatalf("OPTIONS %v", a.header)
	}
}
