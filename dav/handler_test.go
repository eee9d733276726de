package dav

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer collects log output written from server goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type fixture struct {
	t   *testing.T
	st  *memStore
	srv *httptest.Server
	log *lockedBuffer
}

// newFixture serves dav over real HTTP. Like the server, it authenticates
// with Basic auth (any password) and puts the user into the context.
func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{t: t, st: newMemStore(), log: &lockedBuffer{}}
	h := NewHandler(f.st, slog.New(slog.NewTextHandler(f.log, nil)), opts)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, _, ok := r.BasicAuth(); ok {
			r = r.WithContext(WithUser(r.Context(), u))
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

type answer struct {
	status int
	header http.Header
	body   string
}

// do sends one request as user ("" for none); hdr alternates names and
// values.
func (f *fixture) do(user, method, path, body string, hdr ...string) answer {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, "pw")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (f *fixture) put(user, path, card string, hdr ...string) answer {
	f.t.Helper()
	return f.do(user, http.MethodPut, path, card, append([]string{"Content-Type", "text/vcard; charset=utf-8"}, hdr...)...)
}

// mustPut stores a card and returns its ETag.
func (f *fixture) mustPut(path, card string) string {
	f.t.Helper()
	a := f.put("alice", path, card)
	if a.status != http.StatusCreated && a.status != http.StatusNoContent {
		f.t.Fatalf("PUT %s: %d %s", path, a.status, a.body)
	}
	return a.header.Get("ETag")
}

func card(uid, fn string, extra ...string) string {
	lines := []string{"BEGIN:VCARD", "VERSION:3.0", "UID:" + uid, "FN:" + fn}
	lines = append(lines, extra...)
	lines = append(lines, "END:VCARD", "")
	return strings.Join(lines, "\r\n")
}

// Multistatus as a client parses it (RFC 4918 §14.16).
type multistatus struct {
	Responses []msResponse `xml:"DAV: response"`
	SyncToken string       `xml:"DAV: sync-token"`
}

type msResponse struct {
	Href   string `xml:"DAV: href"`
	Status string `xml:"DAV: status"`
	Error  struct {
		Inner string `xml:",innerxml"`
	} `xml:"DAV: error"`
	PropStats []struct {
		Status      string `xml:"DAV: status"`
		Description string `xml:"DAV: responsedescription"`
		Prop        struct {
			Props []struct {
				XMLName xml.Name
				Inner   string `xml:",innerxml"`
				Text    string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"DAV: prop"`
	} `xml:"DAV: propstat"`
}

func parseMS(t *testing.T, a answer) multistatus {
	t.Helper()
	if a.status != http.StatusMultiStatus {
		t.Fatalf("status %d, want 207: %s", a.status, a.body)
	}
	var ms multistatus
	if err := xml.Unmarshal([]byte(a.body), &ms); err != nil {
		t.Fatalf("multistatus: %v\n%s", err, a.body)
	}
	return ms
}

func (ms multistatus) find(href string) (msResponse, bool) {
	for _, r := range ms.Responses {
		if r.Href == href {
			return r, true
		}
	}
	return msResponse{}, false
}

func (ms multistatus) hrefs() []string {
	var out []string
	for _, r := range ms.Responses {
		out = append(out, r.Href)
	}
	return out
}

// prop returns the inner XML and status line of a property in a response.
func (r msResponse) prop(local string) (inner, status string, ok bool) {
	inner, _, status, ok = r.propText(local)
	return inner, status, ok
}

// propText is prop with the property's text content too.
func (r msResponse) propText(local string) (inner, text, status string, ok bool) {
	for _, ps := range r.PropStats {
		for _, p := range ps.Prop.Props {
			if p.XMLName.Local == local {
				return p.Inner, p.Text, ps.Status, true
			}
		}
	}
	return "", "", "", false
}

// okText returns a property's text, failing unless it came with 200.
func okText(t *testing.T, r msResponse, local string) string {
	t.Helper()
	okProp(t, r, local)
	_, text, _, _ := r.propText(local)
	return text
}

// okProp returns a property's inner XML, failing unless it came with 200.
func okProp(t *testing.T, r msResponse, local string) string {
	t.Helper()
	inner, status, ok := r.prop(local)
	if !ok || !strings.Contains(status, " 200 ") {
		t.Fatalf("%s: property %s: %q %q (present %v)", r.Href, local, inner, status, ok)
	}
	return inner
}

// hrefIn extracts the DAV:href inside a property's inner XML.
func hrefIn(t *testing.T, inner string) string {
	t.Helper()
	var v struct {
		Href string `xml:"DAV: href"`
	}
	if err := xml.Unmarshal([]byte(`<x xmlns:D="DAV:">`+inner+"</x>"), &v); err != nil {
		t.Fatalf("href in %q: %v", inner, err)
	}
	return v.Href
}

const propfindDiscovery = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:current-user-principal/><d:principal-URL/><card:addressbook-home-set/><d:displayname/><d:resourcetype/></d:prop>
</d:propfind>`

func TestDiscovery(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.do("alice", http.MethodGet, "/.well-known/carddav", "")
	if a.status != http.StatusTemporaryRedirect || a.header.Get("Location") != "/dav/" {
		t.Fatalf("well-known: %d %q", a.status, a.header.Get("Location"))
	}
	a = f.do("alice", "PROPFIND", "/.well-known/carddav", propfindDiscovery, "Depth", "0")
	if a.status != http.StatusTemporaryRedirect {
		t.Fatalf("PROPFIND well-known: %d", a.status)
	}

	for _, root := range []string{"/dav/", "/"} {
		ms := parseMS(t, f.do("alice", "PROPFIND", root, propfindDiscovery, "Depth", "0", "Content-Type", "text/xml"))
		r, ok := ms.find(root)
		if !ok || len(ms.Responses) != 1 {
			t.Fatalf("PROPFIND %s: %v", root, ms.hrefs())
		}
		if got := hrefIn(t, okProp(t, r, "current-user-principal")); got != "/dav/principals/alice/" {
			t.Fatalf("current-user-principal %q", got)
		}
	}

	ms := parseMS(t, f.do("alice", "PROPFIND", "/dav/principals/alice/", propfindDiscovery, "Depth", "0"))
	r, _ := ms.find("/dav/principals/alice/")
	if got := hrefIn(t, okProp(t, r, "addressbook-home-set")); got != "/dav/alice/" {
		t.Fatalf("addressbook-home-set %q", got)
	}
	if got := hrefIn(t, okProp(t, r, "principal-URL")); got != "/dav/principals/alice/" {
		t.Fatalf("principal-URL %q", got)
	}
	if got := okProp(t, r, "displayname"); got != "alice" {
		t.Fatalf("displayname %q", got)
	}
	if rt := okProp(t, r, "resourcetype"); !strings.Contains(rt, "principal") {
		t.Fatalf("resourcetype %q", rt)
	}

	// The home lists the address books and the calendars.
	ms = parseMS(t, f.do("alice", "PROPFIND", "/dav/alice/", propfindDiscovery, "Depth", "1"))
	if got := ms.hrefs(); len(got) != 7 || got[0] != "/dav/alice/" || got[1] != "/dav/alice/contacts/" || got[2] != "/dav/alice/calendar/" {
		t.Fatalf("home Depth 1: %v", got)
	}
	r, _ = ms.find("/dav/alice/contacts/")
	if rt := okProp(t, r, "resourcetype"); !strings.Contains(rt, "addressbook") || !strings.Contains(rt, "collection") {
		t.Fatalf("address book resourcetype %q", rt)
	}
	if got := okText(t, r, "displayname"); got != "alice's contacts" {
		t.Fatalf("displayname %q", got)
	}
	// Not a principal property: 404 in its own propstat.
	if _, status, ok := r.prop("addressbook-home-set"); !ok || !strings.Contains(status, " 404 ") {
		t.Fatalf("addressbook-home-set on an address book: %q %v", status, ok)
	}
}

func TestOptions(t *testing.T) {
	f := newFixture(t, Options{})
	for _, p := range []string{"/dav/", "/dav/alice/contacts/", "/dav/alice/contacts/x.vcf"} {
		a := f.do("alice", http.MethodOptions, p, "")
		if a.status != http.StatusOK {
			t.Fatalf("OPTIONS %s: %d", p, a.status)
		}
		dav := a.header.Get("DAV")
		for _, c := range []string{"1", "3", "addressbook"} {
			if !strings.Contains(", "+dav+",", ", "+c+",") {
				t.Fatalf("OPTIONS %s: DAV %q lacks %s", p, dav, c)
			}
		}
	}
}

func TestPropfindDepth(t *testing.T) {
	f := newFixture(t, Options{})
	etagA := f.mustPut("/dav/alice/contacts/a.vcf", card("a", "Ann Smith"))
	f.mustPut("/dav/alice/contacts/b.vcf", card("b", "Bob Jones"))

	body := `<propfind xmlns="DAV:"><prop><getetag/><resourcetype/><getcontenttype/><x:unknown xmlns:x="urn:x"/></prop></propfind>`
	ms := parseMS(t, f.do("alice", "PROPFIND", "/dav/alice/contacts/", body, "Depth", "0"))
	if got := ms.hrefs(); len(got) != 1 {
		t.Fatalf("Depth 0: %v", got)
	}
	r, _ := ms.find("/dav/alice/contacts/")
	if _, status, _ := r.prop("unknown"); !strings.Contains(status, " 404 ") {
		t.Fatalf("unknown property status %q", status)
	}

	ms = parseMS(t, f.do("alice", "PROPFIND", "/dav/alice/contacts/", body, "Depth", "1"))
	if got := ms.hrefs(); len(got) != 3 || got[1] != "/dav/alice/contacts/a.vcf" || got[2] != "/dav/alice/contacts/b.vcf" {
		t.Fatalf("Depth 1: %v", got)
	}
	r, _ = ms.find("/dav/alice/contacts/a.vcf")
	if got := okText(t, r, "getetag"); got != etagA {
		t.Fatalf("getetag %q, PUT gave %q", got, etagA)
	}
	if got := okText(t, r, "getcontenttype"); got != "text/vcard; charset=utf-8" {
		t.Fatalf("getcontenttype %q", got)
	}

	// An allprop request (empty body) on an object.
	ms = parseMS(t, f.do("alice", "PROPFIND", "/dav/alice/contacts/a.vcf", "", "Depth", "0"))
	r, _ = ms.find("/dav/alice/contacts/a.vcf")
	okProp(t, r, "getetag")
	okProp(t, r, "getcontentlength")

	// RFC 4918 §10.2: no Depth is infinity, which collections refuse.
	for _, depth := range []string{"", "infinity"} {
		hdr := []string{}
		if depth != "" {
			hdr = []string{"Depth", depth}
		}
		for _, p := range []string{"/dav/alice/", "/dav/alice/contacts/"} {
			a := f.do("alice", "PROPFIND", p, body, hdr...)
			if a.status != http.StatusForbidden || !strings.Contains(a.body, "propfind-finite-depth") {
				t.Fatalf("PROPFIND %s Depth %q: %d %s", p, depth, a.status, a.body)
			}
		}
	}
	if a := f.do("alice", "PROPFIND", "/dav/alice/contacts/", body, "Depth", "2"); a.status != http.StatusBadRequest {
		t.Fatalf("Depth 2: %d", a.status)
	}
	if a := f.do("alice", "PROPFIND", "/dav/alice/contacts/nope.vcf", body, "Depth", "0"); a.status != http.StatusNotFound {
		t.Fatalf("PROPFIND missing object: %d", a.status)
	}
}

func xmlEsc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func TestGetETag(t *testing.T) {
	f := newFixture(t, Options{})
	body := card("a", "Ann Smith", "X-CUSTOM;X-P=1:kept as sent", "CATEGORIES:one,two")
	etag := f.mustPut("/dav/alice/contacts/a.vcf", body)
	if strings.Count(etag, `"`) != 2 || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("PUT ETag %q not one quoted strong tag", etag)
	}
	a := f.do("alice", http.MethodGet, "/dav/alice/contacts/a.vcf", "")
	if a.status != http.StatusOK || a.body != body {
		t.Fatalf("GET: %d %q", a.status, a.body)
	}
	if a.header.Get("ETag") != etag {
		t.Fatalf("GET ETag %q, PUT gave %q", a.header.Get("ETag"), etag)
	}
	if ct := a.header.Get("Content-Type"); ct != "text/vcard; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	a = f.do("alice", http.MethodHead, "/dav/alice/contacts/a.vcf", "")
	if a.status != http.StatusOK || a.body != "" || a.header.Get("ETag") != etag {
		t.Fatalf("HEAD: %d %q %q", a.status, a.body, a.header.Get("ETag"))
	}
	a = f.do("alice", http.MethodGet, "/dav/alice/contacts/a.vcf", "", "If-None-Match", etag)
	if a.status != http.StatusNotModified {
		t.Fatalf("GET If-None-Match: %d", a.status)
	}
	if a := f.do("alice", http.MethodGet, "/dav/alice/contacts/none.vcf", ""); a.status != http.StatusNotFound {
		t.Fatalf("GET missing: %d", a.status)
	}
}

func TestPutConditions(t *testing.T) {
	f := newFixture(t, Options{})
	p := "/dav/alice/contacts/a.vcf"
	a := f.put("alice", p, card("a", "Ann"), "If-None-Match", "*")
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	etag1 := a.header.Get("ETag")

	a = f.put("alice", p, card("a", "Ann Smith"), "If-Match", etag1)
	if a.status != http.StatusNoContent {
		t.Fatalf("update: %d %s", a.status, a.body)
	}
	etag2 := a.header.Get("ETag")
	if etag2 == etag1 || etag2 == "" {
		t.Fatalf("update ETag %q after %q", etag2, etag1)
	}

	for _, c := range []struct{ name, hdr, val string }{
		{"If-None-Match * on existing", "If-None-Match", "*"},
		{"stale If-Match", "If-Match", etag1},
		{"weak If-Match", "If-Match", "W/" + etag2},
	} {
		a = f.put("alice", p, card("a", "Overwritten"), c.hdr, c.val)
		if a.status != http.StatusPreconditionFailed {
			t.Fatalf("%s: %d %s", c.name, a.status, a.body)
		}
	}
	if got := f.do("alice", http.MethodGet, p, ""); got.header.Get("ETag") != etag2 || strings.Contains(got.body, "Overwritten") {
		t.Fatalf("object changed by a refused PUT: %q", got.body)
	}
	// If-Match on an object that does not exist.
	if a := f.put("alice", "/dav/alice/contacts/new.vcf", card("n", "New"), "If-Match", etag2); a.status != http.StatusPreconditionFailed {
		t.Fatalf("If-Match on absent object: %d", a.status)
	}
}

func TestDeleteIfMatch(t *testing.T) {
	f := newFixture(t, Options{})
	p := "/dav/alice/contacts/a.vcf"
	etag1 := f.mustPut(p, card("a", "Ann"))
	f.put("alice", p, card("a", "Ann Smith"), "If-Match", etag1)

	a := f.do("alice", http.MethodDelete, p, "", "If-Match", etag1)
	if a.status != http.StatusPreconditionFailed {
		t.Fatalf("stale DELETE: %d", a.status)
	}
	if got := f.do("alice", http.MethodGet, p, ""); got.status != http.StatusOK {
		t.Fatalf("object gone after refused DELETE: %d", got.status)
	}
	etag2 := f.do("alice", http.MethodGet, p, "").header.Get("ETag")
	if a := f.do("alice", http.MethodDelete, p, "", "If-Match", etag2); a.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", a.status, a.body)
	}
	if a := f.do("alice", http.MethodDelete, p, ""); a.status != http.StatusNotFound {
		t.Fatalf("DELETE again: %d", a.status)
	}
	if a := f.do("alice", http.MethodDelete, "/dav/alice/contacts/", ""); a.status != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE address book: %d", a.status)
	}
}

func TestMultiget(t *testing.T) {
	f := newFixture(t, Options{})
	etagA := f.mustPut("/dav/alice/contacts/a.vcf", card("a", "Ann Smith", "X-KEEP:yes"))
	etagB := f.mustPut("/dav/alice/contacts/b%20c.vcf", card("b", "Bob Jones"))
	f.st.Put(t.Context(), "bob", "contacts", "secret.vcf", []byte(card("s", "Bob Secret")), Conditions{})

	body := `<?xml version="1.0" encoding="utf-8" ?>
<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:prop><D:getetag/><C:address-data/></D:prop>
  <D:href>/dav/alice/contacts/a.vcf</D:href>
  <D:href>/dav/alice/contacts/b%20c.vcf</D:href>
  <D:href>/dav/alice/contacts/missing.vcf</D:href>
  <D:href>/dav/bob/contacts/secret.vcf</D:href>
</C:addressbook-multiget>`
	a := f.do("alice", "REPORT", "/dav/alice/contacts/", body, "Depth", "1", "Content-Type", "application/xml")
	ms := parseMS(t, a)
	if strings.Contains(a.body, "Secret") {
		t.Fatalf("another user's card in the answer: %s", a.body)
	}
	if len(ms.Responses) != 4 {
		t.Fatalf("responses: %v", ms.hrefs())
	}
	for href, etag := range map[string]string{"/dav/alice/contacts/a.vcf": etagA, "/dav/alice/contacts/b%20c.vcf": etagB} {
		r, ok := ms.find(href)
		if !ok {
			t.Fatalf("no response for %s in %v", href, ms.hrefs())
		}
		if got := okText(t, r, "getetag"); got != etag {
			t.Fatalf("%s getetag %q, want %q", href, got, etag)
		}
		if data := okText(t, r, "address-data"); !strings.Contains(data, "UID:") {
			t.Fatalf("%s address-data %q", href, data)
		}
	}
	r, _ := ms.find("/dav/alice/contacts/a.vcf")
	if data := okText(t, r, "address-data"); !strings.Contains(data, "X-KEEP:yes") {
		t.Fatalf("X- property lost: %q", data)
	}
	for href, code := range map[string]string{"/dav/alice/contacts/missing.vcf": " 404 ", "/dav/bob/contacts/secret.vcf": " 403 "} {
		r, ok := ms.find(href)
		if !ok || !strings.Contains(r.Status, code) || len(r.PropStats) != 0 {
			t.Fatalf("%s: %+v", href, r)
		}
	}
}

func query(filter string) string {
	return `<?xml version="1.0" encoding="utf-8" ?>
<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:prop><D:getetag/><C:address-data/></D:prop>` + filter + `
</C:addressbook-query>`
}

func TestQuery(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPut("/dav/alice/contacts/a.vcf", card("a", "Ann Smith", "EMAIL;TYPE=work:ann@example.com"))
	f.mustPut("/dav/alice/contacts/b.vcf", card("b", "Bob Jones", "EMAIL;TYPE=home:bob@example.org"))
	f.mustPut("/dav/alice/contacts/c.vcf", card("c", "Carol SMITHSON"))

	cases := []struct {
		name, filter string
		want         []string
	}{
		{"empty filter", `<C:filter/>`, []string{"a", "b", "c"}},
		{"no filter children, anyof", `<C:filter test="anyof"></C:filter>`, []string{"a", "b", "c"}},
		{"text-match, case-insensitive", `<C:filter><C:prop-filter name="FN"><C:text-match match-type="contains">smith</C:text-match></C:prop-filter></C:filter>`, []string{"a", "c"}},
		{"starts-with", `<C:filter><C:prop-filter name="FN"><C:text-match match-type="starts-with">bob</C:text-match></C:prop-filter></C:filter>`, []string{"b"}},
		{"negate", `<C:filter><C:prop-filter name="FN"><C:text-match negate-condition="yes">smith</C:text-match></C:prop-filter></C:filter>`, []string{"b"}},
		{"is-not-defined", `<C:filter><C:prop-filter name="EMAIL"><C:is-not-defined/></C:prop-filter></C:filter>`, []string{"c"}},
		{"param-filter", `<C:filter><C:prop-filter name="EMAIL"><C:param-filter name="TYPE"><C:text-match match-type="equals">work</C:text-match></C:param-filter></C:prop-filter></C:filter>`, []string{"a"}},
		{"allof", `<C:filter test="allof"><C:prop-filter name="FN"><C:text-match>smith</C:text-match></C:prop-filter><C:prop-filter name="EMAIL"/></C:filter>`, []string{"a"}},
		{"limit", `<C:filter/><C:limit><C:nresults>2</C:nresults></C:limit>`, []string{"a", "b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ms := parseMS(t, f.do("alice", "REPORT", "/dav/alice/contacts/", query(c.filter), "Depth", "1", "Content-Type", "text/xml"))
			var got []string
			for _, r := range ms.Responses {
				if r.Href == "/dav/alice/contacts/" {
					// C:limit: the collection's 507 (RFC 6352 §8.6.1).
					if !strings.Contains(r.Status, " 507 ") || !strings.Contains(r.Error.Inner, "number-of-matches-within-limits") {
						t.Fatalf("truncation response %+v", r)
					}
					continue
				}
				got = append(got, strings.TrimSuffix(strings.TrimPrefix(r.Href, "/dav/alice/contacts/"), ".vcf"))
				okProp(t, r, "getetag")
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestBadInput: issue 4 "Bad input": a clear 4xx with the RFC 6352
// precondition element, nothing stored, one log line; never 500.
func TestBadInput(t *testing.T) {
	f := newFixture(t, Options{MaxBodySize: 4096})
	f.mustPut("/dav/alice/contacts/taken.vcf", card("taken", "Taken"))
	big := card("big", "Big", "NOTE:"+strings.Repeat("x", 5000))

	cases := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		cond                     string
	}{
		{"no END", "PUT", "/dav/alice/contacts/x.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:X\r\n", nil, 403, "valid-address-data"},
		{"garbage line", "PUT", "/dav/alice/contacts/x.vcf", card("x", "X", "this is not a content line"), nil, 403, "valid-address-data"},
		{"no UID", "PUT", "/dav/alice/contacts/x.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:X\r\nEND:VCARD\r\n", nil, 403, "valid-address-data"},
		{"two cards", "PUT", "/dav/alice/contacts/x.vcf", card("x", "X") + card("y", "Y"), nil, 403, "valid-address-data"},
		{"empty body", "PUT", "/dav/alice/contacts/x.vcf", "", nil, 403, "valid-address-data"},
		{"not UTF-8", "PUT", "/dav/alice/contacts/x.vcf", card("x", "M\xfcller"), nil, 403, "valid-address-data"},
		{"store rejects (no FN)", "PUT", "/dav/alice/contacts/x.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nEND:VCARD\r\n", nil, 403, "valid-address-data"},
		{"vCard 2.1", "PUT", "/dav/alice/contacts/x.vcf", "BEGIN:VCARD\r\nVERSION:2.1\r\nUID:x\r\nFN:X\r\nEND:VCARD\r\n", nil, 403, "supported-address-data"},
		{"wrong Content-Type", "PUT", "/dav/alice/contacts/x.vcf", card("x", "X"), []string{"Content-Type", "application/json"}, 403, "supported-address-data"},
		{"UID in use", "PUT", "/dav/alice/contacts/x.vcf", card("taken", "Other"), nil, 409, "no-uid-conflict"},
		{"too large", "PUT", "/dav/alice/contacts/x.vcf", big, nil, 413, ""},
		{"PUT on home", "PUT", "/dav/alice/", card("x", "X"), nil, 405, ""},
		{"PUT on address book", "PUT", "/dav/alice/contacts/", card("x", "X"), nil, 405, ""},
		{"PUT too deep", "PUT", "/dav/alice/contacts/sub/x.vcf", card("x", "X"), nil, 409, ""},
		{"PUT outside dav", "PUT", "/x.vcf", card("x", "X"), nil, 404, ""},
		{"PUT into no address book", "PUT", "/dav/alice/nosuch/x.vcf", card("x", "X"), nil, 404, ""},
		{"PUT a vCard into a calendar", "PUT", "/dav/alice/calendar/x.vcf", card("x", "X"), nil, 403, "valid-calendar-data"},
		{"PUT to another user", "PUT", "/dav/bob/contacts/x.vcf", card("x", "X"), nil, 403, ""},
		{"PUT dot segment", "PUT", "/dav/alice/contacts/./x.vcf", card("x", "X"), nil, 404, ""},
		{"PROPFIND malformed XML", "PROPFIND", "/dav/alice/contacts/", "<propfind xmlns='DAV:'><prop>", []string{"Depth", "0"}, 400, ""},
		{"PROPFIND wrong root", "PROPFIND", "/dav/alice/contacts/", "<foo xmlns='DAV:'/>", []string{"Depth", "0"}, 400, ""},
		{"PROPFIND too large", "PROPFIND", "/dav/alice/contacts/", "<propfind xmlns='DAV:'><prop>" + strings.Repeat("<getetag/>", 1000) + "</prop></propfind>", []string{"Depth", "0"}, 413, ""},
		{"REPORT malformed", "REPORT", "/dav/alice/contacts/", "<C:addressbook-query", nil, 400, ""},
		{"REPORT unsupported", "REPORT", "/dav/alice/contacts/", `<D:expand-property xmlns:D="DAV:"/>`, nil, 403, "supported-report"},
		{"REPORT calendar-query on an address book", "REPORT", "/dav/alice/contacts/", `<L:calendar-query xmlns:L="urn:ietf:params:xml:ns:caldav"/>`, nil, 403, "supported-report"},
		{"REPORT collation", "REPORT", "/dav/alice/contacts/", query(`<C:filter><C:prop-filter name="FN"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:filter>`), nil, 403, "supported-collation"},
		{"REPORT nresults 0", "REPORT", "/dav/alice/contacts/", query(`<C:filter/><C:limit><C:nresults>0</C:nresults></C:limit>`), nil, 400, ""},
		{"sync garbage token", "REPORT", "/dav/alice/contacts/", syncBody("garbage", 0, ""), nil, 403, "valid-sync-token"},
		{"sync infinite", "REPORT", "/dav/alice/contacts/", strings.Replace(syncBody("", 0, ""), ">1<", ">infinite<", 1), nil, 403, "sync-traversal-supported"},
		{"sync Depth infinity", "REPORT", "/dav/alice/contacts/", syncBody("", 0, ""), []string{"Depth", "infinity"}, 400, ""},
		{"sync nresults", "REPORT", "/dav/alice/contacts/", syncBody("", -1, ""), nil, 400, ""},
		{"REPORT bad match-type", "REPORT", "/dav/alice/contacts/", query(`<C:filter><C:prop-filter name="FN"><C:text-match match-type="regex">x</C:text-match></C:prop-filter></C:filter>`), nil, 400, ""},
		{"REPORT on home", "REPORT", "/dav/alice/", query(`<C:filter/>`), nil, 403, "supported-report"},
		{"MKCOL", "MKCOL", "/dav/alice/new/", "", nil, 403, "collections-defined-by-crm"},
		{"extended MKCOL", "MKCOL", "/dav/alice/new/", `<D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop></D:set></D:mkcol>`, nil, 403, "collections-defined-by-crm"},
		{"MKCALENDAR", "MKCALENDAR", "/dav/alice/work/", "", nil, 403, "collections-defined-by-crm"},
		{"MKCOL inside a collection", "MKCOL", "/dav/alice/contacts/litmus/", "", nil, 403, "collections-defined-by-crm"},
		{"MKCALENDAR inside a collection", "MKCALENDAR", "/dav/alice/appointments/sub/", "", nil, 403, "collections-defined-by-crm"},
		{"MKCOL outside the tree", "MKCOL", "/elsewhere/", "", nil, 403, "collections-defined-by-crm"},
		{"PROPPATCH home", "PROPPATCH", "/dav/alice/", "<propertyupdate xmlns='DAV:'/>", nil, 403, "cannot-modify-protected-property"},
		{"PROPPATCH object", "PROPPATCH", "/dav/alice/contacts/taken.vcf", "<propertyupdate xmlns='DAV:'/>", nil, 403, "cannot-modify-protected-property"},
		{"PROPPATCH malformed", "PROPPATCH", "/dav/alice/contacts/", "<propertyupdate xmlns='DAV:'>", nil, 400, ""},
		{"PROPPATCH wrong root", "PROPPATCH", "/dav/alice/contacts/", "<propfind xmlns='DAV:'/>", nil, 400, ""},
		{"unknown method", "BREW", "/dav/alice/contacts/", "", nil, 405, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.log.String()
			puts := f.st.puts
			a := f.do("alice", c.method, c.path, c.body, c.hdr...)
			if a.status != c.status {
				t.Fatalf("status %d, want %d: %s", a.status, c.status, a.body)
			}
			if c.cond != "" {
				var e struct {
					XMLName xml.Name `xml:"DAV: error"`
					Inner   []struct {
						XMLName xml.Name
						Href    string `xml:"DAV: href"`
						Text    string `xml:",chardata"`
					} `xml:",any"`
				}
				if err := xml.Unmarshal([]byte(a.body), &e); err != nil || len(e.Inner) == 0 || e.Inner[0].XMLName.Local != c.cond ||
					!reasonOnly(e.Inner[1:], func(i int) (xml.Name, string) { return e.Inner[1+i].XMLName, e.Inner[1+i].Text }) {
					t.Fatalf("want DAV:error with %s, got %q (%v)", c.cond, a.body, err)
				}
				if c.cond == "no-uid-conflict" && e.Inner[0].Href != "/dav/alice/contacts/taken.vcf" {
					t.Fatalf("no-uid-conflict href %q", e.Inner[0].Href)
				}
			}
			if f.st.puts != puts || f.st.setProps != 0 || f.st.count("bob", "contacts") != 0 || f.st.count("alice", "contacts") != 1 {
				t.Fatalf("something was stored")
			}
			logged := strings.TrimPrefix(f.log.String(), before)
			if n := strings.Count(logged, "\n"); n != 1 || !strings.Contains(logged, fmt.Sprintf("status=%d", c.status)) ||
				!strings.Contains(logged, "user=alice") || !strings.Contains(logged, "method="+c.method) {
				t.Fatalf("want one log line, got %q", logged)
			}
		})
	}
}

func TestUIDConflictWithoutName(t *testing.T) {
	f := newFixture(t, Options{})
	f.st.plainConflict = true
	f.mustPut("/dav/alice/contacts/a.vcf", card("a", "Ann"))
	a := f.put("alice", "/dav/alice/contacts/b.vcf", card("a", "Other"))
	if a.status != http.StatusConflict || !strings.Contains(a.body, "no-uid-conflict") {
		t.Fatalf("%d %s", a.status, a.body)
	}
}

// TestChunkedTooLarge: a body without Content-Length is cut at the limit.
func TestChunkedTooLarge(t *testing.T) {
	f := newFixture(t, Options{MaxBodySize: 1024})
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(card("x", "X", "NOTE:"+strings.Repeat("y", 4096))))
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPut, f.srv.URL+"/dav/alice/contacts/x.vcf", pr)
	req.SetBasicAuth("alice", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || f.st.count("alice", "contacts") != 0 {
		t.Fatalf("status %d, stored %d", resp.StatusCode, f.st.count("alice", "contacts"))
	}
}

// TestOtherUser: invariant 8, on every method.
func TestOtherUser(t *testing.T) {
	f := newFixture(t, Options{})
	f.st.Put(t.Context(), "bob", "contacts", "secret.vcf", []byte(card("s", "Bob Secret")), Conditions{})
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/dav/bob/contacts/secret.vcf", ""},
		{"HEAD", "/dav/bob/contacts/secret.vcf", ""},
		{"PROPFIND", "/dav/bob/contacts/", ""},
		{"PROPFIND", "/dav/bob/", ""},
		{"PROPFIND", "/dav/principals/bob/", ""},
		{"REPORT", "/dav/bob/contacts/", query(`<C:filter/>`)},
		{"DELETE", "/dav/bob/contacts/secret.vcf", ""},
		{"OPTIONS", "/dav/bob/contacts/", ""},
	} {
		a := f.do("alice", c.method, c.path, c.body, "Depth", "1")
		if a.status != http.StatusForbidden || strings.Contains(a.body, "Secret") {
			t.Fatalf("%s %s: %d %s", c.method, c.path, a.status, a.body)
		}
	}
	if f.st.count("bob", "contacts") != 1 {
		t.Fatal("bob's card deleted")
	}
}

func TestNoUser(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.do("", "PROPFIND", "/dav/", "", "Depth", "0")
	if a.status != http.StatusInternalServerError || !strings.Contains(f.log.String(), "without an authenticated user") {
		t.Fatalf("%d, log %q", a.status, f.log.String())
	}
}
