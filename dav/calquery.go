package dav

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// A calendar-query filter (RFC 4791 §9.7), parsed by parseCalFilter and
// matched by our own code: go-webdav v0.6.0 drops recurring events in open
// time ranges and never matches VTODO (DESIGN "dav").
type compFilter struct {
	name       string // upper case
	notDefined bool
	anyof      bool // test="anyof" (RFC 4791 has allof semantics only; some clients send it)
	tr         *timeRange
	props      []calPropFilter
	comps      []*compFilter
}

type calPropFilter struct {
	name       string
	notDefined bool
	anyof      bool
	tr         *timeRange
	text       *textMatch
	params     []calParamFilter
}

type calParamFilter struct {
	name       string
	notDefined bool
	text       *textMatch
}

func invalidFilter(format string, args ...any) error {
	return &httpError{Status: http.StatusForbidden, Cond: condValidFilter, Err: fmt.Errorf("filter: "+format, args...)}
}

// parseCalFilter reads a C:filter (RFC 4791 §9.7): one comp-filter named
// VCALENDAR. No filter at all is read as every object (RFC 4791 makes it
// required; a lenient reading costs nothing).
func parseCalFilter(n *node) (*compFilter, error) {
	if n == nil {
		return &compFilter{name: ical.CompCalendar}, nil
	}
	var root *compFilter
	for _, c := range n.children {
		if c.name != ln("comp-filter") {
			continue
		}
		if root != nil {
			return nil, invalidFilter("more than one top-level comp-filter")
		}
		cf, err := parseCompFilter(c, 1)
		if err != nil {
			return nil, err
		}
		root = cf
	}
	if root == nil || root.name != ical.CompCalendar {
		return nil, invalidFilter("the top-level comp-filter must name VCALENDAR")
	}
	if root.tr != nil {
		return nil, invalidFilter("time-range on VCALENDAR")
	}
	return root, nil
}

func parseCompFilter(n *node, depth int) (*compFilter, error) {
	name, _ := n.attr("name")
	if !isName(name) {
		return nil, invalidFilter("comp-filter name %q", name)
	}
	cf := &compFilter{name: strings.ToUpper(name)}
	var err error
	if cf.anyof, err = calTest(n); err != nil {
		return nil, err
	}
	for _, c := range n.children {
		switch c.name {
		case ln("is-not-defined"):
			cf.notDefined = true
		case ln("time-range"):
			if cf.tr, err = parseTimeRange(c); err != nil {
				return nil, err
			}
			switch {
			case depth == 2 && (cf.name == ical.CompEvent || cf.name == ical.CompToDo || cf.name == ical.CompJournal):
			default:
				// VALARM (§9.9 alarm triggers), VFREEBUSY, VTIMEZONE
				// observances: declined.
				return nil, &httpError{Status: http.StatusForbidden, Cond: condSupportedFilter,
					Err: fmt.Errorf("time-range on %s is not supported", cf.name)}
			}
		case ln("prop-filter"):
			pf, err := parseCalPropFilter(c)
			if err != nil {
				return nil, err
			}
			cf.props = append(cf.props, pf)
		case ln("comp-filter"):
			sub, err := parseCompFilter(c, depth+1)
			if err != nil {
				return nil, err
			}
			cf.comps = append(cf.comps, sub)
		}
	}
	return cf, nil
}

func calTest(n *node) (anyof bool, err error) {
	switch v, _ := n.attr("test"); v {
	case "", "allof":
		return false, nil
	case "anyof":
		return true, nil
	default:
		return false, invalidFilter("test=%q", v)
	}
}

func parseCalPropFilter(n *node) (calPropFilter, error) {
	name, _ := n.attr("name")
	if !isName(name) {
		return calPropFilter{}, invalidFilter("prop-filter name %q", name)
	}
	pf := calPropFilter{name: strings.ToUpper(name)}
	var err error
	if pf.anyof, err = calTest(n); err != nil {
		return pf, err
	}
	for _, c := range n.children {
		switch c.name {
		case ln("is-not-defined"):
			pf.notDefined = true
		case ln("time-range"):
			if pf.tr, err = parseTimeRange(c); err != nil {
				return pf, err
			}
		case ln("text-match"):
			tm, err := parseCalTextMatch(c)
			if err != nil {
				return pf, err
			}
			pf.text = &tm
		case ln("param-filter"):
			p := calParamFilter{}
			p.name, _ = c.attr("name")
			if !isName(p.name) {
				return pf, invalidFilter("param-filter name %q", p.name)
			}
			if c.child(ln("is-not-defined")) != nil {
				p.notDefined = true
			} else if t := c.child(ln("text-match")); t != nil {
				tm, err := parseCalTextMatch(t)
				if err != nil {
					return pf, err
				}
				p.text = &tm
			}
			pf.params = append(pf.params, p)
		}
	}
	return pf, nil
}

// parseCalTextMatch reads a CalDAV text-match (RFC 4791 §9.7.5): its
// collation defaults to i;ascii-casemap; it matches as a substring.
func parseCalTextMatch(n *node) (textMatch, error) {
	tm, err := parseTextMatch(n, "i;ascii-casemap", condCalCollation)
	var he *httpError
	if err != nil && errors.As(err, &he) && he.Status == http.StatusBadRequest {
		return tm, invalidFilter("%v", err)
	}
	return tm, err
}

// parseTimeRange reads a C:time-range (RFC 4791 §9.9): start and end are
// UTC date-times, at least one given, start before end.
func parseTimeRange(n *node) (*timeRange, error) {
	var r timeRange
	for _, a := range []struct {
		name string
		t    *time.Time
	}{{"start", &r.start}, {"end", &r.end}} {
		v, ok := n.attr(a.name)
		if !ok {
			continue
		}
		t, err := time.Parse("20060102T150405Z", strings.ToUpper(strings.TrimSpace(v)))
		if err != nil {
			return nil, invalidFilter("time-range %s %q is not a UTC date-time", a.name, v)
		}
		*a.t = t
	}
	switch {
	case r.start.IsZero() && r.end.IsZero():
		return nil, invalidFilter("time-range without start or end")
	case !r.start.IsZero() && !r.end.IsZero() && !r.end.After(r.start):
		return nil, invalidFilter("time-range ends before it starts")
	}
	return &r, nil
}

// bounds returns the time range the store's index may narrow the
// candidates to: that of a required VEVENT/VTODO/VJOURNAL comp-filter,
// widened by a day on each side, because the index may place floating
// times and dates in another zone than the request's (RFC 4791 §9.9).
// Zero bounds ask for every object.
func (cf *compFilter) bounds() (start, end time.Time) {
	if cf.anyof {
		return
	}
	for _, c := range cf.comps {
		if c.tr != nil && !c.notDefined && (!c.anyof || len(c.props)+len(c.comps) == 0) {
			if !c.tr.start.IsZero() {
				start = c.tr.start.Add(-24 * time.Hour)
			}
			if !c.tr.end.IsZero() {
				end = c.tr.end.Add(24 * time.Hour)
			}
			return
		}
	}
	return
}

// matcher matches one object's components against a filter.
type matcher struct {
	z          *zones
	overridden map[int64]bool
}

// matchCalendar reports whether a calendar object matches the filter.
func matchCalendar(cf *compFilter, cal *ical.Calendar, float zone) bool {
	if cf.notDefined {
		return false
	}
	z := newZones(cal, float)
	m := &matcher{z: z, overridden: z.overriddenIDs(cal.Children)}
	return m.tests(cf, cal.Component, 1)
}

// match (RFC 4791 §9.7.1): a comp-filter matches when no child component
// of its name exists and is-not-defined is given, or when one of them
// passes its tests.
func (m *matcher) match(cf *compFilter, parent *ical.Component, depth int) bool {
	found := false
	for _, c := range parent.Children {
		if c.Name != cf.name {
			continue
		}
		found = true
		if !cf.notDefined && m.tests(cf, c, depth) {
			return true
		}
	}
	return cf.notDefined && !found
}

// tests applies a comp-filter's time-range, prop-filters and nested
// comp-filters to one component: all must pass (any, for test="anyof").
func (m *matcher) tests(cf *compFilter, c *ical.Component, depth int) bool {
	if cf.tr != nil {
		var ov map[int64]bool
		if depth == 2 && c.Props.Get(ical.PropRecurrenceID) == nil {
			ov = m.overridden
		}
		ok := m.z.overlaps(c, *cf.tr, ov)
		if ok && cf.anyof {
			return true
		}
		if !ok && !cf.anyof {
			return false
		}
	}
	for i := range cf.props {
		ok := m.matchProp(&cf.props[i], c)
		if ok && cf.anyof {
			return true
		}
		if !ok && !cf.anyof {
			return false
		}
	}
	for _, sub := range cf.comps {
		ok := m.match(sub, c, depth+1)
		if ok && cf.anyof {
			return true
		}
		if !ok && !cf.anyof {
			return false
		}
	}
	return !cf.anyof || (cf.tr == nil && len(cf.props) == 0 && len(cf.comps) == 0)
}

// matchProp (RFC 4791 §9.7.2): absent and is-not-defined, or one
// instance of the property passing every test.
func (m *matcher) matchProp(pf *calPropFilter, c *ical.Component) bool {
	props := c.Props.Values(pf.name)
	if pf.notDefined {
		return len(props) == 0
	}
	for i := range props {
		if m.propTests(pf, &props[i]) {
			return true
		}
	}
	return false
}

func (m *matcher) propTests(pf *calPropFilter, p *ical.Prop) bool {
	var results []bool
	if pf.tr != nil {
		// §9.9: a DATE-TIME property value is a point in time.
		ok := false
		if ds, err := parseDTList(p); err == nil {
			for _, d := range ds {
				ok = ok || pf.tr.instant(m.z.abs(d))
			}
		}
		results = append(results, ok)
	}
	if pf.text != nil {
		results = append(results, pf.text.match(unescapeText(p.Value)))
	}
	for _, pa := range pf.params {
		results = append(results, pa.match(p))
	}
	if len(results) == 0 {
		return true
	}
	for _, ok := range results {
		if ok && pf.anyof {
			return true
		}
		if !ok && !pf.anyof {
			return false
		}
	}
	return !pf.anyof
}

// match (RFC 4791 §9.7.3).
func (pa *calParamFilter) match(p *ical.Prop) bool {
	var values []string
	for k, v := range p.Params {
		if strings.EqualFold(k, pa.name) {
			values = append(values, v...)
		}
	}
	if pa.notDefined {
		return len(values) == 0
	}
	if len(values) == 0 {
		return false
	}
	if pa.text == nil {
		return true
	}
	for _, v := range values {
		if pa.text.match(v) {
			return true
		}
	}
	return false
}

// unescapeText undoes RFC 5545 §3.3.11 TEXT escapes, so that a
// text-match sees the value a user typed.
func unescapeText(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n', 'N':
				b.WriteByte('\n')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseQueryTimezone reads a calendar-query's C:timezone (RFC 4791 §9.8):
// a VCALENDAR with one VTIMEZONE, the zone of floating times and dates.
// Without one they are read as UTC.
func parseQueryTimezone(n *node) (zone, error) {
	if n == nil {
		return utcZone{}, nil
	}
	cal, err := decodeCalendar([]byte(n.text))
	if err != nil {
		return nil, calError(condValidCalendarData, "C:timezone: %v", err)
	}
	for _, c := range cal.Children {
		if c.Name != ical.CompTimezone {
			continue
		}
		if v := newVTZ(c); v != nil {
			return v, nil
		}
		if loc := loadIANA(propValue(c, ical.PropTimezoneID)); loc != nil {
			return locZone{loc}, nil
		}
	}
	return nil, calError(condValidCalendarData, "C:timezone holds no usable VTIMEZONE")
}

// serveCalQuery answers calendar-query (RFC 4791 §7.8). The store's index
// of time spans gives the candidates (Store.Query, with the filter's time
// range widened a little: see bounds), one at a time; each is matched
// exactly: from the facts kept of it when the filter has the common shape
// (calfacts.go), else read with go-ical and matched by matchCalendar,
// recurrences expanded (timerange.go). The answer is streamed.
func (h *handler) serveCalQuery(w http.ResponseWriter, r *http.Request, t target, c Collection, root *node) error {
	pr, err := parsePropReq(root)
	if err != nil {
		return asBadRequest(err)
	}
	cf, err := parseCalFilter(root.child(ln("filter")))
	if err != nil {
		return err
	}
	tz := root.child(ln("timezone"))
	float, err := parseQueryTimezone(tz)
	if err != nil {
		return err
	}
	cm := newCalMatcher(cf, float, floatKey(tz), calFactsCache)
	start, end := cf.bounds()
	var bad error // the first stored object we cannot read
	m := startMultistatus(w)
	ow := m.objectWriter(t.user, c, true, &pr, &pr.propfindReq)
	err = h.st.Query(r.Context(), t.user, c.Slug, start, end, true, func(o Object) error {
		ok, err := cm.match(&o)
		if err != nil {
			if bad == nil {
				bad = fmt.Errorf("stored iCalendar %s/%s: %w", c.Slug, o.Name, err)
			}
			return nil
		}
		if ok {
			ow.write(&o)
		}
		return nil
	})
	if err != nil {
		m.abort()
		h.logRefused(r, http.StatusInternalServerError, "calendar-query cut short: "+err.Error())
		return nil
	}
	if bad != nil {
		h.logRefused(r, http.StatusInternalServerError, "in multistatus: "+bad.Error())
	}
	return m.finish()
}

// floatKey names the zone of floating values of a request for the facts
// cache: "" for UTC (no C:timezone), else a hash of the C:timezone text.
func floatKey(tz *node) string {
	if tz == nil {
		return ""
	}
	sum := sha256.Sum256([]byte(tz.text))
	return string(sum[:])
}
