package dataverse

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Change feeds bring thousands of records with dozens of columns each;
// decoding each into a map[string]json.RawMessage and then every value
// again dominated the adapter's time. scanObject walks one JSON object
// (RFC 8259) once and hands each member to fn, with string values already
// unquoted; nested objects and arrays are passed raw.

var errSyntax = errors.New("invalid JSON object")

// member is one name/value pair of an object.
type member struct {
	name string
	// str is the value of a JSON string; raw holds any other value
	// (number, true, false, null, object, array) as written.
	str   string
	raw   []byte
	isStr bool
}

// text is the Columns encoding of the value (see crmclient.Columns).
func (m *member) text() string {
	switch {
	case m.isStr:
		return m.str
	case string(m.raw) == "null":
		return ""
	}
	return string(m.raw)
}

func scanObject(b []byte, fn func(m *member) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return errSyntax
		}
		return nil
	}
	var m member
	for {
		var err error
		m.name, i, err = scanString(b, i)
		if err != nil {
			return err
		}
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return errSyntax
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return errSyntax
		}
		if b[i] == '"' {
			m.isStr, m.raw = true, nil
			m.str, i, err = scanString(b, i)
		} else {
			m.isStr, m.str = false, ""
			var end int
			end, err = skipValue(b, i)
			m.raw = b[i:end]
			i = end
		}
		if err != nil {
			return err
		}
		if err := fn(&m); err != nil {
			return err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return errSyntax
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			if skipSpace(b, i+1) != len(b) {
				return errSyntax
			}
			return nil
		default:
			return errSyntax
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// scanString reads the string starting at b[i] == '"'.
func scanString(b []byte, i int) (string, int, error) {
	if i >= len(b) || b[i] != '"' {
		return "", i, errSyntax
	}
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			escaped = true
			j++
		case c == '"':
			if !escaped && utf8.Valid(b[i+1:j]) {
				return string(b[i+1 : j]), j + 1, nil
			}
			var s string
			if err := json.Unmarshal(b[i:j+1], &s); err != nil {
				return "", j, errSyntax
			}
			return s, j + 1, nil
		case c < 0x20:
			return "", j, errSyntax
		}
	}
	return "", len(b), errSyntax
}

// skipValue returns the end of the non-string value starting at b[i],
// checking it with encoding/json when it is an object or an array.
func skipValue(b []byte, i int) (int, error) {
	switch b[i] {
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				_, end, err := scanString(b, j)
				if err != nil {
					return j, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					if !json.Valid(b[i : j+1]) {
						return j, errSyntax
					}
					return j + 1, nil
				}
			}
		}
		return len(b), errSyntax
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
		j++
	}
	if j == i || !json.Valid(b[i:j]) {
		return j, errSyntax
	}
	return j, nil
}
