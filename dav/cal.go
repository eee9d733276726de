package dav

import (
	"encoding/xml"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-ical"

	"github.com/crmdav/crmdav/mapping"
	"github.com/teambition/rrule-go"
)

// REPORT names of calendars (RFC 4791 §7.8, §7.9).
var (
	reportCalQuery    = ln("calendar-query")
	reportCalMultiget = ln("calendar-multiget")
)

// defaultComponents are what a calendar holds when its Collection lists
// no Components.
var defaultComponents = []string{ical.CompEvent, ical.CompToDo, ical.CompJournal}

// components returns the component names a calendar accepts, upper case.
func components(c Collection) []string {
	if len(c.Components) == 0 {
		return defaultComponents
	}
	out := make([]string, len(c.Components))
	for i, s := range c.Components {
		out[i] = strings.ToUpper(s)
	}
	return out
}

// calendarProps are the properties a calendar has beside the generic
// ones (RFC 4791 §5.2.3, §5.2.4, §7.5.1). calendar-timezone (§5.2.2) is
// not offered: the Store keeps none, and floating times are read as UTC
// unless a calendar-query carries C:timezone.
func calendarProps(c Collection) []prop {
	var comps strings.Builder
	for _, n := range components(c) {
		comps.WriteString(`<L:comp name="` + esc(n) + `"/>`)
	}
	return []prop{
		{name: pSupportedComponentSet, inner: comps.String()},
		{name: pSupportedCalData, inner: `<L:calendar-data content-type="text/calendar" version="2.0"/>`},
		{name: pSupportedCollations, inner: `<L:supported-collation>i;ascii-casemap</L:supported-collation>` +
			`<L:supported-collation>i;octet</L:supported-collation>` +
			`<L:supported-collation>i;unicode-casemap</L:supported-collation>`},
	}
}

// checkCalendarType accepts a PUT's media type: text/calendar, UTF-8 (RFC
// 5545 §8.1); an absent type is read as iCalendar. RFC 4791 §5.3.2.1:
// anything else fails supported-calendar-data.
func checkCalendarType(ct string) error {
	if ct == "" {
		return nil
	}
	t, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return &httpError{Status: http.StatusForbidden, Cond: condSupportedCalData, Err: fmt.Errorf("malformed Content-Type %q", ct)}
	}
	if t != "text/calendar" {
		return &httpError{Status: http.StatusForbidden, Cond: condSupportedCalData, Err: fmt.Errorf("unsupported Content-Type %q (text/calendar)", t)}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return &httpError{Status: http.StatusForbidden, Cond: condSupportedCalData, Err: fmt.Errorf("unsupported charset %q", cs)}
	}
	return nil
}

func calError(cond xml.Name, format string, args ...any) error {
	return &httpError{Status: http.StatusForbidden, Cond: cond, Err: fmt.Errorf(format, args...)}
}

// decodeCalendar reads one iCalendar object leniently (mapping.DecodeCalendar):
// iOS's DQUOTEs inside unquoted parameter values are read as apostrophes,
// for checking and matching only (the stored bytes are the client's).
func decodeCalendar(body []byte) (*ical.Calendar, error) { return mapping.DecodeCalendar(body) }

// checkCalendar checks what dav promises Store.Put of a calendar object:
//   - valid iCalendar: UTF-8, one VCALENDAR that go-ical reads, VERSION
//     2.0, date-time values, durations and RRULEs that parse
//     (RFC 4791 §5.3.2.1 valid-calendar-data; another VERSION is
//     supported-calendar-data);
//   - one calendar object resource (RFC 4791 §4.1,
//     valid-calendar-object-resource): no METHOD; at least one component
//     beside VTIMEZONE, all of one type, all with the same UID, one
//     master at most and overrides of distinct RECURRENCE-IDs;
//   - a component type the collection holds (supported-calendar-component).
//
// A VTIMEZONE for every TZID (also RFC 4791 §4.1) is not required: clients
// often leave out the ones of IANA names, and the time-range code reads
// those names itself.
func checkCalendar(c Collection, body []byte) error {
	if !utf8.Valid(body) {
		return calError(condValidCalendarData, "iCalendar is not UTF-8")
	}
	cal, err := decodeCalendar(body)
	if err != nil {
		return calError(condValidCalendarData, "malformed iCalendar: %v", err)
	}
	switch v := propValue(cal.Component, ical.PropVersion); v {
	case "2.0":
	case "":
		return calError(condValidCalendarData, "VCALENDAR has no VERSION")
	default:
		return calError(condSupportedCalData, "iCalendar version %q not supported (2.0)", v)
	}
	if cal.Props.Get(ical.PropMethod) != nil {
		return calError(condValidCalendarObject, "METHOD is not allowed in a calendar object resource (RFC 4791 §4.1)")
	}
	var kind, uid string
	masters, rids := 0, map[string]bool{}
	for _, comp := range cal.Children {
		if comp.Name == ical.CompTimezone {
			if err := checkTimes(comp); err != nil {
				return err
			}
			continue
		}
		if kind == "" {
			kind = comp.Name
		} else if comp.Name != kind {
			return calError(condValidCalendarObject, "components %s and %s in one resource (RFC 4791 §4.1: one type)", kind, comp.Name)
		}
		u := strings.TrimSpace(propValue(comp, ical.PropUID))
		switch {
		case u == "":
			return calError(condValidCalendarObject, "%s without UID", comp.Name)
		case uid == "":
			uid = u
		case u != uid:
			return calError(condValidCalendarObject, "UIDs %q and %q in one resource (RFC 4791 §4.1: one UID)", uid, u)
		}
		if rid := comp.Props.Get(ical.PropRecurrenceID); rid != nil {
			if rids[rid.Value] {
				return calError(condValidCalendarObject, "two overrides of RECURRENCE-ID %s", rid.Value)
			}
			rids[rid.Value] = true
		} else if masters++; masters > 1 {
			return calError(condValidCalendarObject, "two %s with UID %q and no RECURRENCE-ID", kind, uid)
		}
		if err := checkTimes(comp); err != nil {
			return err
		}
	}
	if kind == "" {
		return calError(condValidCalendarObject, "no VEVENT, VTODO or VJOURNAL")
	}
	for _, n := range components(c) {
		if n == kind {
			return nil
		}
	}
	return calError(condSupportedCalComponent, "%s is not a component of this calendar (%s)", kind, strings.Join(components(c), ", "))
}

// checkTimes checks that the values time-range matching reads parse, in
// a component and its children (VALARM, STANDARD, DAYLIGHT).
func checkTimes(comp *ical.Component) error {
	for _, name := range []string{ical.PropDateTimeStart, ical.PropDateTimeEnd, ical.PropDue, ical.PropRecurrenceID,
		ical.PropCompleted, ical.PropCreated, ical.PropExceptionDates, ical.PropRecurrenceDates} {
		for _, p := range comp.Props.Values(name) {
			if _, err := parseDTList(&p); err != nil {
				return calError(condValidCalendarData, "%s %s: %v", comp.Name, name, err)
			}
		}
	}
	if p := comp.Props.Get(ical.PropDuration); p != nil {
		if _, err := p.Duration(); err != nil {
			return calError(condValidCalendarData, "%s DURATION: %v", comp.Name, err)
		}
	}
	for _, p := range comp.Props.Values(ical.PropRecurrenceRule) {
		if _, err := rrule.StrToROption(p.Value); err != nil {
			return calError(condValidCalendarData, "%s RRULE: %v", comp.Name, err)
		}
	}
	for _, ch := range comp.Children {
		if err := checkTimes(ch); err != nil {
			return err
		}
	}
	return nil
}

func propValue(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		return p.Value
	}
	return ""
}

// checkCalendarDataReq reads a C:calendar-data element of a REPORT's
// DAV:prop (RFC 4791 §9.6). The object is always returned as stored:
// C:comp and C:prop (partial retrieval) get the whole object, a superset
// of what was asked that clients read alike. C:expand (§9.6.5),
// C:limit-recurrence-set (§9.6.6) and C:limit-freebusy-set (§9.6.7) are
// declined with 403 and crmdav:not-implemented: answering them with the
// stored object would give a client something other than it asked.
func checkCalendarDataReq(n *node) error {
	if ct, ok := n.attr("content-type"); ok && ct != "text/calendar" {
		return calError(condSupportedCalData, "calendar-data of type %q (text/calendar only)", ct)
	}
	if v, ok := n.attr("version"); ok && v != "2.0" {
		return calError(condSupportedCalData, "calendar-data version %q (2.0 only)", v)
	}
	for _, c := range n.children {
		switch c.name {
		case ln("expand"), ln("limit-recurrence-set"), ln("limit-freebusy-set"):
			return &httpError{Status: http.StatusForbidden, Cond: condNotImplemented,
				Text: "CALDAV:" + c.name.Local + " is not implemented by this server; ask for calendar-data without it and expand recurrences in the client.",
				Err:  fmt.Errorf("calendar-data with %s declined", c.name.Local)}
		}
	}
	return nil
}
