package mapping

import (
	"strings"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-vcard"
)

// writer rewrites the fields of card whose columns changed so that they read
// as want. It changes a field's value only, keeping its group and params; a
// field is added only when its column has none, with the params a client of
// that version expects.
type writer struct {
	card vcard.Card
	v4   bool
	want crmclient.Columns
}

// clear empties f, then removes it (with the other representations sharing
// its ALTID, RFC 6350 §5.4) unless that would let another field of key take
// its place and change the columns of fam: then f stays, empty, holding the
// place (an e-mail slot emptied before a filled one, a second TITLE).
func (w writer) clear(key string, f *vcard.Field, fam []string) {
	f.Value = ""
	old := w.card[key]
	altid := f.Params.Get(vcard.ParamAltID)
	kept := make([]*vcard.Field, 0, len(old))
	for _, g := range old {
		if g == f || (altid != "" && g != nil && g.Params.Get(vcard.ParamAltID) == altid) {
			continue
		}
		kept = append(kept, g)
	}
	if len(kept) == 0 {
		delete(w.card, key)
	} else {
		w.card[key] = kept
	}
	if differ(extract(w.card), w.want, fam) {
		w.card[key] = old
	}
}

func (w writer) add(key, value string, types ...string) *vcard.Field {
	f := &vcard.Field{Value: value, Params: vcard.Params{}}
	for _, t := range types {
		f.Params.Add(vcard.ParamType, t)
	}
	if len(types) == 0 {
		f.Params = nil
	}
	w.card.Add(key, f)
	return f
}

// name writes N (RFC 6350 §6.2.2, RFC 2426 §3.1.2), adding it when missing.
func (w writer) name() {
	want := make([]string, len(nameCols))
	for i, c := range nameCols {
		want[i] = w.want[c]
	}
	if f := look(w.card).n; f != nil {
		f.Value = setComponents(f.Value, want, len(nameCols))
		return
	}
	w.add(vcard.FieldName, setComponents("", want, len(nameCols)))
}

// single writes the text property key that column col maps to.
func (w writer) single(key, col string) {
	f := best(w.card[key], nil)
	v := w.want[col]
	switch {
	case f == nil && v != "":
		w.add(key, escapeText(v, false))
	case f != nil && v == "":
		w.clear(key, f, []string{col})
	case f != nil:
		f.Value = escapeText(v, false)
	}
}

// org writes ORG's first unit (RFC 6350 §6.6.4, RFC 2426 §3.5.5): the
// department. The organization name, ORG's first component, is never
// written: the contact has no column for it.
func (w writer) org() {
	f := look(w.card).org
	v := w.want["department"]
	if f == nil {
		if v != "" {
			w.add(vcard.FieldOrganization, setComponents("", []string{"", v}, 1))
		}
		return
	}
	f.Value = setComponents(f.Value, []string{components(f.Value, 1)[0], v}, 1)
	if allEmpty(components(f.Value, len(splitRaw(f.Value)))) {
		w.clear(vcard.FieldOrganization, f, []string{"department"})
	}
}

// emails writes the first three EMAILs by preference (RFC 6350 §6.4.2, RFC 2426
// §3.3.2). A new one has TYPE=INTERNET in 3.0 (RFC 2426's default, written
// out as clients do) and the first one TYPE=work.
func (w writer) emails() {
	win := look(w.card).emails
	last := -1
	for i, c := range emailCols {
		if w.want[c] != "" {
			last = i
		}
	}
	var emptied []*vcard.Field
	for i, c := range emailCols {
		v := w.want[c]
		if i < len(win) {
			if unescapeText(win[i].Value) != v {
				win[i].Value = escapeText(v, false)
				if v == "" {
					emptied = append(emptied, win[i])
				}
			}
			continue
		}
		if i > last {
			break
		}
		var types []string
		if !w.v4 {
			types = append(types, "INTERNET")
		}
		if i == 0 {
			types = append(types, "work")
		}
		f := w.add(vcard.FieldEmail, escapeText(v, false), types...)
		if v == "" {
			emptied = append(emptied, f)
		}
	}
	for i := len(emptied) - 1; i >= 0; i-- {
		w.clear(vcard.FieldEmail, emptied[i], emailCols)
	}
}

// tel writes the TEL of column telCols[c]. A TEL written as a tel: URI
// (RFC 6350 §6.4.1, RFC 3966) stays one.
func (w writer) tel(c int) {
	f := look(w.card).tels[c]
	v := w.want[telCols[c]]
	value := escapeText(v, false)
	if hasTelScheme(v) || (f != nil && hasTelScheme(unescapeText(f.Value))) {
		value = "tel:" + value
	}
	switch {
	case f == nil && v != "":
		w.add(vcard.FieldTelephone, value, telTypes[c]...)
	case f != nil && v == "":
		w.clear(vcard.FieldTelephone, f, telCols[c:c+1])
	case f != nil:
		f.Value = value
	}
}

// adr writes address s+1 (RFC 6350 §6.3.1, RFC 2426 §3.2.1). The lines go to
// the street, one per line; an extended address that adrColumns showed as a
// line stays the extended address while no line after it is filled, and
// otherwise becomes part of the street.
func (w writer) adr(s int) {
	cols := make([]string, len(adrCols[s]))
	for i, c := range adrCols[s] {
		cols[i] = w.want[c]
	}
	pobox, l, rest := cols[0], cols[1:4], cols[4:]
	f := look(w.card).adrs[s]
	if f == nil {
		if !allEmpty(cols) {
			want := append([]string{pobox, "", joinLines(l)}, rest...)
			w.add(vcard.FieldAddress, setComponents("", want, 7), []string{"work", "home"}[s])
		}
		return
	}
	c := components(f.Value, 7)
	ext, street := c[1], joinLines(l)
	lines, extAt := adrLines(c[2], c[1])
	switch {
	case extAt >= 0 && allEmpty(l[extAt+1:]):
		ext = l[extAt]
		if ext != "" {
			street = strings.Join(l[:extAt], "\n")
		}
	case extAt >= 0:
		ext = "" // a line after it is filled: it is a street line now
	case ext != "" && len(lines) >= 3:
		// ext stays in the card only; keep the street at three lines so
		// that it does not surface as a line.
		for strings.Count(street, "\n") < 2 {
			street += "\n"
		}
	}
	want := append([]string{pobox, ext, street}, rest...)
	f.Value = setComponents(f.Value, want, 7)
	if allEmpty(components(f.Value, len(splitRaw(f.Value)))) {
		w.clear(vcard.FieldAddress, f, adrCols[s])
	}
}

// joinLines is the street of lines l, without trailing empty lines.
func joinLines(l []string) string {
	n := len(l)
	for n > 0 && l[n-1] == "" {
		n--
	}
	return strings.Join(l[:n], "\n")
}

// date writes BDAY (RFC 6350 §6.2.5, RFC 2426 §3.1.5) or the anniversary.
func (w writer) date(key, col string) {
	f := best(w.card[key], nil)
	v := w.want[col]
	switch {
	case f == nil && v != "":
		w.add(key, formatDate(v, "", w.v4))
	case f != nil && v == "":
		w.clear(key, f, []string{col})
	case f != nil:
		f.Value = formatDate(v, f.Value, w.v4)
	}
}
