package dav

import (
	"strings"

	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav/carddav"
)

// matchQuery reports whether card matches an addressbook-query filter
// (RFC 6352 §10.5). An empty filter matches every card. Text is compared
// with the default collation i;unicode-casemap (RFC 6352 §8.3), here as
// Unicode lower-casing; go-webdav drops the collation attribute, so
// i;octet is compared the same way.
func matchQuery(q *carddav.AddressBookQuery, card vcard.Card) bool {
	if q == nil || len(q.PropFilters) == 0 {
		return true
	}
	all := q.FilterTest == carddav.FilterAllOf
	for _, pf := range q.PropFilters {
		ok := matchPropFilter(pf, card)
		if ok && !all {
			return true
		}
		if !ok && all {
			return false
		}
	}
	return all
}

// matchPropFilter (RFC 6352 §10.5.1): a property matches when one of its
// instances passes the filter's tests.
func matchPropFilter(pf carddav.PropFilter, card vcard.Card) bool {
	fields := card[strings.ToUpper(pf.Name)]
	if pf.IsNotDefined {
		return len(fields) == 0
	}
	if len(fields) == 0 {
		return false
	}
	if len(pf.TextMatches) == 0 && len(pf.Params) == 0 {
		return true
	}
	all := pf.Test == carddav.FilterAllOf
	for _, f := range fields {
		if matchField(pf, f, all) {
			return true
		}
	}
	return false
}

func matchField(pf carddav.PropFilter, f *vcard.Field, all bool) bool {
	n := 0
	for _, tm := range pf.TextMatches {
		if matchText(tm, f.Value) {
			n++
		} else if all {
			return false
		}
	}
	for _, p := range pf.Params {
		if matchParam(p, f) {
			n++
		} else if all {
			return false
		}
	}
	return all || n > 0
}

// matchParam (RFC 6352 §10.5.2).
func matchParam(pf carddav.ParamFilter, f *vcard.Field) bool {
	var values []string
	for k, v := range f.Params {
		if strings.EqualFold(k, pf.Name) {
			values = append(values, v...)
		}
	}
	if pf.IsNotDefined {
		return len(values) == 0
	}
	if len(values) == 0 {
		return false
	}
	if pf.TextMatch == nil {
		return true
	}
	for _, v := range values {
		if matchText(*pf.TextMatch, v) {
			return true
		}
	}
	return false
}

// matchText (RFC 6352 §10.5.4).
func matchText(tm carddav.TextMatch, value string) bool {
	v, t := strings.ToLower(value), strings.ToLower(tm.Text)
	var ok bool
	switch tm.MatchType {
	case carddav.MatchEquals:
		ok = v == t
	case carddav.MatchStartsWith:
		ok = strings.HasPrefix(v, t)
	case carddav.MatchEndsWith:
		ok = strings.HasSuffix(v, t)
	default:
		ok = strings.Contains(v, t)
	}
	return ok != tm.NegateCondition
}
