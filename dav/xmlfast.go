package dav

import (
	"bytes"
	"encoding/xml"
	"strings"
	"unicode/utf8"
)

// parseTreeFast reads the common shape of request bodies that clients
// send without encoding/xml: an optional UTF-8 XML declaration, then one
// root element of elements with ASCII names, quoted attributes, namespace
// declarations, and text with the predefined entities and character
// references. It returns ok=false for anything else, well-formed or not
// (comments, CDATA, DOCTYPE, processing instructions, unknown entities or
// prefixes, odd names, characters XML does not allow, bounds exceeded), and
// parseTree then reads the body with encoding/xml.
//
// The contract (FuzzParseTreeFast): when it returns ok, parseTreeStd
// accepts the same body and gives an equal tree. Names are translated as
// encoding/xml's Decoder.Token does: an unprefixed element is in the
// default namespace, an unprefixed attribute in none, xmlns:p and xmlns
// attributes keep the names {xmlns p} and {"" xmlns}, prefix xml is
// xmlURL; end-of-line handling is XML 1.0 §2.11 ("\r\n" and "\r" read as
// "\n"), as in encoding/xml.
func parseTreeFast(body []byte) (*node, bool) {
	// Every element starts with a '<' that no '/' follows.
	n := bytes.Count(body, []byte{'<'}) - bytes.Count(body, []byte("</"))
	if n <= 0 {
		return nil, false
	}
	n = min(n, maxXMLElements)
	link := make([]int32, 2*n)
	p := fastParser{
		s:      string(body),
		nodes:  make([]node, 0, n),
		parent: link[:0:n],
		count:  link[n:],
		stack:  make([]frame, 0, 8), // grows (to maxXMLDepth) for deeper bodies
	}
	if !p.parse() {
		return nil, false
	}
	return p.build(), true
}

// fastParser is the state of parseTreeFast. Names, namespaces, values and
// texts are substrings of s when they need no decoding.
type fastParser struct {
	s       string
	nodes   []node  // in document order; nodes[0] is the root
	parent  []int32 // index of each node's parent, -1 for the root
	count   []int32 // number of children of each node (build)
	attrs   []xml.Attr
	ns      []nsBinding // declarations in scope, innermost last
	stack   []frame     // open elements
	scratch []byte
}

// nsBinding is a namespace declaration: prefix "" for xmlns="…".
type nsBinding struct{ prefix, uri string }

// frame is an open element.
type frame struct {
	n     int    // index in nodes
	qname string // the name as written, which the end tag must repeat
	nsLen int    // len(ns) before the element's declarations
	text  string // its text so far, if in one piece
	multi bool   // text is in buf
	buf   []byte
}

const xmlURL = "http://www.w3.org/XML/1998/namespace"

// maxFastNS bounds the namespace declarations in scope that parseTreeFast
// looks names up in; clients declare a handful.
const maxFastNS = 64

// Byte classes.
var (
	// special: bytes of text that are not simply part of it.
	special = func() (t [256]bool) {
		for c := range 256 {
			t[c] = c < 0x20 && c != '\t' && c != '\n' || c >= utf8.RuneSelf ||
				c == '<' || c == '&' || c == ']' || c == '"' || c == '\''
		}
		return t
	}()
	nameStart = func() (t [256]bool) {
		for c := range 256 {
			t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		}
		return t
	}()
	nameByte = func() (t [256]bool) {
		for c := range 256 {
			t[c] = nameStart[c] || c >= '0' && c <= '9' || c == '-' || c == '.'
		}
		return t
	}()
)

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

func (p *fastParser) parse() bool {
	s := p.s
	i := 0
	if strings.HasPrefix(s, "<?xml") {
		var ok bool
		if i, ok = xmlDecl(s); !ok {
			return false
		}
	}
	rootDone := false
	for i < len(s) {
		c := s[i]
		if c != '<' {
			if len(p.stack) == 0 {
				if !isSpace(c) {
					return false
				}
				i++
				continue
			}
			v, j, ok := p.chars(i, 0)
			if !ok {
				return false
			}
			p.addText(v)
			i = j
			continue
		}
		if i+1 >= len(s) {
			return false
		}
		var ok bool
		switch s[i+1] {
		case '/':
			i, ok = p.endTag(i + 2)
			rootDone = len(p.stack) == 0
		case '?', '!':
			return false
		default:
			if rootDone {
				return false
			}
			i, ok = p.startTag(i+1, &rootDone)
		}
		if !ok {
			return false
		}
	}
	return rootDone && len(p.stack) == 0
}

// xmlDecl reads `<?xml version="1.0"?>` with an optional encoding of
// UTF-8 (in any case), returning where the declaration ends.
func xmlDecl(s string) (int, bool) {
	i := len("<?xml")
	if i >= len(s) || !isSpace(s[i]) {
		return 0, false
	}
	i, v, ok := declParam(s, skipSpace(s, i), "version")
	if !ok || v != "1.0" {
		return 0, false
	}
	if j := skipSpace(s, i); j > i && strings.HasPrefix(s[j:], "encoding") {
		i, v, ok = declParam(s, j, "encoding")
		if !ok || !strings.EqualFold(v, "utf-8") {
			return 0, false
		}
	}
	i = skipSpace(s, i)
	if !strings.HasPrefix(s[i:], "?>") {
		return 0, false
	}
	return i + 2, true
}

// declParam reads name="value" or name='value' at s[i:], of a value of
// name bytes only.
func declParam(s string, i int, name string) (int, string, bool) {
	if !strings.HasPrefix(s[i:], name+"=") {
		return 0, "", false
	}
	i += len(name) + 1
	if i >= len(s) || s[i] != '"' && s[i] != '\'' {
		return 0, "", false
	}
	q := s[i]
	j := i + 1
	for j < len(s) && nameByte[s[j]] {
		j++
	}
	if j >= len(s) || s[j] != q {
		return 0, "", false
	}
	return j + 1, s[i+1 : j], true
}

// qname reads a name, with a prefix or without, at s[i:].
func qname(s string, i int) (prefix, local string, end int, ok bool) {
	j := i
	if j >= len(s) || !nameStart[s[j]] {
		return "", "", 0, false
	}
	for j++; j < len(s) && nameByte[s[j]]; j++ {
	}
	local = s[i:j]
	if j < len(s) && s[j] == ':' {
		k := j + 1
		if k >= len(s) || !nameStart[s[k]] {
			return "", "", 0, false
		}
		for k++; k < len(s) && nameByte[s[k]]; k++ {
		}
		prefix, local, j = local, s[j+1:k], k
	}
	// encoding/xml would read on a name that goes on with these.
	if j < len(s) && (s[j] == ':' || s[j] >= utf8.RuneSelf) {
		return "", "", 0, false
	}
	return prefix, local, j, true
}

// lookup returns the namespace bound to prefix ("" for the default).
func (p *fastParser) lookup(prefix string) (string, bool) {
	for k := len(p.ns) - 1; k >= 0; k-- {
		if p.ns[k].prefix == prefix {
			return p.ns[k].uri, true
		}
	}
	return "", prefix == ""
}

// startTag reads an element's start tag from s[i:], just after '<'.
func (p *fastParser) startTag(i int, rootDone *bool) (int, bool) {
	s := p.s
	prefix, local, j, ok := qname(s, i)
	if !ok || prefix == "xmlns" || prefix == "" && local == "xmlns" {
		return 0, false
	}
	qn := s[i:j]
	i = j
	nsLen, attrStart := len(p.ns), len(p.attrs)
	empty := false
	for {
		k := skipSpace(s, i)
		if k >= len(s) {
			return 0, false
		}
		if s[k] == '>' {
			i = k + 1
			break
		}
		if s[k] == '/' {
			if k+1 >= len(s) || s[k+1] != '>' {
				return 0, false
			}
			i, empty = k+2, true
			break
		}
		if k == i {
			return 0, false // no space before the attribute
		}
		apfx, alocal, j, ok := qname(s, k)
		if !ok {
			return 0, false
		}
		j = skipSpace(s, j)
		if j >= len(s) || s[j] != '=' {
			return 0, false
		}
		j = skipSpace(s, j+1)
		if j >= len(s) || s[j] != '"' && s[j] != '\'' {
			return 0, false
		}
		v, j, ok := p.chars(j+1, s[j])
		if !ok {
			return 0, false
		}
		i = j + 1 // past the closing quote
		if (apfx == "xmlns" || apfx == "" && alocal == "xmlns") && len(p.ns) >= maxFastNS {
			return 0, false // lookups are linear: leave many to encoding/xml's map
		}
		switch {
		case apfx == "xmlns":
			if alocal == "xml" || alocal == "xmlns" {
				return 0, false
			}
			p.ns = append(p.ns, nsBinding{alocal, v})
		case apfx == "" && alocal == "xmlns":
			p.ns = append(p.ns, nsBinding{"", v})
		}
		p.attrs = append(p.attrs, xml.Attr{Name: xml.Name{Space: apfx, Local: alocal}, Value: v})
	}
	// Declarations apply to the element's own name and attributes.
	var space string
	switch prefix {
	case "xml":
		space = xmlURL
	default:
		if space, ok = p.lookup(prefix); !ok {
			return 0, false
		}
	}
	var attrs []xml.Attr
	if len(p.attrs) > attrStart {
		attrs = p.attrs[attrStart:len(p.attrs):len(p.attrs)]
		for k := range attrs {
			a := &attrs[k].Name
			switch a.Space {
			case "", "xmlns":
			case "xml":
				a.Space = xmlURL
			default:
				if a.Space, ok = p.lookup(a.Space); !ok {
					return 0, false
				}
			}
		}
	}
	depth := len(p.stack)
	if depth+1 > maxXMLDepth || len(p.nodes)+1 > maxXMLElements {
		return 0, false
	}
	idx := len(p.nodes)
	p.nodes = append(p.nodes, node{name: xml.Name{Space: space, Local: local}, attrs: attrs})
	par := int32(-1)
	if depth > 0 {
		par = int32(p.stack[depth-1].n)
	}
	p.parent = append(p.parent, par)
	if empty {
		p.ns = p.ns[:nsLen]
		*rootDone = depth == 0
		return i, true
	}
	if depth < cap(p.stack) {
		p.stack = p.stack[:depth+1] // a frame's text buffer is used again
	} else {
		p.stack = append(p.stack[:depth], frame{})
	}
	f := &p.stack[depth]
	*f = frame{n: idx, qname: qn, nsLen: nsLen, buf: f.buf[:0]}
	return i, true
}

// endTag reads an end tag from s[i:], just after "</".
func (p *fastParser) endTag(i int) (int, bool) {
	s := p.s
	_, _, j, ok := qname(s, i)
	if !ok || len(p.stack) == 0 {
		return 0, false
	}
	f := &p.stack[len(p.stack)-1]
	if s[i:j] != f.qname {
		return 0, false
	}
	j = skipSpace(s, j)
	if j >= len(s) || s[j] != '>' {
		return 0, false
	}
	if f.multi {
		p.nodes[f.n].text = string(f.buf)
	} else {
		p.nodes[f.n].text = f.text
	}
	p.ns = p.ns[:f.nsLen]
	p.stack = p.stack[:len(p.stack)-1]
	return j + 1, true
}

// addText adds a piece of text to the innermost open element.
func (p *fastParser) addText(v string) {
	f := &p.stack[len(p.stack)-1]
	switch {
	case f.multi:
		f.buf = append(f.buf, v...)
	case f.text == "":
		f.text = v
	default:
		f.buf = append(append(f.buf[:0], f.text...), v...)
		f.multi = true
	}
}

// chars reads text (quote 0) up to '<' or the end, or an attribute value
// up to quote, decoding references and line ends. It returns the value and
// where it stopped (at '<' or the closing quote).
func (p *fastParser) chars(i int, quote byte) (string, int, bool) {
	s := p.s
	start, last := i, i
	var buf []byte
	decoded := false
	for i < len(s) {
		c := s[i]
		if !special[c] {
			i++
			continue
		}
		switch {
		case c == '<':
			if quote != 0 {
				return "", 0, false
			}
			goto done
		case c == quote && quote != 0:
			goto done
		case c == '"' || c == '\'':
			i++
		case c == ']':
			// XML 1.0 §2.4: "]]>" may not appear in content.
			if quote == 0 && strings.HasPrefix(s[i:], "]]>") {
				return "", 0, false
			}
			i++
		case c >= utf8.RuneSelf:
			r, w := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && w == 1 || !inCharRange(r) {
				return "", 0, false
			}
			i += w
		case c == '&':
			r, j, ok := charRef(s, i)
			if !ok {
				return "", 0, false
			}
			if !decoded {
				buf, decoded = p.scratch[:0], true
			}
			buf = utf8.AppendRune(append(buf, s[last:i]...), r)
			i, last = j, j
		case c == '\r':
			if !decoded {
				buf, decoded = p.scratch[:0], true
			}
			buf = append(append(buf, s[last:i]...), '\n')
			if i++; i < len(s) && s[i] == '\n' {
				i++
			}
			last = i
		default:
			return "", 0, false // a control character XML does not allow
		}
	}
	if quote != 0 {
		return "", 0, false
	}
done:
	if !decoded {
		return s[start:i], i, true
	}
	buf = append(buf, s[last:i]...)
	p.scratch = buf[:0]
	return string(buf), i, true
}

// charRef reads an entity or character reference at s[i:] ('&'): one of
// the five that XML predefines, or a reference to a character XML allows.
func charRef(s string, i int) (rune, int, bool) {
	j := i + 1
	if j < len(s) && s[j] == '#' {
		j++
		hex := j < len(s) && s[j] == 'x'
		if hex {
			j++
		}
		start := j
		var v rune
		for ; j < len(s) && j-start < 8; j++ {
			c := s[j]
			switch {
			case c >= '0' && c <= '9':
				c -= '0'
			case hex && c >= 'a' && c <= 'f':
				c -= 'a' - 10
			case hex && c >= 'A' && c <= 'F':
				c -= 'A' - 10
			default:
				goto end
			}
			if hex {
				v = v*16 + rune(c)
			} else {
				v = v*10 + rune(c)
			}
		}
	end:
		if j == start || j >= len(s) || s[j] != ';' || !inCharRange(v) {
			return 0, 0, false
		}
		return v, j + 1, true
	}
	for _, e := range predefined {
		if strings.HasPrefix(s[j:], e.name) {
			return e.r, j + len(e.name), true
		}
	}
	return 0, 0, false
}

var predefined = [...]struct {
	name string
	r    rune
}{{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"apos;", '\''}, {"quot;", '"'}}

// build links the nodes into a tree: the children of all nodes share one
// slice.
func (p *fastParser) build() *node {
	nodes, count := p.nodes, p.count
	for _, par := range p.parent[1:] {
		count[par]++
	}
	kids := make([]*node, len(nodes)-1)
	off := 0
	for k := range nodes {
		if c := int(count[k]); c > 0 {
			nodes[k].children = kids[off : off : off+c]
			off += c
		}
	}
	for k, par := range p.parent[1:] {
		pn := &nodes[par]
		pn.children = append(pn.children, &nodes[k+1])
	}
	return &nodes[0]
}
