package dav

import (
	"fmt"
	"strings"
	"testing"
)

// fastBodies are request bodies parseTreeFast must read itself.
var fastBodies = []string{
	multiget100Body(),
	`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data><C:prop name="FN"/><C:prop name="EMAIL" novalue='yes'/></C:address-data></D:prop><D:href>/dav/alice/contacts/a.vcf</D:href><D:href>http://h/dav/alice/contacts/b%20c.vcf</D:href></C:addressbook-multiget>` + "\n",
	// Apple: default namespace DAV:, odd prefixes, a namespace per element.
	`<?xml version="1.0" encoding="UTF-8"?>
<A:propfind xmlns:A="DAV:">
  <A:prop>
    <A:current-user-principal/>
    <A:resourcetype/>
    <B:getctag xmlns:B="http://calendarserver.org/ns/"/>
    <C:calendar-color xmlns:C="http://apple.com/ns/ical/"/>
  </A:prop>
</A:propfind>
`,
	// Thunderbird: default namespaces, CRLF.
	"<?xml version=\"1.0\" encoding=\"utf-8\" ?>\r\n<D:propfind xmlns:D=\"DAV:\" xmlns:CS=\"http://calendarserver.org/ns/\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\">\r\n<D:prop><D:resourcetype/><D:displayname/><CS:getctag/><card:supported-address-data/></D:prop>\r\n</D:propfind>\r\n",
	// DAVx5: sync-collection with a default namespace.
	`<?xml version='1.0' encoding='UTF-8' ?><sync-collection xmlns="DAV:" xmlns:CARD="urn:ietf:params:xml:ns:carddav"><sync-token>http://crmdav.invalid/sync/0123456789abcdef/1?after=a.vcf&amp;x=1</sync-token><sync-level>1</sync-level><prop><getetag /></prop></sync-collection>`,
	`<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><limit><nresults>10</nresults></limit><prop><getetag/></prop></sync-collection>`,
	`<propfind xmlns="DAV:"><allprop/></propfind>`,
	`<propfind xmlns="DAV:"><prop><getetag/><x:y xmlns:x="urn:x"/><z xmlns=""/></prop></propfind>`,
	`<D:propertyupdate xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/"><D:set><D:prop><D:displayname>Café &amp; «Bücher» &lt;1&gt; &#x1F600;&#233;&apos;&quot;</D:displayname><A:calendar-color>#FF0000FF</A:calendar-color></D:prop></D:set><D:remove><D:prop><A:calendar-order/></D:prop></D:remove></D:propertyupdate>`,
	"<D:propertyupdate xmlns:D=\"DAV:\"><D:set><D:prop><D:displayname>a\r\nb\rc\r\r\nd&#13;\n</D:displayname></D:prop></D:set></D:propertyupdate>",
	query(`<C:filter test="allof"><C:prop-filter name="EMAIL" test="anyof"><C:param-filter name="TYPE"><C:text-match negate-condition="yes">w</C:text-match></C:param-filter><C:text-match match-type="ends-with" collation="i;unicode-casemap">.org</C:text-match></C:prop-filter></C:filter><C:limit><C:nresults>0</C:nresults></C:limit>`),
	`<?xml version="1.0" encoding="utf-8" ?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="VEVENT">
        <C:time-range start="20240101T000000Z" end="20250101T000000Z"/>
      </C:comp-filter>
    </C:comp-filter>
  </C:filter>
  <C:timezone>BEGIN:VCALENDAR&#13;
PRODID:x&#13;
END:VCALENDAR&#13;
</C:timezone>
</C:calendar-query>`,
	`<x:a xmlns:x="urn:a" x:b="1" c='2' xml:lang="de" xmlns="urn:d"><b xmlns="" y:z="3" xmlns:y="urn:y"><x:c xmlns:x="urn:other"/></b><d/></x:a>`,
	`<a xmlns:p=""><p:b p:c="x"/></a>`,
	`<a b = "1"	c=` + "\n'2'\r\n" + `></a  >`,
	`<a>]]&gt; ]] ] &#60;&#x3c;</a>`,
	"<a>tab\there\u007f\U0010FFFD\uFFFD</a>",
	`<a><b>x</b>y<c/>z<d>w</d> </a>`,
	"  \r\n\t<a/>\n\n",
	`<a.b-c_d:e.f-g_1 xmlns:a.b-c_d="u"></a.b-c_d:e.f-g_1>`,
	`<a x="&lt;&#9;&#10;&#13;'>"/>`,
	manyNS(maxFastNS),
}

// slowBodies are bodies parseTreeFast must leave to encoding/xml, whether
// they are well-formed or not.
var slowBodies = []string{
	``,
	`   `,
	`<!-- c --><a/>`,
	`<a><!-- c --></a>`,
	`<a><![CDATA[x]]></a>`,
	`<!DOCTYPE a><a/>`,
	`<?pi x?><a/>`,
	`<a><?pi x?></a>`,
	` <?xml version="1.0"?><a/>`,
	`<?xml version="1.1"?><a/>`,
	`<?xml version="1.0" encoding="latin1"?><a/>`,
	`<?xml version="1.0" standalone="yes"?><a/>`,
	`<?xml version="1.0"?><?xml version="1.0"?><a/>`,
	`<?xml?><a/>`,
	"\ufeff<a/>",
	`<a>&nbsp;</a>`,
	`<a>&amp</a>`,
	`<a>&#;</a>`,
	`<a>&#x;</a>`,
	`<a>&#0;</a>`,
	`<a>&#xD800;</a>`,
	`<a>&#xFFFE;</a>`,
	`<a>&#0000000065;</a>`,
	`<a>&#1a;</a>`,
	`<a>&#X3c;</a>`,
	`<a x="&foo;"/>`,
	`<p:a/>`,
	`<a p:b="1"/>`,
	`<xmlns:a xmlns:xmlns="u"/>`,
	`<xmlns/>`,
	`<a xmlns:xml="u"/>`,
	`<é/>`,
	`<aé/>`,
	`<a:b:c xmlns:a="u"/>`,
	`<:a/>`,
	`<a:/>`,
	`<1a/>`,
	`<a x:1="" xmlns:x="u"/>`,
	"<a>\x00</a>",
	"<a>\x0c</a>",
	"<a>\xff</a>",
	"<a>\xed\xa0\x80</a>",
	"<a>\uFFFE</a>",
	"<a x='\x01'/>",
	`<a>]]></a>`,
	`<a x="<"/>`,
	`<a x=1/>`,
	`<a x/>`,
	`<a x="1"y="2"/>`,
	`<a x="1`,
	`<a>`,
	`<a></b>`,
	`<a></a:a>`,
	`<a><b></a></b>`,
	`</a>`,
	`<a/><b/>`,
	`<a/>x`,
	`x<a/>`,
	"<a/>\x0b",
	`<a/ >`,
	`<a/`,
	`<`,
	`<a></a`,
	`<a></ a>`,
	"<a>" + strings.Repeat("<b>", maxXMLDepth) + strings.Repeat("</b>", maxXMLDepth) + "</a>",
	"<a>" + strings.Repeat("<b/>", maxXMLElements) + "</a>",
	manyNS(maxFastNS + 1),
}

// manyNS is a body that declares n namespaces on its root.
func manyNS(n int) string {
	var b strings.Builder
	b.WriteString("<a")
	for k := range n {
		fmt.Fprintf(&b, ` xmlns:p%d="urn:%d"`, k, k)
	}
	b.WriteString("><p0:b/></a>")
	return b.String()
}

// multiget100Body is the body of BenchmarkMultiget100 in server/.
func multiget100Body() string {
	var q strings.Builder
	q.WriteString(`<?xml version="1.0" encoding="utf-8"?><C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>`)
	for k := range 100 {
		fmt.Fprintf(&q, "<D:href>/dav/alice/contacts/%08x-4d2c-11ef-9a3b-%012x.vcf</D:href>", k*7919, k*104729)
	}
	q.WriteString("</C:addressbook-multiget>")
	return q.String()
}

// sameTree reports how two trees differ, "" if they do not.
func sameTree(a, b *node) string {
	if a.name != b.name {
		return fmt.Sprintf("name %v, want %v", a.name, b.name)
	}
	if a.text != b.text {
		return fmt.Sprintf("%v: text %q, want %q", a.name, a.text, b.text)
	}
	if len(a.attrs) != len(b.attrs) {
		return fmt.Sprintf("%v: attrs %v, want %v", a.name, a.attrs, b.attrs)
	}
	for k := range a.attrs {
		if a.attrs[k] != b.attrs[k] {
			return fmt.Sprintf("%v: attr %v, want %v", a.name, a.attrs[k], b.attrs[k])
		}
	}
	if len(a.children) != len(b.children) {
		return fmt.Sprintf("%v: %d children, want %d", a.name, len(a.children), len(b.children))
	}
	for k := range a.children {
		if d := sameTree(a.children[k], b.children[k]); d != "" {
			return d
		}
	}
	return ""
}

func TestParseTreeFast(t *testing.T) {
	for _, body := range append(fastBodies, fuzzSeeds...) {
		got, ok := parseTreeFast([]byte(body))
		want, err := parseTreeStd([]byte(body))
		if !ok {
			if err == nil && containsAny(body, fastBodies) {
				t.Errorf("fast path declined %.200q", body)
			}
			continue
		}
		if err != nil {
			t.Errorf("fast path read %.200q, which encoding/xml refuses: %v", body, err)
			continue
		}
		if d := sameTree(got, want); d != "" {
			t.Errorf("%.200q: %s", body, d)
		}
	}
	for _, body := range slowBodies {
		if _, ok := parseTreeFast([]byte(body)); ok {
			t.Errorf("fast path read %.200q", body)
		}
	}
}

func containsAny(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

// FuzzParseTreeFast: whatever parseTreeFast reads, encoding/xml reads the
// same way.
func FuzzParseTreeFast(f *testing.F) {
	for _, s := range fastBodies {
		f.Add([]byte(s))
	}
	for _, s := range slowBodies {
		f.Add([]byte(s))
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkFastAgrees)
}

func BenchmarkParseTree(b *testing.B) {
	body := []byte(multiget100Body())
	for _, c := range []struct {
		name string
		f    func([]byte) (*node, error)
	}{{"fast", parseTree}, {"std", parseTreeStd}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := c.f(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// genXML makes a body of request-like XML from the choices in data:
// elements and attributes under declared, undeclared and reserved
// prefixes, declarations, entities, line ends and stray bytes, so that
// FuzzParseTreeFastGen reaches namespace scoping more often than
// mutations of bytes do.
func genXML(data []byte) string {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		c := data[0]
		data = data[1:]
		return int(c)
	}
	prefixes := []string{"", "a", "b", "D", "xml", "xmlns"}
	locals := []string{"a", "prop", "xmlns", "x.y-z_1"}
	uris := []string{"DAV:", "", "urn:a", "u&amp;v", "urn:ietf:params:xml:ns:carddav"}
	pieces := []string{"x", "&amp;", "&lt;&gt;&quot;&apos;", "&#13;", "&#x41;", "\r\n", "\r", "\n", " ", "\t", "é", "☕", "]]>", "]]", "&#x1F600;", "<", "&bogus;", "'", `"`, ">"}
	qn := func() string {
		p, l := prefixes[next()%len(prefixes)], locals[next()%len(locals)]
		if p == "" {
			return l
		}
		return p + ":" + l
	}
	value := func() string {
		var v strings.Builder
		for n := next() % 3; n > 0; n-- {
			v.WriteString(pieces[next()%len(pieces)])
		}
		return v.String()
	}
	var b strings.Builder
	if next()&1 == 1 {
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	}
	var stack []string
	for len(data) > 0 {
		switch op := next(); op % 7 {
		case 0, 1:
			name := qn()
			b.WriteString("<" + name)
			for n := next() % 4; n > 0; n-- {
				switch next() % 4 {
				case 0:
					b.WriteString(" xmlns:" + prefixes[next()%len(prefixes)] + `="` + uris[next()%len(uris)] + `"`)
				case 1:
					b.WriteString(` xmlns="` + uris[next()%len(uris)] + `"`)
				default:
					q := `"`
					if next()&1 == 1 {
						q = "'"
					}
					b.WriteString(" " + qn() + "=" + q + value() + q)
				}
			}
			if op%7 == 1 {
				b.WriteString("/>")
			} else {
				b.WriteString(">")
				stack = append(stack, name)
			}
		case 2, 3:
			if len(stack) > 0 {
				b.WriteString("</" + stack[len(stack)-1] + ">")
				stack = stack[:len(stack)-1]
			}
		case 4:
			b.WriteString(value())
		case 5:
			b.WriteString(" \r\n"[next()%3:])
		case 6:
			b.WriteByte(byte(next()))
		}
	}
	for k := len(stack) - 1; k >= 0; k-- {
		b.WriteString("</" + stack[k] + ">")
	}
	return b.String()
}

// FuzzParseTreeFastGen: FuzzParseTreeFast on bodies made by genXML.
func FuzzParseTreeFastGen(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 3, 0, 1, 2, 2, 4, 7, 0, 1, 0, 2, 3, 1, 2, 4, 5, 2, 1, 4, 2, 9})
	f.Add([]byte("fuzz the namespaces of nested elements, with text and attributes"))
	f.Fuzz(func(t *testing.T, data []byte) { checkFastAgrees(t, []byte(genXML(data))) })
}

// checkFastAgrees is the fast path's contract: whenever it reads body,
// encoding/xml reads it too, into the same tree.
func checkFastAgrees(t *testing.T, body []byte) {
	got, ok := parseTreeFast(body)
	if !ok {
		return
	}
	want, err := parseTreeStd(body)
	if err != nil {
		t.Fatalf("fast path read %q, which encoding/xml refuses: %v", body, err)
	}
	if d := sameTree(got, want); d != "" {
		t.Fatalf("%q: %s", body, d)
	}
}
