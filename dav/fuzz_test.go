package dav

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emersion/go-ical"
)

var fuzzSeeds = []string{
	"",
	propfindDiscovery,
	`<propfind xmlns="DAV:"><allprop/></propfind>`,
	`<propfind xmlns="DAV:"><propname/></propfind>`,
	`<propfind xmlns="DAV:"><prop><getetag/><x:y xmlns:x="urn:x"/><z xmlns=""/></prop></propfind>`,
	query(`<C:filter/>`),
	query(`<C:filter test="allof"><C:prop-filter name="EMAIL" test="anyof"><C:param-filter name="TYPE"><C:text-match negate-condition="yes">w</C:text-match></C:param-filter><C:text-match match-type="ends-with">.org</C:text-match></C:prop-filter></C:filter><C:limit><C:nresults>0</C:nresults></C:limit>`),
	`<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data><C:prop name="FN"/></C:address-data></D:prop><D:href>/dav/alice/contacts/a.vcf</D:href><D:href>http://h/dav/bob/contacts/a.vcf</D:href><D:href>%zz</D:href></C:addressbook-multiget>`,
	`<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:allprop/><D:href>/dav/alice/contacts/a.vcf</D:href></C:addressbook-multiget>`,
	`<!DOCTYPE x [<!ENTITY a "aaaa">]><propfind xmlns="DAV:">&a;</propfind>`,
	card("a", "Ann"),
	syncBody("", 2, "<D:getetag/><C:address-data><C:prop name=\"FN\"/></C:address-data>"),
	syncBody("http://crmdav.invalid/sync/0123456789abcdef/1?after=a.vcf", 0, ""),
	strings.Replace(syncBody("", -1, ""), ">1<", ">infinite<", 1),
	proppatch(`<D:displayname>Mine</D:displayname><A:calendar-color>#FF0000</A:calendar-color>`, `<A:calendar-order/>`),
	proppatch(`<D:displayname><b>x</b></D:displayname><CS:getctag>1</CS:getctag>`, ""),
	`<D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop></D:set></D:mkcol>`,
	query(`<C:filter><C:prop-filter name="FN"><C:text-match collation="i;octet" match-type="equals">Ann</C:text-match></C:prop-filter><C:prop-filter name="ORG"><C:is-not-defined/></C:prop-filter></C:filter>`),
	multiget(`<D:getetag/><C:address-data><C:prop name="FN" novalue="yes"/></C:address-data>`, "/dav/alice/contacts/a.vcf", "/dav/alice/calendar/x", ":bad"),
}

// FuzzPropfindBody: the PROPFIND parser never panics and accepts only
// requests of exactly one kind.
func FuzzPropfindBody(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pf, err := parsePropfind(body)
		if err != nil {
			return
		}
		n := 0
		for _, b := range []bool{pf.allprop, pf.propname, pf.props != nil} {
			if b {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%q parsed to %+v", body, pf)
		}
	})
}

// FuzzCard: the vCard check never panics.
func FuzzCard(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkCard(body)
	})
}

// FuzzRequests sends fuzzed bodies through the whole handler, as PROPFIND,
// REPORT and PUT on every kind of path: never a panic, never a 500.
func FuzzRequests(f *testing.F) {
	for i, s := range append(fuzzSeeds, calFuzzSeeds...) {
		f.Add(uint8(i), uint8(i/3), []byte(s))
	}
	for i, s := range calFuzzObjects {
		f.Add(uint8(2), uint8(7+i%2), []byte(s))
	}
	methods := []string{"PROPFIND", "REPORT", "PUT", "PROPPATCH", "MKCOL"}
	paths := []string{"/", "/dav/", "/dav/principals/alice/", "/dav/alice/", "/dav/alice/contacts/", "/dav/alice/contacts/a.vcf", "/dav/bob/contacts/",
		"/dav/alice/all/", "/dav/alice/all/w.ics", "/dav/alice/mail/"}
	f.Fuzz(func(t *testing.T, m, p uint8, body []byte) {
		st := newMemStore()
		st.Put(context.Background(), "alice", "contacts", "a.vcf", []byte(card("a", "Ann", "EMAIL;TYPE=work:a@example.org")), Conditions{})
		st.Put(context.Background(), "alice", "all", "w.ics", []byte(calFuzzObjects[0]), Conditions{})
		h := NewHandler(st, slog.New(slog.DiscardHandler), Options{MaxBodySize: 1 << 16})
		req := httptest.NewRequest(methods[int(m)%len(methods)], paths[int(p)%len(paths)], bytes.NewReader(body))
		req.Header.Set("Depth", []string{"0", "1"}[int(m/8)%2])
		req.Header.Set("Content-Type", "text/xml")
		if req.Method == http.MethodPut {
			req.Header.Del("Content-Type")
		}
		req = req.WithContext(WithUser(req.Context(), "alice"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", req.Method, req.URL.Path, body, rec.Code, rec.Body)
		}
		// Every XML answer (multistatus, DAV:error with its reason) is
		// well-formed, whatever the request held.
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/xml") {
			d := xml.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
			for {
				_, err := d.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s %s %q: answer not well-formed XML (%v): %s", req.Method, req.URL.Path, body, err, rec.Body)
				}
			}
		}
	})
}

// FuzzReportBody: the REPORT and PROPPATCH parsers never panic, and what
// they accept is within the XML bounds.
func FuzzReportBody(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		root, err := parseTree(body)
		if err != nil {
			return
		}
		parsePropReq(root)
		parseSyncReq(root)
		parseFilter(root.child(cn("filter")))
		parseLimit(root.child(cn("limit")), cn("nresults"))
		var p Props
		for _, op := range root.children {
			for _, pe := range op.children {
				for _, n := range pe.children {
					setProp(&p, n, op.name.Local == "remove")
				}
			}
		}
		if ad := root.child(cn("address-data")); ad != nil {
			if d, err := parseAddressDataReq(ad); err == nil {
				addressData(body, &d)
			}
		}
	})
}

// FuzzSyncToken: a token parses only as what was issued for the
// collection, and every issued token parses back.
func FuzzSyncToken(f *testing.F) {
	f.Add("alice", "contacts", int64(3), "", int64(5))
	f.Add("alice", "contacts", int64(0), "a b&c=d.vcf", int64(0))
	f.Add("bob", "x/y", int64(-1), "?", int64(1))
	f.Fuzz(func(t *testing.T, user, slug string, rev int64, after string, cur int64) {
		tok := syncToken(user, slug, rev, after)
		r, a, initial, err := parseSyncToken(tok, user, slug, cur)
		switch {
		case rev < 0 || rev > cur:
			if err == nil {
				t.Fatalf("%q accepted at revision %d", tok, cur)
			}
		case err != nil:
			t.Fatalf("%q refused: %v", tok, err)
		case r != rev || a != after || initial != (after != ""):
			t.Fatalf("%q parsed to %d %q %v", tok, r, a, initial)
		}
		if _, _, _, err := parseSyncToken(tok, user+"x", slug, cur); err == nil && tok != "" {
			t.Fatalf("%q accepted for another user", tok)
		}
		parseSyncToken(after, user, slug, cur)
	})
}

var calFuzzSeeds = []string{
	calQuery("", rangeFilter("VEVENT", "20240101T000000Z", "20240201T000000Z")),
	calQuery("<L:calendar-data/>", rangeFilter("VTODO", "", "20240201T000000Z")),
	calQuery("<L:calendar-data><L:expand start=\"20240101T000000Z\" end=\"20240201T000000Z\"/></L:calendar-data>", rangeFilter("VJOURNAL", "20240101T000000Z", "")),
	calQuery("", `<L:filter><L:comp-filter name="VCALENDAR" test="anyof"><L:comp-filter name="VEVENT"><L:prop-filter name="ATTENDEE"><L:param-filter name="PARTSTAT"><L:text-match negate-condition="yes">x</L:text-match></L:param-filter></L:prop-filter><L:comp-filter name="VALARM"><L:is-not-defined/></L:comp-filter></L:comp-filter></L:comp-filter></L:filter>`+brisbane),
	calQuery("", `<L:filter><L:comp-filter name="VCALENDAR"><L:comp-filter name="VTODO"><L:prop-filter name="COMPLETED"><L:time-range start="20240101T000000Z"/></L:prop-filter></L:comp-filter></L:comp-filter></L:filter>`),
	calMultiget("<D:getetag/><L:calendar-data/>", "/dav/alice/all/a.ics"),
}

// calFuzzObjects are stored objects the fuzzed queries run over: a
// recurring event with an override and an EXDATE in a VTIMEZONE, a
// todo, a journal.
var calFuzzObjects = []string{
	customTZ(append(comp("VEVENT", "w", "DTSTART;TZID=/custom/W. Europe Standard Time:20240101T100000", "DURATION:PT1H", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE", "EXDATE:20240103T090000Z", "SUMMARY:Weekly",
		"ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.com", "BEGIN:VALARM", "TRIGGER:-PT5M", "ACTION:DISPLAY", "END:VALARM"),
		comp("VEVENT", "w", "RECURRENCE-ID;TZID=/custom/W. Europe Standard Time:20240108T100000", "DTSTART:20240301T100000Z")...)...),
	vcal(comp("VTODO", "t", "DUE;VALUE=DATE:20240110", "COMPLETED:20240111T000000Z", "RRULE:FREQ=DAILY;COUNT=3")...),
	vcal(comp("VJOURNAL", "j", "DTSTART;VALUE=DATE:20240110", "RDATE;VALUE=PERIOD:20240201T000000Z/PT1H")...),
}

// FuzzCalendarQuery: calendar-query bodies are parsed and matched against
// stored objects without a panic; whatever parses has a VCALENDAR root.
func FuzzCalendarQuery(f *testing.F) {
	for _, s := range append(calFuzzSeeds, fuzzSeeds...) {
		f.Add([]byte(s))
	}
	var cals []*ical.Calendar
	for _, o := range calFuzzObjects {
		c, err := decodeCalendar([]byte(o))
		if err != nil {
			f.Fatal(err)
		}
		cals = append(cals, c)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		root, err := parseTree(body)
		if err != nil {
			return
		}
		parsePropReq(root)
		cf, err := parseCalFilter(root.child(ln("filter")))
		if err != nil {
			return
		}
		if cf.name != "VCALENDAR" {
			t.Fatalf("filter root %q", cf.name)
		}
		float, err := parseQueryTimezone(root.child(ln("timezone")))
		if err != nil {
			return
		}
		cf.bounds()
		for _, c := range cals {
			matchCalendar(cf, c, float)
		}
	})
}

// FuzzCalendarPut: the PUT check of iCalendar bodies never panics, and
// what it accepts can be matched against time ranges.
func FuzzCalendarPut(f *testing.F) {
	for _, s := range calFuzzObjects {
		f.Add([]byte(s))
	}
	f.Add([]byte(event("x", "DTSTART;VALUE=DATE:20240101", "RRULE:FREQ=YEARLY;UNTIL=20300101")))
	f.Add([]byte(vcal(comp("VTODO", "x", "X-A;X-B=a\"b\"c;X-C=\"q\":v")...)))
	filters := []*compFilter{}
	for _, s := range calFuzzSeeds[:5] {
		root, _ := parseTree([]byte(s))
		cf, err := parseCalFilter(root.child(ln("filter")))
		if err != nil {
			f.Fatal(err)
		}
		filters = append(filters, cf)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if checkCalendar(Collection{}, body) != nil {
			return
		}
		cal, err := decodeCalendar(body)
		if err != nil {
			t.Fatalf("accepted but not decoded: %v", err)
		}
		for _, cf := range filters {
			matchCalendar(cf, cal, utcZone{})
		}
	})
}

// FuzzWriteText: what writeText writes is element content that an XML
// parser reads back as the value, CR and all, with only the characters XML
// cannot hold replaced by U+FFFD (as xml.EscapeText replaces them); across
// the writer's buffer boundaries too.
func FuzzWriteText(f *testing.F) {
	for _, s := range []string{"", "plain", "BEGIN:VCARD\r\nFN:A & B <c>\r\nEND:VCARD\r\n", `"etag"`, "\x00\x01\t\n\r\x7f", "é☕\xff\xfe", "]]>", strings.Repeat("a&\r\n", 3000), "\uFFFE\U0010FFFF\xed\xa0\x80"} {
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, s string, size int) {
		var out bytes.Buffer
		w := bufio.NewWriterSize(&out, 64+size%5000)
		w.WriteString("<a>")
		writeText(w, s)
		w.WriteString("</a>")
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Text string `xml:",chardata"`
		}
		if err := xml.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("%q wrote %q: %v", s, out.Bytes(), err)
		}
		var want strings.Builder
		for i, r := range s {
			if (r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD")) || !inCharRange(r) {
				r = '\uFFFD'
			}
			want.WriteRune(r)
		}
		if got.Text != want.String() {
			t.Fatalf("%q read back as %q, want %q", s, got.Text, want.String())
		}
	})
}
