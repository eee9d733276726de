package dav

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-vcard"
)

// invalidCard is a PUT body that is not one well-formed vCard with a UID:
// RFC 6352 §6.3.2.1 CARDDAV:valid-address-data.
func invalidCard(format string, args ...any) error {
	return &httpError{Status: http.StatusForbidden, Cond: condValidAddressData, Err: fmt.Errorf(format, args...)}
}

// checkCard checks what dav promises the Store (Store.Put): body is UTF-8,
// exactly one vCard of version 3.0 or 4.0, every content line well formed
// (go-vcard silently skips bad lines, which would lose data), with a UID
// (RFC 6352 §5.1). The Store checks the rest.
func checkCard(body []byte) error {
	if !utf8.Valid(body) {
		return invalidCard("vCard is not UTF-8")
	}
	if err := checkLines(body); err != nil {
		return err
	}
	dec := vcard.NewDecoder(bytes.NewReader(body))
	card, err := dec.Decode()
	if errors.Is(err, io.EOF) {
		return invalidCard("empty body, no vCard")
	}
	if err != nil {
		return invalidCard("malformed vCard: %v", err)
	}
	// RFC 6352 §5.1: one vCard per address object resource.
	if _, err := dec.Decode(); !errors.Is(err, io.EOF) {
		return invalidCard("more than one vCard, or data after END:VCARD")
	}
	switch v := card.Value(vcard.FieldVersion); v {
	case "3.0", "4.0":
	case "":
		return invalidCard("vCard has no VERSION")
	default:
		return &httpError{Status: http.StatusForbidden, Cond: condSupportedAddressData,
			Err: fmt.Errorf("vCard version %q not supported (3.0, 4.0)", v)}
	}
	if strings.TrimSpace(card.Value(vcard.FieldUID)) == "" {
		return invalidCard("vCard has no UID")
	}
	return nil
}

// checkLines checks that every unfolded content line (RFC 6350 §3.2) has a
// name of letters, digits and dashes, optionally after a group, followed
// by parameters and a colon (RFC 6350 §3.3).
func checkLines(body []byte) error {
	n := 0
	for line := range unfold(body) {
		n++
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, _, found := strings.Cut(line, ":")
		if !found {
			return invalidCard("line %d: no colon", n)
		}
		name, _, _ = strings.Cut(name, ";")
		if g, rest, ok := strings.Cut(name, "."); ok {
			if !isName(g) {
				return invalidCard("line %d: malformed group %q", n, g)
			}
			name = rest
		}
		if !isName(name) {
			return invalidCard("line %d: malformed property name", n)
		}
	}
	return nil
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// unfold yields the logical lines of a vCard: a line break followed by a
// space or tab continues the previous line (RFC 6350 §3.2).
func unfold(body []byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		var cur strings.Builder
		started := false
		for len(body) > 0 {
			i := bytes.IndexByte(body, '\n')
			var raw []byte
			if i < 0 {
				raw, body = body, nil
			} else {
				raw, body = body[:i], body[i+1:]
			}
			raw = bytes.TrimSuffix(raw, []byte("\r"))
			if started && len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') {
				cur.Write(raw[1:])
				continue
			}
			if started && !yield(cur.String()) {
				return
			}
			cur.Reset()
			cur.Write(raw)
			started = true
		}
		if started {
			yield(cur.String())
		}
	}
}

// addressDataReq is a C:address-data element of a REPORT's DAV:prop (RFC
// 6352 §10.4).
type addressDataReq struct {
	// names are the vCard properties asked for (C:prop), upper case; nil
	// for the whole card (no C:prop, or C:allprop).
	names map[string]bool
	// whole is set when the request asks for more than we filter (a C:prop
	// with novalue="yes"): the whole card is sent.
	whole bool
	// v4 is set when the client asked for vCard 4.0 (version="4.0"):
	// a stored 3.0 card is converted (RFC 6352 §10.4: the server returns
	// the version asked for when it supports it).
	v4 bool
}

// parseAddressDataReq reads a C:address-data request. A request for
// version 4.0 converts stored 3.0 cards; a request for 3.0 gets a stored
// 4.0 card as stored (go-vcard converts only upwards; documented).
func parseAddressDataReq(n *node) (addressDataReq, error) {
	var d addressDataReq
	if v, _ := n.attr("version"); v == "4.0" {
		d.v4 = true
	}
	for _, c := range n.children {
		switch c.name {
		case cn("allprop"):
			d.whole = true
		case cn("prop"):
			name, ok := c.attr("name")
			if !ok || !isName(name) {
				return d, fmt.Errorf("%w: C:prop without a vCard property name", errBadXML)
			}
			if v, _ := c.attr("novalue"); v == "yes" {
				d.whole = true
			}
			if d.names == nil {
				d.names = map[string]bool{}
			}
			d.names[strings.ToUpper(name)] = true
		}
	}
	if d.whole {
		d.names = nil
	}
	return d, nil
}

// addressData returns the address-data of a stored vCard for a request:
// the stored bytes, or, when properties were named, the stored content
// lines of those properties (RFC 6352 §10.4.2) and of BEGIN, END,
// VERSION and UID, each line byte for byte as stored. Filtering is done
// only on simple cards: a card with a nested BEGIN (a vCard 3.0 AGENT) is
// sent whole, as is any request we do not filter (see addressDataReq).
func addressData(body []byte, d *addressDataReq) []byte {
	if d != nil && d.v4 {
		body = toV4(body)
	}
	if d == nil || d.names == nil {
		return body
	}
	whole := body
	var out bytes.Buffer
	keep, begins := false, 0
	for len(body) > 0 {
		i := bytes.IndexByte(body, '\n')
		var line []byte
		if i < 0 {
			line, body = body, nil
		} else {
			line, body = body[:i+1], body[i+1:]
		}
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			// RFC 6350 §3.2: a folded continuation goes with its line.
			if keep {
				out.Write(line)
			}
			continue
		}
		name := string(line)
		if j := strings.IndexAny(name, ";:"); j >= 0 {
			name = name[:j]
		}
		if _, after, ok := strings.Cut(name, "."); ok {
			name = after
		}
		name = strings.ToUpper(strings.TrimSpace(name))
		switch name {
		case "BEGIN":
			begins++
			if begins > 1 {
				return whole
			}
			keep = true
		case "END", "VERSION", "UID":
			keep = true
		default:
			keep = d.names[name]
		}
		if keep {
			out.Write(line)
		}
	}
	return out.Bytes()
}

// toV4 converts a stored vCard 3.0 to 4.0 (go-vcard's ToV4: TYPE values,
// BDAY and other forms); anything else, or a card it cannot read, is
// returned as it is.
func toV4(body []byte) []byte {
	if !bytes.Contains(body, []byte("VERSION:3.0")) {
		return body
	}
	card, err := vcard.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil || card.Value(vcard.FieldVersion) != "3.0" {
		return body
	}
	vcard.ToV4(card)
	var out bytes.Buffer
	if err := vcard.NewEncoder(&out).Encode(card); err != nil {
		return body
	}
	return out.Bytes()
}
