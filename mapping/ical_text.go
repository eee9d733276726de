package mapping

import (
	"strings"

	"github.com/emersion/go-ical"
)

// go-ical hands property values over as written on the wire. RFC 5545
// §3.3.11 TEXT escapes "\\", "\;", "\," and "\n" (or "\N"); icalUnescape reads
// those and leaves any other backslash as it stands, and icalEscape is its
// exact inverse (icalUnescape(icalEscape(s)) == s for every s without a
// carriage return), so a column written into a body reads back unchanged.
// Unlike go-ical's Prop.Text it never splits at an unescaped comma (which
// clients write in SUMMARY) and never fails.

func icalUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch n := s[i+1]; n {
			case '\\', ';', ',':
				b.WriteByte(n)
				i++
				continue
			case 'n', 'N':
				b.WriteByte('\n')
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// icalEscape writes text as a TEXT value. A carriage return cannot be written
// (go-ical refuses CR in values): "\r\n" and a lone "\r" become a newline.
func icalEscape(s string) string {
	if !strings.ContainsAny(s, "\\;,\n\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ';', ',':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// textOf is the text of the first property name of c, "" when there is none.
func textOf(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		return icalUnescape(p.Value)
	}
	return ""
}

// setText writes the text property name so that textOf reads v: the first
// one's value changes (its params stay), an empty v removes every one of
// them, a missing one is added.
func setText(c *ical.Component, name, v string) {
	if v == "" {
		delete(c.Props, name)
		return
	}
	if ps := c.Props[name]; len(ps) > 0 {
		ps[0].Value = icalEscape(v)
		return
	}
	p := ical.NewProp(name)
	p.Value = icalEscape(v)
	c.Props.Add(p)
}

// address is the e-mail address of a CAL-ADDRESS value (RFC 5545 §3.3.3) with
// the mailto: scheme in any case; ok is false for other URIs (urn:uuid:, a
// bare name), which map to no party.
func address(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if len(v) > len("mailto:") && strings.EqualFold(v[:len("mailto:")], "mailto:") {
		return v[len("mailto:"):], true
	}
	return "", false
}

func cloneComponent(c *ical.Component) *ical.Component {
	out := &ical.Component{Name: c.Name, Props: make(ical.Props, len(c.Props))}
	for k, ps := range c.Props {
		nps := make([]ical.Prop, len(ps))
		for i, p := range ps {
			nps[i] = ical.Prop{Name: p.Name, Value: p.Value, Params: cloneParams(p.Params)}
		}
		out.Props[k] = nps
	}
	if c.Children != nil {
		out.Children = make([]*ical.Component, len(c.Children))
		for i, ch := range c.Children {
			out.Children[i] = cloneComponent(ch)
		}
	}
	return out
}

func cloneParams(p ical.Params) ical.Params {
	if p == nil {
		return nil
	}
	out := make(ical.Params, len(p))
	for k, vs := range p {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
