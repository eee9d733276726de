package mapping

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-ical"
)

// DecodeCalendar reads one iCalendar stream with go-ical, and nothing
// after it. go-ical refuses a DQUOTE inside an unquoted parameter value,
// which RFC 5545 §3.1 forbids but iOS writes (X-APPLE-STRUCTURED-LOCATION
// with X-ADDRESS=…\"A\"…): such a stream is read again with those
// quotes made apostrophes (relaxParams), for checking and matching only:
// the stored bytes are the client's.
func DecodeCalendar(body []byte) (*ical.Calendar, error) {
	cal, err := decodeStrict(body)
	if err == nil {
		return cal, nil
	}
	if relaxed, changed := relaxParams(body); changed {
		if cal, err2 := decodeStrict(relaxed); err2 == nil {
			return cal, nil
		}
	}
	return nil, err
}

// relaxParams replaces every DQUOTE inside an unquoted parameter value
// of an unfolded content line; changed is false when there is none.
func relaxParams(body []byte) ([]byte, bool) {
	var out bytes.Buffer
	changed := false
	for line := range unfold(body) {
		b := []byte(line)
		inQuote, inValue := false, false
	scan:
		for i := 0; i < len(b); i++ {
			switch c := b[i]; {
			case inQuote:
				inQuote = c != '"'
			case c == ':':
				break scan
			case c == ';' || c == ',':
				inValue = c == ','
			case c == '=':
				inValue = true
				if i+1 < len(b) && b[i+1] == '"' {
					inQuote = true
					i++
				}
			case c == '"' && inValue:
				b[i] = '\''
				changed = true
			}
		}
		out.Write(b)
		out.WriteString("\r\n")
	}
	return out.Bytes(), changed
}

// decodeStrict is go-ical's decoder; a panic of the parser on hostile
// input is an error here, not a crashed request.
func decodeStrict(body []byte) (cal *ical.Calendar, err error) {
	defer func() {
		if p := recover(); p != nil {
			cal, err = nil, fmt.Errorf("iCalendar parser: %v", p)
		}
	}()
	dec := ical.NewDecoder(bytes.NewReader(body))
	cal, err = dec.Decode()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty body, no VCALENDAR")
	}
	if err != nil {
		return nil, err
	}
	if _, err := dec.Decode(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one VCALENDAR, or data after END:VCALENDAR")
	}
	return cal, nil
}

// unfold yields the content lines of a body with folding undone (RFC 5545
// §3.1), without their line ends.
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
