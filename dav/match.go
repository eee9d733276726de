package dav

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/emersion/go-vcard"
)

// An addressbook-query filter (RFC 6352 §10.5), parsed by parseFilter and
// matched by our own code: go-webdav v0.6.0 matches nothing for an empty
// filter, drops the collation and compares case-sensitively.
type queryFilter struct {
	allof bool // test="allof"; anyof is the default (§10.5)
	props []propFilter
}

type propFilter struct {
	name       string // vCard property name, upper case
	allof      bool
	notDefined bool
	texts      []textMatch
	params     []paramFilter
}

type paramFilter struct {
	name       string
	notDefined bool
	text       *textMatch
}

type textMatch struct {
	text      string // folded by the collation
	fold      func(string) string
	matchType string
	negate    bool
}

var condSupportedCollation = xml.Name{Space: nsCard, Local: "supported-collation"}

// Collations (RFC 4790) a text-match may name (RFC 6352 §8.3: the default
// is i;unicode-casemap).
var collations = map[string]func(string) string{
	"i;unicode-casemap": unicodeCasemap,
	"i;ascii-casemap":   asciiCasemap,
	"i;octet":           func(s string) string { return s },
}

// unicodeCasemap is RFC 5051's i;unicode-casemap as far as the standard
// library reaches: every character is mapped to its titlecase (the simple
// mapping, as RFC 5051 §2 says). The NFKD normalization step is left out
// (it needs golang.org/x/text): a precomposed and a decomposed accent
// compare unequal.
func unicodeCasemap(s string) string { return strings.Map(unicode.ToTitle, s) }

func asciiCasemap(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

func badFilter(format string, args ...any) error {
	return failf(http.StatusBadRequest, "filter: "+format, args...)
}

func parseTest(n *node) (allof bool, err error) {
	switch v, _ := n.attr("test"); v {
	case "", "anyof":
		return false, nil
	case "allof":
		return true, nil
	default:
		return false, badFilter("test=%q", v)
	}
}

// parseFilter reads a C:filter element; nil is the empty filter.
func parseFilter(n *node) (queryFilter, error) {
	var q queryFilter
	if n == nil {
		return q, nil
	}
	var err error
	if q.allof, err = parseTest(n); err != nil {
		return q, err
	}
	for _, c := range n.children {
		if c.name != cn("prop-filter") {
			continue
		}
		pf := propFilter{}
		name, _ := c.attr("name")
		if !isName(name) {
			return q, badFilter("prop-filter name %q", name)
		}
		pf.name = strings.ToUpper(name)
		if pf.allof, err = parseTest(c); err != nil {
			return q, err
		}
		for _, cc := range c.children {
			switch cc.name {
			case cn("is-not-defined"):
				pf.notDefined = true
			case cn("text-match"):
				tm, err := parseTextMatch(cc, "i;unicode-casemap", condSupportedCollation)
				if err != nil {
					return q, err
				}
				pf.texts = append(pf.texts, tm)
			case cn("param-filter"):
				p := paramFilter{}
				p.name, _ = cc.attr("name")
				if !isName(p.name) {
					return q, badFilter("param-filter name %q", p.name)
				}
				if cc.child(cn("is-not-defined")) != nil {
					p.notDefined = true
				} else if t := cc.child(cn("text-match")); t != nil {
					tm, err := parseTextMatch(t, "i;unicode-casemap", condSupportedCollation)
					if err != nil {
						return q, err
					}
					p.text = &tm
				}
				pf.params = append(pf.params, p)
			}
		}
		q.props = append(q.props, pf)
	}
	return q, nil
}

// parseTextMatch reads a C:text-match (RFC 6352 §10.5.4, RFC 4791
// §9.7.5) whose collation is def when not named. An unknown collation is
// 403 with cond, supported-collation (RFC 6352 §8.6, RFC 4791 §7.8); an
// unknown match-type 400. CalDAV's text-match has no match-type and
// always reads as "contains".
func parseTextMatch(n *node, def string, cond xml.Name) (textMatch, error) {
	tm := textMatch{matchType: "contains"}
	coll, ok := n.attr("collation")
	if !ok {
		coll = def
	}
	if tm.fold = collations[coll]; tm.fold == nil {
		return tm, &httpError{Status: http.StatusForbidden, Cond: cond,
			Err: fmt.Errorf("collation %q not supported", coll)}
	}
	if v, ok := n.attr("match-type"); ok {
		switch v {
		case "equals", "contains", "starts-with", "ends-with":
			tm.matchType = v
		default:
			return tm, badFilter("match-type %q", v)
		}
	}
	switch v, _ := n.attr("negate-condition"); v {
	case "", "no":
	case "yes":
		tm.negate = true
	default:
		return tm, badFilter("negate-condition %q", v)
	}
	tm.text = tm.fold(n.text)
	return tm, nil
}

// match reports whether a card matches the filter. The empty filter
// matches every card (RFC 6352 §10.5: a filter with no prop-filter).
func (q *queryFilter) match(card vcard.Card) bool {
	if len(q.props) == 0 {
		return true
	}
	for _, pf := range q.props {
		ok := pf.match(card)
		if ok && !q.allof {
			return true
		}
		if !ok && q.allof {
			return false
		}
	}
	return q.allof
}

// match (RFC 6352 §10.5.1): a property filter matches when the property
// is absent and is-not-defined is given, or when one of its instances
// passes the filter's tests (all of them for test="allof", one for anyof).
func (pf *propFilter) match(card vcard.Card) bool {
	fields := card[pf.name]
	if pf.notDefined {
		return len(fields) == 0
	}
	if len(fields) == 0 {
		return false
	}
	if len(pf.texts) == 0 && len(pf.params) == 0 {
		return true
	}
	for _, f := range fields {
		if pf.matchField(f) {
			return true
		}
	}
	return false
}

func (pf *propFilter) matchField(f *vcard.Field) bool {
	for _, tm := range pf.texts {
		ok := tm.match(f.Value)
		if ok && !pf.allof {
			return true
		}
		if !ok && pf.allof {
			return false
		}
	}
	for _, p := range pf.params {
		ok := p.match(f)
		if ok && !pf.allof {
			return true
		}
		if !ok && pf.allof {
			return false
		}
	}
	return pf.allof
}

// match (RFC 6352 §10.5.2).
func (p *paramFilter) match(f *vcard.Field) bool {
	var values []string
	for k, v := range f.Params {
		if strings.EqualFold(k, p.name) {
			for _, s := range v {
				// vCard 4.0 lists values with commas (RFC 6350 §5.6).
				values = append(values, strings.Split(s, ",")...)
			}
		}
	}
	if p.notDefined {
		return len(values) == 0
	}
	if len(values) == 0 {
		return false
	}
	if p.text == nil {
		return true
	}
	for _, v := range values {
		if p.text.match(v) {
			return true
		}
	}
	return false
}

// match (RFC 6352 §10.5.4): negate-condition inverts the result for this
// value.
func (tm *textMatch) match(value string) bool {
	v := tm.fold(value)
	var ok bool
	switch tm.matchType {
	case "equals":
		ok = v == tm.text
	case "starts-with":
		ok = strings.HasPrefix(v, tm.text)
	case "ends-with":
		ok = strings.HasSuffix(v, tm.text)
	default:
		ok = strings.Contains(v, tm.text)
	}
	return ok != tm.negate
}
