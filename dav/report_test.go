package dav

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func multiget(props string, hrefs ...string) string {
	b := `<?xml version="1.0" encoding="utf-8"?>
<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop>` + props + `</D:prop>`
	for _, h := range hrefs {
		b += "<D:href>" + h + "</D:href>"
	}
	return b + "</C:addressbook-multiget>"
}

// TestMultiget100: 100 hrefs, one missing: 99 cards as stored, one 404.
func TestMultiget100(t *testing.T) {
	f := newFixture(t, Options{})
	book := "/dav/alice/contacts/"
	bodies := map[string]string{}
	var hrefs []string
	for i := range 100 {
		name := fmt.Sprintf("%03d.vcf", i)
		hrefs = append(hrefs, book+name)
		if i == 42 {
			continue
		}
		// Folded lines, odd spacing: the bytes must come back as stored.
		bodies[book+name] = card(fmt.Sprint(i), fmt.Sprintf("Person %d", i), "NOTE:a long\r\n  folded line", "X-Y;Z=1:w")
		f.mustPut(book+name, bodies[book+name])
	}
	hrefs = append(hrefs, "http://example.com"+book+"001.vcf") // absolute URI form
	ms := parseMS(t, f.do("alice", "REPORT", book, multiget("<D:getetag/><C:address-data/>", hrefs...), "Depth", "1"))
	if len(ms.Responses) != 101 {
		t.Fatalf("%d responses", len(ms.Responses))
	}
	for i, r := range ms.Responses[:100] {
		if r.Href != hrefs[i] {
			t.Fatalf("response %d for %s, asked %s", i, r.Href, hrefs[i])
		}
		if i == 42 {
			if !strings.Contains(r.Status, " 404 ") || len(r.PropStats) != 0 {
				t.Fatalf("missing href: %+v", r)
			}
			continue
		}
		if got := okText(t, r, "address-data"); got != bodies[r.Href] {
			t.Fatalf("%s address-data %q, stored %q", r.Href, got, bodies[r.Href])
		}
		okProp(t, r, "getetag")
	}
	if r := ms.Responses[100]; r.Href != book+"001.vcf" {
		t.Fatalf("absolute href answered as %q", r.Href)
	}
}

// TestAddressDataProps: C:address-data with C:prop returns the named
// properties' stored lines (RFC 6352 §10.4.2), or the whole card for what
// we do not filter.
func TestAddressDataProps(t *testing.T) {
	f := newFixture(t, Options{})
	p := "/dav/alice/contacts/a.vcf"
	f.mustPut(p, card("a", "Ann", "EMAIL;TYPE=work:ann@example.com", "item1.TEL:+1 555\r\n 0100", "NOTE:secret"))
	get := func(ad string) string {
		t.Helper()
		ms := parseMS(t, f.do("alice", "REPORT", "/dav/alice/contacts/", multiget(ad, p)))
		return okText(t, ms.Responses[0], "address-data")
	}
	got := get(`<C:address-data><C:prop name="FN"/><C:prop name="tel"/></C:address-data>`)
	want := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Ann\r\nitem1.TEL:+1 555\r\n 0100\r\nEND:VCARD\r\n"
	if got != want {
		t.Fatalf("filtered %q, want %q", got, want)
	}
	whole := card("a", "Ann", "EMAIL;TYPE=work:ann@example.com", "item1.TEL:+1 555\r\n 0100", "NOTE:secret")
	for _, ad := range []string{`<C:address-data/>`, `<C:address-data><C:allprop/></C:address-data>`, `<C:address-data><C:prop name="FN" novalue="yes"/></C:address-data>`} {
		if got := get(ad); got != whole {
			t.Fatalf("%s: %q", ad, got)
		}
	}
}

// TestAddressDataVersion: a client asking for vCard 4.0 (as DAVx5 does
// when the server lists 4.0 in supported-address-data) gets a stored 3.0
// card converted; without a version it gets the card as stored.
func TestAddressDataVersion(t *testing.T) {
	f := newFixture(t, Options{})
	p := "/dav/alice/contacts/a.vcf"
	f.mustPut(p, card("a", "Ann", "TEL;TYPE=CELL:+1 555 0100", "BDAY:1980-05-01"))
	ms := parseMS(t, f.do("alice", "REPORT", "/dav/alice/contacts/", multiget(`<C:address-data content-type="text/vcard" version="4.0"/>`, p)))
	got := okText(t, ms.Responses[0], "address-data")
	if !strings.Contains(got, "VERSION:4.0") || !strings.Contains(got, "UID:a") || !strings.Contains(strings.ToLower(got), "cell") {
		t.Errorf("asked for 4.0, got:\n%s", got)
	}
	ms = parseMS(t, f.do("alice", "REPORT", "/dav/alice/contacts/", multiget(`<C:address-data/>`, p)))
	if got := okText(t, ms.Responses[0], "address-data"); !strings.Contains(got, "VERSION:3.0") {
		t.Errorf("no version asked, got:\n%s", got)
	}
}

func TestQueryCollations(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPut("/dav/alice/contacts/a.vcf", card("a", "Ann Smith", "EMAIL;TYPE=work:ann@example.com", "ORG:École Normale"))
	f.mustPut("/dav/alice/contacts/b.vcf", card("b", "Bob Jones", "EMAIL;TYPE=home,pref:bob@example.org"))
	f.mustPut("/dav/alice/contacts/c.vcf", card("c", "Carol SMITHSON", "EMAIL:carol@example.net"))

	tm := func(attrs, text string) string {
		return `<C:text-match ` + attrs + `>` + text + `</C:text-match>`
	}
	pf := func(name, attrs, inner string) string {
		return `<C:prop-filter name="` + name + `" ` + attrs + `>` + inner + `</C:prop-filter>`
	}
	cases := []struct {
		name, filter string
		want         string
	}{
		{"default collation folds case", pf("FN", "", tm("", "SMITH")), "a c"},
		{"unicode-casemap folds beyond ASCII", pf("ORG", "", tm(`collation="i;unicode-casemap"`, "éCOLE")), "a"},
		{"ascii-casemap does not fold é", pf("ORG", "", tm(`collation="i;ascii-casemap"`, "éCOLE")), ""},
		{"ascii-casemap folds ASCII", pf("ORG", "", tm(`collation="i;ascii-casemap"`, "NORMALE")), "a"},
		{"octet is exact", pf("FN", "", tm(`collation="i;octet"`, "Smith")), "a"},
		{"octet is case-sensitive", pf("FN", "", tm(`collation="i;octet"`, "smith")), ""},
		{"equals", pf("FN", "", tm(`match-type="equals"`, "bob jones")), "b"},
		{"ends-with", pf("EMAIL", "", tm(`match-type="ends-with"`, ".NET")), "c"},
		{"negate", pf("FN", "", tm(`negate-condition="yes"`, "smith")), "b"},
		{"negate with octet", pf("FN", "", tm(`negate-condition="yes" collation="i;octet"`, "SMITH")), "a b"},
		{"negate needs the property", pf("ORG", "", tm(`negate-condition="yes"`, "zzz")), "a"},
		{"param-filter, list value", pf("EMAIL", "", `<C:param-filter name="type">`+tm(`match-type="equals"`, "PREF")+`</C:param-filter>`), "b"},
		{"param-filter negate", pf("EMAIL", "", `<C:param-filter name="TYPE">`+tm(`negate-condition="yes"`, "work")+`</C:param-filter>`), "b"},
		{"param-filter is-not-defined", pf("EMAIL", "", `<C:param-filter name="TYPE"><C:is-not-defined/></C:param-filter>`), "c"},
		{"prop-filter anyof", pf("EMAIL", `test="anyof"`, tm("", "ann")+tm("", "bob")), "a b"},
		{"prop-filter allof", pf("EMAIL", `test="allof"`, tm("", "example")+tm("", ".org")), "b"},
		{"filter anyof", pf("FN", "", tm("", "bob")) + pf("ORG", "", ""), "a b"},
		{"is-not-defined", pf("ORG", "", `<C:is-not-defined/>`), "b c"},
	}
	for _, c := range cases {
		for _, test := range []string{"", ` test="anyof"`} {
			t.Run(c.name+test, func(t *testing.T) {
				ms := parseMS(t, f.do("alice", "REPORT", "/dav/alice/contacts/", query(`<C:filter`+test+`>`+c.filter+`</C:filter>`), "Depth", "1"))
				var got []string
				for _, r := range ms.Responses {
					got = append(got, strings.TrimSuffix(strings.TrimPrefix(r.Href, "/dav/alice/contacts/"), ".vcf"))
				}
				if strings.Join(got, " ") != c.want {
					t.Fatalf("got %v, want %q", got, c.want)
				}
			})
		}
	}
	// filter allof over two prop-filters.
	ms := parseMS(t, f.do("alice", "REPORT", "/dav/alice/contacts/", query(`<C:filter test="allof">`+pf("FN", "", tm("", "smith"))+pf("ORG", "", "")+`</C:filter>`)))
	if h := ms.hrefs(); len(h) != 1 || h[0] != "/dav/alice/contacts/a.vcf" {
		t.Fatalf("allof: %v", h)
	}
	if a := f.do("alice", "REPORT", "/dav/alice/contacts/", query(`<C:filter test="someof"/>`)); a.status != http.StatusBadRequest {
		t.Fatalf("bad test: %d", a.status)
	}
}
