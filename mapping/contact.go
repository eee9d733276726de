package mapping

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-vcard"
)

// Errors of CardColumns.
var (
	// ErrVersion: the card is neither vCard 3.0 nor 4.0.
	ErrVersion = errors.New("mapping: unsupported vCard version")
	// ErrNotContact: the card is a group, an organization or a location
	// (RFC 6350 §6.1.4 KIND, Apple's X-ADDRESSBOOKSERVER-KIND), not a person.
	ErrNotContact = errors.New("mapping: vCard is not an individual")
)

// FullName is the contact column the CRM computes from the name columns. It is
// not in ContactColumns (the gateway never writes it), but ContactCard uses it
// for the FN of a CRM-born card when cols carries it.
const FullName = "fullname"

// The contact columns, by what they map from.
var (
	nameCols   = []string{"lastname", "firstname", "middlename", "salutation", "suffix"} // N components 0..4
	singleCols = []string{"nickname", "jobtitle", "description", "websiteurl"}
	singleKeys = []string{vcard.FieldNickname, vcard.FieldTitle, vcard.FieldNote, vcard.FieldURL}
	emailCols  = []string{"emailaddress1", "emailaddress2", "emailaddress3"}
	telCols    = []string{"telephone1", "telephone2", "telephone3", "mobilephone", "fax", "pager"}
	// adrCols[s] are address s+1's columns in the order adrColumns returns them.
	adrCols = [2][]string{addressCols("address1_"), addressCols("address2_")}
)

func addressCols(p string) []string {
	return []string{p + "postofficebox", p + "line1", p + "line2", p + "line3",
		p + "city", p + "stateorprovince", p + "postalcode", p + "country"}
}

// ContactColumns lists the contact columns the mapping reads and writes.
var ContactColumns = func() []string {
	var c []string
	c = append(c, nameCols...)
	c = append(c, singleCols...)
	c = append(c, "department")
	c = append(c, emailCols...)
	c = append(c, telCols...)
	c = append(c, adrCols[0]...)
	c = append(c, adrCols[1]...)
	return append(c, "birthdate", "anniversary")
}()

const (
	telWork  = iota // telephone1
	telHome         // telephone2
	telOther        // telephone3
	telCell         // mobilephone
	telFax          // fax
	telPager        // pager
)

// telTypes are the TYPE values a TEL made for each column gets (RFC 6350
// §6.4.1, RFC 2426 §3.3.1).
var telTypes = [...][]string{
	telWork:  {"work", "voice"},
	telHome:  {"home", "voice"},
	telOther: {"voice"},
	telCell:  {"cell"},
	telFax:   {"work", "fax"},
	telPager: {"pager"},
}

// CardColumns extracts the mapped contact columns from a vCard (3.0 or 4.0).
// Every name in ContactColumns is present in the result ("" = null). FN is
// never read: the CRM computes fullname itself.
func CardColumns(card vcard.Card) (crmclient.Columns, error) {
	switch v := strings.TrimSpace(card.Value(vcard.FieldVersion)); v {
	case "3.0", "4.0":
	default:
		return nil, fmt.Errorf("%w: %q", ErrVersion, v)
	}
	if k := card.Kind(); k != vcard.KindIndividual {
		return nil, fmt.Errorf("%w: KIND %s", ErrNotContact, k)
	}
	if k := strings.ToLower(card.Value("X-ADDRESSBOOKSERVER-KIND")); k != "" && k != "individual" {
		return nil, fmt.Errorf("%w: X-ADDRESSBOOKSERVER-KIND %s", ErrNotContact, k)
	}
	return extract(card), nil
}

// ContactCard renders cols into a vCard. base is the card the client last
// stored (nil for a CRM-born contact). Only properties whose columns differ
// from CardColumns(base) are rewritten; every other property of base (photos,
// X- properties, CATEGORIES, extra EMAILs beyond three, groups/item1.
// prefixes, params) stays exactly as it was. The result keeps base's VERSION;
// a new card is VERSION 3.0 with UID uid. A CRM-born card's UID is the CRM id
// (the caller passes it as uid).
//
// A column absent from cols is not given: it keeps base's value. For every
// value of cols that a card can hold (see the package documentation),
// CardColumns of the result gives cols back. base is not modified.
func ContactCard(cols crmclient.Columns, base vcard.Card, uid string) vcard.Card {
	var card vcard.Card
	isNew := base == nil
	if isNew {
		card = vcard.Card{}
		card.SetValue(vcard.FieldVersion, "3.0")
		card.SetValue(vcard.FieldUID, uid)
	} else {
		card = cloneCard(base)
		if card.Get(vcard.FieldVersion) == nil {
			card.SetValue(vcard.FieldVersion, "3.0")
		}
	}
	v4 := isV4(card)
	old := extract(card)
	want := make(crmclient.Columns, len(ContactColumns))
	for _, k := range ContactColumns {
		if v, ok := cols[k]; ok {
			want[k] = v
		} else {
			want[k] = old[k]
		}
	}
	w := writer{card: card, v4: v4, want: want}

	namesChanged := differ(old, want, nameCols)
	if namesChanged {
		w.name()
	}
	for i, c := range singleCols {
		if old[c] != want[c] {
			w.single(singleKeys[i], c)
		}
	}
	if old["department"] != want["department"] {
		w.org()
	}
	if differ(old, want, emailCols) {
		w.emails()
	}
	for i, c := range telCols {
		if old[c] != want[c] {
			w.tel(i)
		}
	}
	for s := range adrCols {
		if differ(old, want, adrCols[s]) {
			w.adr(s)
		}
	}
	if old["birthdate"] != want["birthdate"] {
		w.date(vcard.FieldBirthday, "birthdate")
	}
	if old["anniversary"] != want["anniversary"] {
		w.date(anniversaryKey(card, v4), "anniversary")
	}

	// RFC 6350 §6.2.1 / RFC 2426 §3.1.1: FN is required; RFC 2426 §3.1.2: so
	// is N in 3.0. A client's own card missing N keeps missing it while the
	// names stay empty (nothing is invented in what a client sent).
	fns := card[vcard.FieldFormattedName]
	switch {
	case len(fns) == 0 || fns[0] == nil:
		card.Set(vcard.FieldFormattedName, &vcard.Field{Value: escapeText(display(want, cols[FullName]), false)})
	case namesChanged:
		// The CRM's fullname may predate the change: derive FN.
		fns[0].Value = escapeText(display(want, ""), false)
	}
	if isNew && !v4 && card.Get(vcard.FieldName) == nil {
		card.Set(vcard.FieldName, &vcard.Field{Value: ";;;;"})
	}
	return card
}

// display is the FN of a card with columns c: fullname when given, else
// "first middle last", else the nickname, else the first e-mail address.
func display(c crmclient.Columns, fullname string) string {
	if fullname != "" {
		return fullname
	}
	var parts []string
	for _, k := range []string{"firstname", "middlename", "lastname"} {
		if v := strings.TrimSpace(c[k]); v != "" {
			parts = append(parts, v)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, " ")
	}
	if c["nickname"] != "" {
		return c["nickname"]
	}
	return c["emailaddress1"]
}

func differ(a, b crmclient.Columns, keys []string) bool {
	for _, k := range keys {
		if a[k] != b[k] {
			return true
		}
	}
	return false
}

func isV4(card vcard.Card) bool {
	return strings.TrimSpace(card.Value(vcard.FieldVersion)) == "4.0"
}

// view is the field of a card each column maps to (nil: none).
type view struct {
	n      *vcard.Field
	single [4]*vcard.Field // singleCols
	org    *vcard.Field
	emails []*vcard.Field // at most three, in column order
	tels   [6]*vcard.Field
	adrs   [2]*vcard.Field
	bday   *vcard.Field
	anniv  *vcard.Field
}

// look chooses the fields the columns map to. Every choice depends only on
// params and order, never on values, so emptying a field keeps it chosen.
func look(card vcard.Card) view {
	var v view
	v.n = best(card[vcard.FieldName], nil)
	for i, k := range singleKeys {
		v.single[i] = best(card[k], nil)
	}
	v.org = best(card[vcard.FieldOrganization], nil)
	v.emails = ranked(card[vcard.FieldEmail])
	if len(v.emails) > len(emailCols) {
		v.emails = v.emails[:len(emailCols)]
	}
	for c := range v.tels {
		v.tels[c] = best(card[vcard.FieldTelephone], func(f *vcard.Field) bool { return telClass(f) == c })
	}
	// The work ADR is address 1, the home ADR address 2; failing a work ADR,
	// the preferred or first ADR that is not a home one is address 1.
	adrs := card[vcard.FieldAddress]
	v.adrs[0] = best(adrs, func(f *vcard.Field) bool { return hasType(f, "work") })
	v.adrs[1] = best(adrs, func(f *vcard.Field) bool { return f != v.adrs[0] && hasType(f, "home") })
	if v.adrs[0] == nil {
		v.adrs[0] = best(adrs, func(f *vcard.Field) bool { return f != v.adrs[1] && !hasType(f, "home") })
	}
	v.bday = best(card[vcard.FieldBirthday], nil)
	v.anniv = best(card[anniversaryKey(card, isV4(card))], nil)
	return v
}

// anniversaryKey is the property the anniversary is read from and written to:
// ANNIVERSARY (RFC 6350 §6.2.6) in 4.0, X-ANNIVERSARY in 3.0 (which has no
// such property), or the other one when only that one is present.
func anniversaryKey(card vcard.Card, v4 bool) string {
	own, other := "X-ANNIVERSARY", vcard.FieldAnniversary
	if v4 {
		own, other = other, own
	}
	if len(card[own]) == 0 && len(card[other]) > 0 {
		return other
	}
	return own
}

// extract reads the columns from a card of any version and kind.
func extract(card vcard.Card) crmclient.Columns {
	cols := make(crmclient.Columns, len(ContactColumns))
	for _, k := range ContactColumns {
		cols[k] = ""
	}
	v := look(card)
	if v.n != nil {
		for i, c := range components(v.n.Value, len(nameCols)) {
			cols[nameCols[i]] = c
		}
	}
	for i, f := range v.single {
		if f != nil {
			cols[singleCols[i]] = unescapeText(f.Value)
		}
	}
	if v.org != nil {
		cols["department"] = components(v.org.Value, 2)[1]
	}
	for i, f := range v.emails {
		cols[emailCols[i]] = unescapeText(f.Value)
	}
	for i, f := range v.tels {
		if f != nil {
			cols[telCols[i]] = telNumber(f.Value)
		}
	}
	for s, f := range v.adrs {
		if f != nil {
			for i, c := range adrColumns(f.Value) {
				cols[adrCols[s][i]] = c
			}
		}
	}
	if v.bday != nil {
		cols["birthdate"] = parseDate(v.bday.Value)
	}
	if v.anniv != nil {
		cols["anniversary"] = parseDate(v.anniv.Value)
	}
	return cols
}

// telNumber is the column value of a TEL value: RFC 6350 §6.4.1 allows a tel:
// URI (RFC 3966), of which the column keeps the number.
func telNumber(v string) string {
	v = unescapeText(v)
	if hasTelScheme(v) {
		return v[len("tel:"):]
	}
	return v
}

func hasTelScheme(v string) bool {
	return len(v) >= 4 && strings.EqualFold(v[:4], "tel:")
}

// telClass is the column a TEL maps to by its types (RFC 6350 §6.4.1, RFC 2426
// §3.3.1; "mobile" and Apple's "iphone" count as cell). fax and pager win over
// work/home: the CRM has one fax and one pager column.
func telClass(f *vcard.Field) int {
	switch {
	case hasType(f, "fax"):
		return telFax
	case hasType(f, "pager"):
		return telPager
	case hasType(f, "cell"), hasType(f, "mobile"), hasType(f, "iphone"):
		return telCell
	case hasType(f, "work"):
		return telWork
	case hasType(f, "home"):
		return telHome
	}
	return telOther
}

// adrColumns maps an ADR value (RFC 6350 §6.3.1: pobox;ext;street;locality;
// region;code;country) to postofficebox, line1..3, city, stateorprovince,
// postalcode, country. The street's lines fill line1..3 (the third takes the
// rest); the extended address takes the line after the street when one of
// line2/line3 is free, and otherwise stays in the card only.
func adrColumns(v string) []string {
	c := components(v, 7)
	lines, extAt := adrLines(c[2], c[1])
	var l [3]string
	copy(l[:], lines)
	if extAt >= 0 {
		l[extAt] = c[1]
	}
	return []string{c[0], l[0], l[1], l[2], c[3], c[4], c[5], c[6]}
}

// adrLines splits a street into at most three lines and says at which line
// the extended address ext goes (-1: nowhere).
func adrLines(street, ext string) (lines []string, extAt int) {
	lines = strings.Split(street, "\n")
	if len(lines) > 3 {
		lines = append(lines[:2:2], strings.Join(lines[2:], "\n"))
	}
	if ext != "" && len(lines) < 3 {
		return lines, len(lines)
	}
	return lines, -1
}

// rank is a field's preference, 1 (most) to 100: RFC 6350 §5.3 PREF, or
// RFC 2426's TYPE=pref as 1.
func rank(f *vcard.Field) int {
	if p := f.Params.Get(vcard.ParamPreferred); p != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil && n >= 1 && n <= 100 {
			return n
		}
	}
	if hasType(f, "pref") {
		return 1
	}
	return 100
}

// best returns the most preferred field that ok accepts (any when ok is nil),
// the first one on a tie.
func best(fields []*vcard.Field, ok func(*vcard.Field) bool) *vcard.Field {
	var b *vcard.Field
	br := 0
	for _, f := range fields {
		if f == nil || (ok != nil && !ok(f)) {
			continue
		}
		if r := rank(f); b == nil || r < br {
			b, br = f, r
		}
	}
	return b
}

// ranked returns the fields by preference, then in card order.
func ranked(fields []*vcard.Field) []*vcard.Field {
	out := make([]*vcard.Field, 0, len(fields))
	for _, f := range fields {
		if f != nil {
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

// hasType reports whether f has TYPE t, case-insensitively, in either form:
// TYPE=a;TYPE=b (RFC 2426) or TYPE="a,b" / TYPE=a,b (RFC 6350 §5.6).
func hasType(f *vcard.Field, t string) bool {
	for _, v := range f.Params[vcard.ParamType] {
		for len(v) > 0 {
			i := strings.IndexByte(v, ',')
			if i < 0 {
				i = len(v)
			}
			if strings.EqualFold(strings.TrimSpace(v[:i]), t) {
				return true
			}
			if i == len(v) {
				break
			}
			v = v[i+1:]
		}
	}
	return false
}

func cloneCard(c vcard.Card) vcard.Card {
	out := make(vcard.Card, len(c))
	for k, fields := range c {
		nf := make([]*vcard.Field, 0, len(fields))
		for _, f := range fields {
			if f == nil {
				continue
			}
			g := *f
			if f.Params != nil {
				g.Params = make(vcard.Params, len(f.Params))
				for pk, pv := range f.Params {
					g.Params[pk] = append([]string(nil), pv...)
				}
			}
			nf = append(nf, &g)
		}
		out[k] = nf
	}
	return out
}
