package syncstate

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/crmdav/crmdav/crmclient"
)

// A snapshot is the XML form of the columns last synchronized for an item,
// as the method keeps it:
//
//	<snapshot kind="contact" id="…"><c n="firstname">Ada</c><c n="birthdate"/></snapshot>
//
// An empty element is a null column. A value XML 1.0 cannot carry (control
// characters, invalid UTF-8) is stored base64-encoded with enc="base64", so
// that no value is altered on the way through.

type xmlSnapshot struct {
	XMLName xml.Name    `xml:"snapshot"`
	Kind    string      `xml:"kind,attr"`
	ID      string      `xml:"id,attr"`
	Columns []xmlColumn `xml:"c"`
}

type xmlColumn struct {
	Name  string `xml:"n,attr"`
	Enc   string `xml:"enc,attr,omitempty"`
	Value string `xml:",chardata"`
}

// EncodeSnapshot writes the columns of record (kind, id) as snapshot XML,
// columns sorted by name.
func EncodeSnapshot(kind crmclient.Kind, id string, cols crmclient.Columns) ([]byte, error) {
	s := xmlSnapshot{Kind: string(kind), ID: id}
	names := make([]string, 0, len(cols))
	for n := range cols {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !xmlSafe(n) {
			return nil, fmt.Errorf("syncstate: column name %q cannot be kept in a snapshot", n)
		}
		c := xmlColumn{Name: n, Value: cols[n]}
		if !xmlSafe(c.Value) {
			c.Enc, c.Value = "base64", base64.StdEncoding.EncodeToString([]byte(c.Value))
		}
		s.Columns = append(s.Columns, c)
	}
	return xml.Marshal(s)
}

// DecodeSnapshot reads snapshot XML.
func DecodeSnapshot(b []byte) (crmclient.Kind, string, crmclient.Columns, error) {
	var s xmlSnapshot
	if err := xml.NewDecoder(bytes.NewReader(b)).Decode(&s); err != nil {
		return "", "", nil, fmt.Errorf("syncstate: bad snapshot: %w", err)
	}
	cols := make(crmclient.Columns, len(s.Columns))
	for _, c := range s.Columns {
		v := c.Value
		if c.Enc == "base64" {
			raw, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return "", "", nil, fmt.Errorf("syncstate: bad snapshot column %s: %w", c.Name, err)
			}
			v = string(raw)
		}
		cols[c.Name] = v
	}
	return crmclient.Kind(s.Kind), s.ID, cols, nil
}

// xmlSafe reports whether s survives XML 1.0 character data unchanged
// (XML 1.0 §2.2 Char; a CR would be normalized to LF by a parser, §2.11).
func xmlSafe(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n':
		case r < 0x20 || r == '\r':
			return false
		case r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return false
		}
	}
	return true
}
