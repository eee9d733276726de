package mapping

import (
	"strings"
	"time"
)

// go-vcard's decoder undoes only "\\", "\n" and "\," in values (and its
// encoder escapes only backslash, newline and comma). The other escapes of
// RFC 6350 §3.4 / RFC 2426 §4 ("\;" inside any text, "\N") reach us still
// escaped, as does "\:" that some clients write (Gmail's "http\://").
// unescapeText and escapeText are exact inverses of each other
// (unescapeText(escapeText(s, x)) == s for every s), so a column written into
// a card reads back unchanged; on what a client wrote, unescapeText reads
// the escapes above as their characters.

// unescapeText returns the text a value (or one component of a structured
// value) stands for.
func unescapeText(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case ';', ':', '\\':
				b.WriteByte(s[i+1])
				i++
				continue
			case 'N':
				b.WriteByte('\n')
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// escapeText is the inverse of unescapeText. It escapes a backslash only where
// unescapeText would otherwise read it as an escape, so ordinary text (and
// Windows paths) is written as is. With component set, ";" is escaped too, for
// a component of a structured value (N, ADR, ORG: RFC 6350 §6.2.2, §6.3.1,
// §6.6.4).
func escapeText(s string, component bool) string {
	if !strings.ContainsAny(s, `\;`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (i+1 == len(s) || strings.IndexByte(`;:\N`, s[i+1]) >= 0):
			b.WriteString(`\\`)
		case c == ';' && component:
			b.WriteString(`\;`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitRaw splits a structured value at its unescaped semicolons, leaving each
// part as written.
func splitRaw(s string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // the escaped character never separates
		case ';':
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// components returns the first n components of a structured value, unescaped,
// "" for those missing.
func components(s string, n int) []string {
	raw := splitRaw(s)
	out := make([]string, n)
	for i := 0; i < n && i < len(raw); i++ {
		out[i] = unescapeText(raw[i])
	}
	return out
}

// setComponents rewrites a structured value so that its components read as
// want, touching only the components that differ (the others keep the bytes
// the client wrote). Components beyond len(want) are kept; empty trailing
// components beyond min are dropped.
func setComponents(raw string, want []string, min int) string {
	parts := splitRaw(raw)
	for len(parts) < len(want) {
		parts = append(parts, "")
	}
	for i, w := range want {
		if unescapeText(parts[i]) != w {
			parts[i] = escapeText(w, true)
		}
	}
	for len(parts) > min && len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return strings.Join(parts, ";")
}

func allEmpty(ss []string) bool {
	for _, s := range ss {
		if s != "" {
			return false
		}
	}
	return true
}

// Date forms (RFC 2426 §3.1.5 and RFC 6350 §4.3.1: ISO 8601 dates, basic or
// extended; a date-time keeps its date part).
const (
	layoutColumn   = "2006-01-02" // crmclient.Columns, date only
	layoutBasic    = "20060102"
	layoutExtended = "2006-01-02"
)

// parseDate returns the date a BDAY/ANNIVERSARY value names as "YYYY-MM-DD",
// or "" when it names no full date (text, "--0501" without a year, a year
// alone).
func parseDate(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, 'T'); i >= 0 {
		v = v[:i]
	}
	for _, layout := range []string{layoutExtended, layoutBasic} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.Format(layoutColumn)
		}
	}
	return ""
}

// formatDate writes a column date in the form of old (the value it replaces),
// or in the version's usual form when old has none: extended for 3.0
// (RFC 2426 §3.1.5), basic for 4.0 (RFC 6350 §4.3.1). A column that is no
// date is written as it is.
func formatDate(col, old string, v4 bool) string {
	t, err := time.Parse(layoutColumn, col)
	if err != nil {
		return escapeText(col, false)
	}
	old = strings.TrimSpace(old)
	if i := strings.IndexByte(old, 'T'); i >= 0 {
		old = old[:i]
	}
	basic := v4
	if _, err := time.Parse(layoutBasic, old); err == nil {
		basic = true
	} else if _, err := time.Parse(layoutExtended, old); err == nil {
		basic = false
	}
	if basic {
		return t.Format(layoutBasic)
	}
	return t.Format(layoutExtended)
}
