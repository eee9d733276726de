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
