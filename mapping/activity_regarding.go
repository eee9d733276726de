package mapping

import (
	"fmt"
	"strings"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-ical"
)

// Regarding: the record an activity is about (Dataverse regardingobjectid, a
// lookup to a contact, an account, an opportunity…) travels as
//
//	X-CRMDAV-REGARDING;X-CRMDAV-KIND=<logical name>:<id>
//
// (RFC 5545 §3.8.8.2 non-standard property; the value is the record's GUID,
// the X-CRMDAV-KIND parameter its table's logical name), and as the column
// Regarding with the value "<logical name>:<id>", both lower case.
const (
	// Regarding is the pseudo-column of the regarding lookup:
	// "<logical name>:<id>", "" when the activity regards nothing. The CRM
	// adapter reads it from _regardingobjectid_value and its
	// lookuplogicalname annotation and writes it through
	// regardingobjectid_<logical name>_<activity>@odata.bind.
	Regarding = crmclient.RegardingColumn

	propRegarding = "X-CRMDAV-REGARDING"
	paramKind     = "X-CRMDAV-KIND"
)

// ParseRegarding splits a Regarding column value into the logical name of
// the table and the record id; ok is false when v is not of that form (a
// logical name of lower-case letters, digits and underscores, ':', and a
// GUID).
func ParseRegarding(v string) (kind, id string, ok bool) {
	kind, id, found := strings.Cut(v, ":")
	if !found || !logicalName(kind) || !isGUID(id) {
		return "", "", false
	}
	return kind, id, true
}

func logicalName(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// isGUID reports whether s is a lower-case GUID, 8-4-4-4-12 hex digits.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range []byte(s) {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// readRegarding reads X-CRMDAV-REGARDING of c: "" when absent (or empty
// without a kind), inherit when absent from an overridden instance (which
// follows its series), an error when it is malformed or repeated, so that
// a client never stores a value the CRM cannot take.
func readRegarding(c *ical.Component, inherit string) (string, error) {
	ps := c.Props[propRegarding]
	switch {
	case len(ps) == 0:
		return inherit, nil
	case len(ps) > 1:
		return "", fmt.Errorf("%w: %d %s properties; an activity regards one record", ErrValue, len(ps), propRegarding)
	}
	kind := strings.ToLower(strings.TrimSpace(ps[0].Params.Get(paramKind)))
	id := strings.ToLower(strings.TrimSpace(ps[0].Value))
	if kind == "" && id == "" {
		return "", nil
	}
	v := kind + ":" + id
	if _, _, ok := ParseRegarding(v); !ok {
		return "", fmt.Errorf("%w: %s;%s=%s:%s: want %s;%s=<table logical name, e.g. contact>:<record GUID>",
			ErrValue, propRegarding, paramKind, ps[0].Params.Get(paramKind), ps[0].Value, propRegarding, paramKind)
	}
	return v, nil
}

// writeRegarding makes c carry v, where inherit is what c reads as without
// the property (an overridden instance follows its series): v equal to
// inherit removes the property, "" then is an empty X-CRMDAV-REGARDING.
// Other params of the property (a display name a client added) stay while
// the kind does.
func writeRegarding(c *ical.Component, v, inherit string) {
	kind, id, ok := ParseRegarding(v)
	switch {
	case v == inherit:
		delete(c.Props, propRegarding)
		return
	case !ok:
		c.Props.Set(&ical.Prop{Name: propRegarding, Params: ical.Params{}})
		return
	}
	if p := c.Props.Get(propRegarding); p != nil && strings.EqualFold(p.Params.Get(paramKind), kind) {
		p.Params.Set(paramKind, kind)
		p.Value = id
		c.Props[propRegarding] = c.Props[propRegarding][:1]
		return
	}
	c.Props.Set(&ical.Prop{Name: propRegarding, Params: ical.Params{paramKind: {kind}}, Value: id})
}

// inherited is the regarding c reads as without X-CRMDAV-REGARDING: its
// series' for an overridden instance, else none.
func (r *reader) inherited(c *ical.Component) string {
	if c.Props.Get(ical.PropRecurrenceID) != nil {
		return r.inherit
	}
	return ""
}

// regarding reads the Regarding column of c.
func (r *reader) regarding(c *ical.Component) (string, error) {
	return readRegarding(c, r.inherited(c))
}
