package dav

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Bounds on request XML (issue 5 "Limits"): deeper or larger documents are
// refused with 400 before anything acts on them.
const (
	maxXMLDepth    = 32
	maxXMLElements = 20000
)

// errBadXML marks a request body that is not an acceptable XML document.
var errBadXML = errors.New("malformed XML request body")

// scanXML checks that body is one well-formed XML document within the
// bounds, calling fn (if not nil) for every start element with its depth
// (1 for the root), and returns the root element's name.
func scanXML(body []byte, fn func(depth int, el xml.StartElement) error) (xml.Name, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	var root xml.Name
	depth, elems := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return root, fmt.Errorf("%w: %v", errBadXML, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 && root.Local != "" {
				return root, fmt.Errorf("%w: more than one root element", errBadXML)
			}
			depth++
			elems++
			if depth > maxXMLDepth || elems > maxXMLElements {
				return root, fmt.Errorf("%w: deeper than %d or more than %d elements", errBadXML, maxXMLDepth, maxXMLElements)
			}
			if depth == 1 {
				root = tok.Name
			}
			if fn != nil {
				if err := fn(depth, tok); err != nil {
					return root, err
				}
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(tok)) > 0 {
				return root, fmt.Errorf("%w: text outside the root element", errBadXML)
			}
		}
	}
	if root.Local == "" {
		return root, fmt.Errorf("%w: no root element", errBadXML)
	}
	return root, nil
}

// node is an element of a request body read by parseTree: the whole
// document is small (it is within the body, depth and element limits),
// so the REPORT and PROPPATCH parsers work on a tree.
type node struct {
	name     xml.Name
	attrs    []xml.Attr
	children []*node
	text     string // character data directly inside, all pieces joined
}

// parseTree reads a request body into a tree within the XML bounds, in
// one pass, with the checks of scanXML. The bodies clients send are
// read by parseTreeFast; anything else by encoding/xml.
func parseTree(body []byte) (*node, error) {
	if root, ok := parseTreeFast(body); ok {
		return root, nil
	}
	return parseTreeStd(body)
}

// parseTreeStd is parseTree with encoding/xml only: the reference for
// parseTreeFast, and the reader of everything it declines.
func parseTreeStd(body []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	var stack []*node
	texts := make([]strings.Builder, maxXMLDepth) // of the open elements, by depth
	var root *node
	elems := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errBadXML, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && root != nil {
				return nil, fmt.Errorf("%w: more than one root element", errBadXML)
			}
			elems++
			if len(stack)+1 > maxXMLDepth || elems > maxXMLElements {
				return nil, fmt.Errorf("%w: deeper than %d or more than %d elements", errBadXML, maxXMLDepth, maxXMLElements)
			}
			n := &node{name: tok.Name, attrs: tok.Attr}
			if len(stack) == 0 {
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
			texts[len(stack)-1] = strings.Builder{}
		case xml.EndElement:
			stack[len(stack)-1].text = texts[len(stack)-1].String()
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				texts[len(stack)-1].Write(tok)
			} else if len(bytes.TrimSpace(tok)) > 0 {
				return nil, fmt.Errorf("%w: text outside the root element", errBadXML)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no root element", errBadXML)
	}
	return root, nil
}

// attr returns the value of an attribute without namespace.
func (n *node) attr(local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value, true
		}
	}
	return "", false
}

// child returns the first child named name, or nil.
func (n *node) child(name xml.Name) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// propReq is the DAV:allprop / DAV:propname / DAV:prop part of a REPORT
// body: which properties of each member to answer.
type propReq struct {
	propfindReq
	data    *addressDataReq // C:address-data asked for, with its options
	calData bool            // L:calendar-data asked for (served whole)
}

// asBadRequest is a property request's error as an answer: 400, unless
// it already is one (a declined calendar-data option).
func asBadRequest(err error) error {
	var he *httpError
	if errors.As(err, &he) {
		return err
	}
	return failf(http.StatusBadRequest, "%v", err)
}

// parsePropReq reads the property request among the children of a REPORT
// root; none means allprop (RFC 6578 §3.2 needs DAV:prop, but an empty
// request is read as getetag-only there: see sync.go).
func parsePropReq(root *node) (propReq, error) {
	var pr propReq
	n := 0
	for _, c := range root.children {
		switch c.name {
		case dn("allprop"):
			pr.allprop = true
			n++
		case dn("propname"):
			pr.propname = true
			n++
		case dn("prop"):
			n++
			pr.props = []xml.Name{}
			for _, p := range c.children {
				pr.props = append(pr.props, p.name)
				if p.name == pAddressData {
					d, err := parseAddressDataReq(p)
					if err != nil {
						return pr, err
					}
					pr.data = &d
				}
				if p.name == pCalendarData {
					if err := checkCalendarDataReq(p); err != nil {
						return pr, err
					}
					pr.calData = true
				}
			}
		}
	}
	if n > 1 {
		return pr, fmt.Errorf("%w: more than one of allprop, propname, prop", errBadXML)
	}
	if n == 0 {
		pr.allprop = true
	}
	return pr, nil
}

// wants reports whether a request asks for property name explicitly.
func (pr *propReq) wants(name xml.Name) bool {
	for _, n := range pr.props {
		if n == name {
			return true
		}
	}
	return false
}

// propfindReq is a parsed PROPFIND body (RFC 4918 §14.20).
type propfindReq struct {
	allprop  bool
	propname bool
	props    []xml.Name // DAV:prop children, in request order
}

// parsePropfind parses a PROPFIND body. RFC 4918 §9.1: an empty body is
// an allprop request.
func parsePropfind(body []byte) (propfindReq, error) {
	var pf propfindReq
	if len(bytes.TrimSpace(body)) == 0 {
		pf.allprop = true
		return pf, nil
	}
	inProp := false
	_, err := scanXML(body, func(depth int, el xml.StartElement) error {
		switch {
		case depth == 1 && el.Name != (xml.Name{Space: nsDAV, Local: "propfind"}):
			return fmt.Errorf("%w: root element is not DAV:propfind", errBadXML)
		case depth == 2:
			inProp = false
			switch el.Name {
			case xml.Name{Space: nsDAV, Local: "allprop"}:
				pf.allprop = true
			case xml.Name{Space: nsDAV, Local: "propname"}:
				pf.propname = true
			case xml.Name{Space: nsDAV, Local: "prop"}:
				inProp = true
				if pf.props == nil {
					pf.props = []xml.Name{}
				}
			}
			// DAV:include names properties beyond allprop's; we have none.
		case depth == 3 && inProp:
			pf.props = append(pf.props, el.Name)
		}
		return nil
	})
	if err != nil {
		return pf, err
	}
	n := 0
	for _, b := range []bool{pf.allprop, pf.propname, pf.props != nil} {
		if b {
			n++
		}
	}
	if n != 1 {
		return pf, fmt.Errorf("%w: propfind needs exactly one of allprop, propname, prop", errBadXML)
	}
	return pf, nil
}

// prop is one property of a resource: inner is its content as XML, using
// the prefixes D: and C: that the multistatus root declares.
type prop struct {
	name    xml.Name
	allprop bool // returned for allprop (RFC 4918 §9.1: live properties we define)
	inner   string
}

// esc is s escaped as xml.EscapeText escapes it; s itself when nothing
// needs escaping.
func esc(s string) string {
	if !needsEsc(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	writeEsc(&b, s)
	return b.String()
}

// needsEsc reports whether xml.EscapeText would change s.
func needsEsc(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\'' || c == '&' || c == '<' || c == '>' {
			return true
		}
	}
	return false
}

// writeEsc writes s escaped exactly as xml.EscapeText does (the same
// entities, invalid characters as U+FFFD), without converting s to a
// byte slice and with one write per run of plain text.
func writeEsc(w io.StringWriter, s string) {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		var e string
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				e = "&#34;"
			case '\'':
				e = "&#39;"
			case '&':
				e = "&amp;"
			case '<':
				e = "&lt;"
			case '>':
				e = "&gt;"
			case '\t':
				e = "&#x9;"
			case '\n':
				e = "&#xA;"
			case '\r':
				e = "&#xD;"
			default:
				if c >= 0x20 {
					i++
					continue
				}
				e = "\uFFFD"
			}
			w.WriteString(s[last:i])
			w.WriteString(e)
			i++
			last = i
			continue
		}
		r, width := utf8.DecodeRuneInString(s[i:])
		if inCharRange(r) && !(r == utf8.RuneError && width == 1) {
			i += width
			continue
		}
		w.WriteString(s[last:i])
		w.WriteString("\uFFFD")
		i += width
		last = i
	}
	w.WriteString(s[last:])
}

// textEsc holds, for each ASCII byte, what element content writes for it
// when not the byte itself: the markup characters, CR (which a parser would
// otherwise turn into LF, breaking iCalendar's and vCard's CRLF lines), and
// the control characters XML cannot hold (as U+FFFD, like xml.EscapeText).
// Quotes, tab and LF need no escaping in content.
var textEsc = func() (t [utf8.RuneSelf]string) {
	for c := range 0x20 {
		t[c] = "\uFFFD"
	}
	t['\t'], t['\n'] = "", ""
	t['\r'] = "&#13;"
	t['&'], t['<'], t['>'] = "&amp;", "&lt;", "&gt;"
	return t
}()

// textLook marks the bytes appendText must look at: those textEsc
// escapes, and the bytes of multi-byte UTF-8 sequences.
var textLook = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= utf8.RuneSelf || textEsc[c] != ""
	}
	return t
}()

// Eight-byte masks of swarLook.
const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// swarLook returns a mask of the eight bytes of x (the first in the low
// bits) whose lowest set bit is in the first byte that may need a look: a
// byte under 0x20 (tab and LF included) or from 0x80, '&', '<' or '>'; 0
// if there is none. Bits above the lowest may be wrong (borrows).
// ("Determine if a word has a byte less than n", Bit Twiddling Hacks.)
func swarLook(x uint64) uint64 {
	zero := func(v uint64) uint64 { return (v - swarLo) &^ v & swarHi }
	gtlt := (x | 0x02*swarLo) ^ '>'*swarLo // '<' and '>' differ in bit 1 only
	return x&swarHi | (x-0x20*swarLo)&^x&swarHi | zero(x^'&'*swarLo) | zero(gtlt)
}

// text is a string or the bytes of one: calendar and address data are
// written from the stored bytes without a copy into a string.
type text interface{ ~string | ~[]byte }

// appendText appends s to dst as XML element content. Element content is
// mostly plain ASCII (vCards, iCalendar): it is passed over eight bytes at
// a time up to the next byte that may need a look.
func appendText[T text](dst []byte, s T) []byte {
	last := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			t := s[i : i+8]
			x := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
				uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
			m := swarLook(x)
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		}
		c := s[i]
		if !textLook[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[last:i]...)
			dst = append(dst, textEsc[c]...)
			i++
			last = i
			if c == '\r' && i < len(s) && s[i] == '\n' {
				i++ // CRLF, the line end of vCard and iCalendar
			}
			continue
		}
		if c >= 0xC2 && c < 0xE0 && i+1 < len(s) && s[i+1]&0xC0 == 0x80 {
			i += 2 // U+0080 to U+07FF, all allowed (Latin, Greek, Cyrillic…)
			continue
		}
		r, width := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if !inCharRange(r) || r == utf8.RuneError && width == 1 {
			dst = append(dst, s[last:i]...)
			dst = append(dst, "\uFFFD"...)
			last = i + width
		}
		i += width
	}
	return append(dst, s[last:]...)
}

// writeText writes s to w as XML element content: the escaping of large
// values (calendar and address data) appends to w's own buffer
// (bufio.Writer.AvailableBuffer) rather than writing every run between
// two escapes separately.
func writeText[T text](w *bufio.Writer, s T) {
	for len(s) > 0 {
		buf := w.AvailableBuffer()
		if cap(buf) < 64 {
			if w.Flush() != nil {
				return // the client is gone; the handler notices on Flush
			}
			if buf = w.AvailableBuffer(); cap(buf) < 64 {
				w.Write(appendText(nil, s)) // a writer with a tiny buffer
				return
			}
		}
		// A byte becomes at most 5 ("&amp;"). A valid UTF-8 sequence is
		// never split (it is at most 4 bytes long); invalid bytes may be.
		n := min(len(s), cap(buf)/5)
		for k := n; k < len(s) && k > n-utf8.UTFMax && k > 0; k-- {
			if utf8.RuneStart(s[k]) {
				n = k
				break
			}
		}
		w.Write(appendText(buf, s[:n]))
		s = s[n:]
	}
}

// inCharRange is XML's Char production (encoding/xml isInCharacterRange).
func inCharRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func hrefXML(p string) string { return "<D:href>" + esc(hrefPath(p)) + "</D:href>" }

// plainName reports whether a resource name is the same after path
// escaping (url.URL.EscapedPath) and XML escaping, so that its href is
// its collection's escaped href followed by the name.
func plainName(name string) bool {
	for i := 0; i < len(name); i++ {
		if !unreserved[name[i]] {
			return false
		}
	}
	return name != ""
}

// unreserved are the bytes RFC 3986 §2.3 leaves unescaped in a path
// segment, none of which XML escapes.
var unreserved = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
	}
	return t
}()

// Namespaces of the elements we write, and the prefixes the multistatus
// root and DAV:error bodies declare for them. Calendars (issue 6) use
// nsCal under the same root.
const (
	nsCS     = "http://calendarserver.org/ns/" // getctag
	nsApple  = "http://apple.com/ns/ical/"     // calendar-color, calendar-order
	nsCal    = "urn:ietf:params:xml:ns:caldav"
	nsCrmdav = "http://crmdav.invalid/ns/" // our own elements (errors)
)

var prefixes = []struct{ ns, p string }{
	{nsDAV, "D"}, {nsCard, "C"}, {nsCal, "L"}, {nsCS, "CS"}, {nsApple, "A"}, {nsCrmdav, "CR"},
}

// xmlnsDecl is the namespace declarations of a root element we write.
var xmlnsDecl = func() string {
	var b strings.Builder
	for _, p := range prefixes {
		b.WriteString(` xmlns:` + p.p + `="` + p.ns + `"`)
	}
	return b.String()
}()

func prefixOf(ns string) string {
	for _, p := range prefixes {
		if p.ns == ns {
			return p.p
		}
	}
	return ""
}

// msWriter streams a 207 multistatus (RFC 4918 §13) response by response,
// so that memory does not grow with the collection: the bufio.Writer
// sends each full buffer to the client as the answer is written.
type msWriter struct {
	w *bufio.Writer
}

// msBufSize is the multistatus buffer: large enough that a listing
// reaches the client in few writes, small enough to stay bounded.
const msBufSize = 32 << 10

var msBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, msBufSize) }}

func startMultistatus(w http.ResponseWriter) *msWriter {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusMultiStatus)
	bw := msBufs.Get().(*bufio.Writer)
	bw.Reset(w)
	m := &msWriter{w: bw}
	m.w.WriteString(xml.Header)
	m.w.WriteString(`<D:multistatus` + xmlnsDecl + `>`)
	return m
}

// release returns the buffer to the pool once flushed.
func (m *msWriter) release() {
	m.w.Reset(nil)
	msBufs.Put(m.w)
	m.w = nil
}

// finish closes the multistatus. A response cut short by an error is left
// unterminated, so that no client takes it for a complete listing.
func (m *msWriter) finish() error {
	m.w.WriteString("</D:multistatus>\n")
	err := m.w.Flush()
	m.release()
	return err
}

func (m *msWriter) abort() {
	m.w.Flush()
	m.release()
}

// raw writes XML that uses the root's prefixes, e.g. DAV:sync-token.
func (m *msWriter) raw(s string) { m.w.WriteString(s) }

// response writes one DAV:response for the resource at path (unescaped)
// with properties props, as the request pf asks.
func (m *msWriter) response(path string, pf *propfindReq, props []prop) {
	w := m.w
	w.WriteString("<D:response><D:href>")
	writeEsc(w, hrefPath(path))
	w.WriteString("</D:href>")
	switch {
	case pf.propname:
		w.WriteString("<D:propstat><D:prop>")
		for _, p := range props {
			w.WriteString(element(p.name, ""))
		}
		w.WriteString("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>")
	case pf.allprop:
		w.WriteString("<D:propstat><D:prop>")
		for _, p := range props {
			if p.allprop {
				w.WriteString(element(p.name, p.inner))
			}
		}
		w.WriteString("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>")
	default:
		found, missing := 0, 0
		for _, n := range pf.props {
			if findProp(props, n) != nil {
				found++
			} else if isXMLName(n.Local) {
				missing++
			}
		}
		if found > 0 || missing == 0 {
			w.WriteString("<D:propstat><D:prop>")
			for _, n := range pf.props {
				if p := findProp(props, n); p != nil {
					w.WriteString(element(p.name, p.inner))
				}
			}
			w.WriteString("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>")
		}
		if missing > 0 {
			w.WriteString("<D:propstat><D:prop>")
			for _, n := range pf.props {
				if findProp(props, n) == nil {
					w.WriteString(element(n, ""))
				}
			}
			w.WriteString("</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>")
		}
	}
	w.WriteString("</D:response>")
}

func findProp(props []prop, n xml.Name) *prop {
	for i := range props {
		if props[i].name == n {
			return &props[i]
		}
	}
	return nil
}

// Parts of an object's response that differ between objects.
const (
	dynNone = iota
	dynETag
	dynLength
	dynAddressData
	dynCalendarData
)

// objPart is literal XML followed by one varying property (dyn), written
// as open + value + close, or empty when the value is.
type objPart struct {
	lit                string
	dyn                int
	open, close, empty string
}

// objWriter writes the responses of the objects of one collection for
// one request: what objectProps and msWriter.response would write, with
// everything that is the same for every object worked out once.
type objWriter struct {
	m          *msWriter
	user       string
	c          Collection
	hrefPrefix string // escaped href of the collection, ending in "/"
	parts      []objPart
	data       *addressDataReq
}

// objectWriter prepares the writing of objects of collection c, with the
// properties objectProps gives for withBody and pr, as pf asks.
func (m *msWriter) objectWriter(user string, c Collection, withBody bool, pr *propReq, pf *propfindReq) *objWriter {
	ow := &objWriter{m: m, user: user, c: c, hrefPrefix: esc(hrefPath(collectionPath(user, c.Slug)))}
	if pr != nil {
		ow.data = pr.data
	}
	props := objectProps(user, c, Object{}, withBody, pr)
	var lit strings.Builder
	add := func(p *prop) {
		if pf.propname {
			lit.WriteString(element(p.name, ""))
			return
		}
		dyn := dynNone
		switch p.name {
		case pGetETag:
			dyn = dynETag
		case pGetContentLength:
			dyn = dynLength
		case pAddressData:
			dyn = dynAddressData
		case pCalendarData:
			dyn = dynCalendarData
		}
		if dyn == dynNone {
			lit.WriteString(element(p.name, p.inner))
			return
		}
		full := element(p.name, "\x00")
		i := strings.IndexByte(full, 0)
		ow.parts = append(ow.parts, objPart{lit: lit.String(), dyn: dyn, open: full[:i], close: full[i+1:], empty: element(p.name, "")})
		lit.Reset()
	}
	const okStat = "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
	switch {
	case pf.propname, pf.allprop:
		lit.WriteString("<D:propstat><D:prop>")
		for i := range props {
			if pf.propname || props[i].allprop {
				add(&props[i])
			}
		}
		lit.WriteString(okStat)
	default:
		found, missing := 0, 0
		for _, n := range pf.props {
			if findProp(props, n) != nil {
				found++
			} else if isXMLName(n.Local) {
				missing++
			}
		}
		if found > 0 || missing == 0 {
			lit.WriteString("<D:propstat><D:prop>")
			for _, n := range pf.props {
				if p := findProp(props, n); p != nil {
					add(p)
				}
			}
			lit.WriteString(okStat)
		}
		if missing > 0 {
			lit.WriteString("<D:propstat><D:prop>")
			for _, n := range pf.props {
				if findProp(props, n) == nil {
					lit.WriteString(element(n, ""))
				}
			}
			lit.WriteString("</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>")
		}
	}
	lit.WriteString("</D:response>")
	ow.parts = append(ow.parts, objPart{lit: lit.String()})
	return ow
}

// write writes the response of object o, at its name in the collection.
// The response is appended to the multistatus buffer in one go
// (bufio.Writer.AvailableBuffer); only calendar or address data, which may
// be large, is escaped into it on its own.
func (ow *objWriter) write(o *Object) {
	w := ow.m.w
	if w.Available() < 1024 && w.Flush() != nil {
		return // the client is gone; finish reports it
	}
	b := append(w.AvailableBuffer(), "<D:response><D:href>"...)
	if plainName(o.Name) {
		b = append(append(b, ow.hrefPrefix...), o.Name...)
	} else {
		b = appendText(b, hrefPath(objectPath(ow.user, ow.c.Slug, o.Name)))
	}
	b = append(b, "</D:href>"...)
	for i := range ow.parts {
		p := &ow.parts[i]
		b = append(b, p.lit...)
		switch p.dyn {
		case dynNone:
		case dynETag:
			if o.ETag == "" {
				b = append(b, p.empty...)
				break
			}
			b = append(appendText(append(b, p.open...), o.ETag), p.close...)
		case dynLength:
			b = append(strconv.AppendInt(append(b, p.open...), int64(len(o.Body)), 10), p.close...)
		case dynAddressData, dynCalendarData:
			v := o.Body
			if p.dyn == dynAddressData {
				v = addressData(o.Body, ow.data)
			}
			if len(v) == 0 {
				b = append(b, p.empty...)
				break
			}
			w.Write(append(b, p.open...))
			writeText(w, v)
			b = append(w.AvailableBuffer(), p.close...)
		}
	}
	w.Write(b)
}

// statusResponse writes a DAV:response with a status and no propstat
// (RFC 4918 §14.24), with a DAV:error holding cond when cond is set and a
// responsedescription when desc is.
func (m *msWriter) statusResponse(path string, status int, cond xml.Name, desc string) {
	w := m.w
	w.WriteString("<D:response><D:href>")
	writeEsc(w, hrefPath(path))
	w.WriteString("</D:href><D:status>")
	w.WriteString(statusLine(status))
	w.WriteString("</D:status>")
	if cond.Local != "" {
		w.WriteString("<D:error>" + element(cond, "") + "</D:error>")
	}
	if desc != "" {
		w.WriteString("<D:responsedescription>" + esc(desc) + "</D:responsedescription>")
	}
	w.WriteString("</D:response>")
}

// propstat is one group of properties of the same status (PROPPATCH).
type propstat struct {
	status int
	names  []xml.Name
	desc   string
}

// propstatResponse writes a DAV:response of empty properties grouped by
// status (RFC 4918 §9.2.1).
func (m *msWriter) propstatResponse(path string, groups []propstat) {
	w := m.w
	w.WriteString("<D:response>" + hrefXML(path))
	for _, g := range groups {
		if len(g.names) == 0 {
			continue
		}
		w.WriteString("<D:propstat><D:prop>")
		for _, n := range g.names {
			w.WriteString(element(n, ""))
		}
		w.WriteString("</D:prop><D:status>" + statusLine(g.status) + "</D:status>")
		if g.desc != "" {
			w.WriteString("<D:responsedescription>" + esc(g.desc) + "</D:responsedescription>")
		}
		w.WriteString("</D:propstat>")
	}
	w.WriteString("</D:response>")
}

func statusLine(code int) string {
	return "HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code)
}

// element writes an element of any namespace with inner content; "" for
// a name that cannot be written back.
func element(n xml.Name, inner string) string {
	if !isXMLName(n.Local) {
		return ""
	}
	var open, close string
	switch p := prefixOf(n.Space); {
	case p != "":
		open, close = p+":"+n.Local, p+":"+n.Local
	case n.Space == "":
		open, close = n.Local+` xmlns=""`, n.Local
	default:
		var b strings.Builder
		xml.EscapeText(&b, []byte(n.Space))
		open, close = "X:"+n.Local+` xmlns:X="`+b.String()+`"`, "X:"+n.Local
	}
	if inner == "" {
		return "<" + open + "/>"
	}
	return "<" + open + ">" + inner + "</" + close + ">"
}

// isXMLName reports whether s is a plain XML local name (no colon).
func isXMLName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= 0x80:
		case i > 0 && (c == '-' || c == '.' || c >= '0' && c <= '9'):
		default:
			return false
		}
	}
	return true
}
