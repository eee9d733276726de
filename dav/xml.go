package dav

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
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

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func hrefXML(p string) string { return "<D:href>" + esc(hrefPath(p)) + "</D:href>" }

// msWriter streams a 207 multistatus (RFC 4918 §13) response by response,
// so that memory does not grow with the collection.
type msWriter struct {
	w *bufio.Writer
}

func startMultistatus(w http.ResponseWriter) *msWriter {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusMultiStatus)
	m := &msWriter{w: bufio.NewWriter(w)}
	m.w.WriteString(xml.Header)
	m.w.WriteString(`<D:multistatus xmlns:D="DAV:" xmlns:C="` + nsCard + `">`)
	return m
}

// finish closes the multistatus. A response cut short by an error is left
// unterminated, so that no client takes it for a complete listing.
func (m *msWriter) finish() error {
	m.w.WriteString("</D:multistatus>\n")
	return m.w.Flush()
}

func (m *msWriter) abort() { m.w.Flush() }

// response writes one DAV:response for the resource at path (unescaped)
// with properties props, as the request pf asks.
func (m *msWriter) response(path string, pf *propfindReq, props []prop) {
	var ok, missing []string
	switch {
	case pf.propname:
		for _, p := range props {
			ok = append(ok, element(p.name, ""))
		}
	case pf.allprop:
		for _, p := range props {
			if p.allprop {
				ok = append(ok, element(p.name, p.inner))
			}
		}
	default:
	next:
		for _, n := range pf.props {
			for _, p := range props {
				if p.name == n {
					ok = append(ok, element(p.name, p.inner))
					continue next
				}
			}
			if e := element(n, ""); e != "" {
				missing = append(missing, e)
			}
		}
	}
	w := m.w
	w.WriteString("<D:response>" + hrefXML(path))
	if len(ok) > 0 || len(missing) == 0 {
		w.WriteString("<D:propstat><D:prop>" + strings.Join(ok, "") + "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>")
	}
	if len(missing) > 0 {
		w.WriteString("<D:propstat><D:prop>" + strings.Join(missing, "") + "</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>")
	}
	w.WriteString("</D:response>")
}

// element writes an element of any namespace with inner content; "" for
// a name that cannot be written back.
func element(n xml.Name, inner string) string {
	if !isXMLName(n.Local) {
		return ""
	}
	var open, close string
	switch n.Space {
	case nsDAV:
		open, close = "D:"+n.Local, "D:"+n.Local
	case nsCard:
		open, close = "C:"+n.Local, "C:"+n.Local
	case "":
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
