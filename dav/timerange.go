package dav

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// Time-range matching (RFC 4791 §9.9) of one calendar object. Times are
// handled as wall clocks (a time.Time in UTC whose fields are the local
// date and time) and turned into instants by a zone: recurrences are
// expanded on wall clocks, as RFC 5545 §3.3.10 defines them, so that a
// weekly 09:00 meeting stays at 09:00 across daylight saving changes.

// dtVal is one DATE or DATE-TIME value.
type dtVal struct {
	wall time.Time // the value's fields, in UTC
	date bool      // VALUE=DATE
	utc  bool      // a "Z" time: wall is the instant
	tzid string    // TZID parameter ("" for floating and UTC)
}

// sameZone reports whether two values are read in the same zone, so that
// their difference on wall clocks is their nominal duration.
func (a dtVal) sameZone(b dtVal) bool {
	return a.date == b.date && a.utc == b.utc && a.tzid == b.tzid
}

// parseDTList reads a DATE / DATE-TIME property, one or more values
// separated by commas (EXDATE, RDATE); of a PERIOD (RDATE) the start.
func parseDTList(p *ical.Prop) ([]dtVal, error) {
	isDate := strings.EqualFold(p.Params.Get(ical.ParamValue), "DATE")
	tzid := p.Params.Get(ical.PropTimezoneID)
	var out []dtVal
	for _, v := range strings.Split(p.Value, ",") {
		v = strings.TrimSpace(v)
		if i := strings.IndexByte(v, '/'); i >= 0 {
			v = v[:i]
		}
		d := dtVal{tzid: tzid}
		var err error
		switch {
		case len(v) == 8:
			d.date = true
			d.tzid = ""
			d.wall, err = time.Parse("20060102", v)
		case len(v) == 16 && (v[15] == 'Z' || v[15] == 'z'):
			d.utc = true
			d.tzid = ""
			d.wall, err = time.Parse("20060102T150405", v[:15])
		case len(v) == 15 && !isDate:
			d.wall, err = time.Parse("20060102T150405", v)
		default:
			err = fmt.Errorf("%q is not a DATE or DATE-TIME", v)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// parseDT reads a single-valued DATE / DATE-TIME property.
func parseDT(p *ical.Prop) (dtVal, error) {
	l, err := parseDTList(p)
	if err != nil {
		return dtVal{}, err
	}
	if len(l) != 1 {
		return dtVal{}, errors.New("more than one value")
	}
	return l[0], nil
}

// zone turns wall clocks into instants and back.
type zone interface {
	toUTC(wall time.Time) time.Time
	toWall(t time.Time) time.Time
}

type utcZone struct{}

func (utcZone) toUTC(w time.Time) time.Time  { return w }
func (utcZone) toWall(t time.Time) time.Time { return t.UTC() }

// locZone is an IANA zone of the system's database.
type locZone struct{ loc *time.Location }

func (z locZone) toUTC(w time.Time) time.Time {
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, z.loc).UTC()
}

func (z locZone) toWall(t time.Time) time.Time {
	l := t.In(z.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
}

// vtzZone is a zone defined by a VTIMEZONE (RFC 5545 §3.6.5): its
// observances' onsets, computed up to maxOnsetYear, on wall clocks.
type vtzZone struct {
	onsets []onset // by wall
	before time.Duration
}

type onset struct {
	wall time.Time
	off  time.Duration
}

const maxOnsetYear = 2200

func (z *vtzZone) offset(w time.Time) time.Duration {
	i := sort.Search(len(z.onsets), func(i int) bool { return z.onsets[i].wall.After(w) })
	if i == 0 {
		return z.before
	}
	return z.onsets[i-1].off
}

func (z *vtzZone) toUTC(w time.Time) time.Time { return w.Add(-z.offset(w)) }

func (z *vtzZone) toWall(t time.Time) time.Time {
	t = t.UTC()
	return t.Add(z.offset(t.Add(z.offset(t))))
}

func parseOffset(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) != 5 && len(s) != 7 || s[0] != '+' && s[0] != '-' {
		return 0, fmt.Errorf("UTC offset %q", s)
	}
	n := 0
	for i := 1; i < len(s); i += 2 {
		v, err := strconv.Atoi(s[i : i+2])
		if err != nil || v < 0 {
			return 0, fmt.Errorf("UTC offset %q", s)
		}
		n = n*60 + v
	}
	if len(s) == 5 {
		n *= 60
	}
	d := time.Duration(n) * time.Second
	if s[0] == '-' {
		d = -d
	}
	return d, nil
}

// newVTZ reads a VTIMEZONE; nil when it has no usable observance.
func newVTZ(c *ical.Component) *vtzZone {
	z := &vtzZone{}
	first := time.Time{}
	for _, obs := range c.Children {
		if obs.Name != "STANDARD" && obs.Name != "DAYLIGHT" {
			continue
		}
		to, err1 := parseOffset(propValue(obs, "TZOFFSETTO"))
		from, err2 := parseOffset(propValue(obs, "TZOFFSETFROM"))
		p := obs.Props.Get(ical.PropDateTimeStart)
		if err1 != nil || err2 != nil || p == nil {
			continue
		}
		start, err := parseDT(p)
		if err != nil {
			continue
		}
		if first.IsZero() || start.wall.Before(first) {
			first, z.before = start.wall, from
		}
		z.onsets = append(z.onsets, onset{start.wall, to})
		for _, rp := range obs.Props.Values(ical.PropRecurrenceDates) {
			ds, _ := parseDTList(&rp)
			for _, d := range ds {
				z.onsets = append(z.onsets, onset{d.wall, to})
			}
		}
		if rp := obs.Props.Get(ical.PropRecurrenceRule); rp != nil {
			opt, err := rrule.StrToROptionInLocation(rp.Value, time.UTC)
			if err != nil || opt.Freq != rrule.YEARLY {
				// Observances recur yearly (RFC 5545 §3.6.5 examples);
				// finer rules would cost a step per period to 2200.
				continue
			}
			opt.Dtstart = start.wall
			limit := time.Date(maxOnsetYear, 1, 1, 0, 0, 0, 0, time.UTC)
			if !opt.Until.IsZero() {
				// UNTIL is UTC here (RFC 5545 §3.6.5): on the wall
				// clock before the onset.
				opt.Until = opt.Until.Add(from)
			}
			if opt.Until.IsZero() || opt.Until.After(limit) {
				opt.Until = limit
			}
			r, err := rrule.NewRRule(*opt)
			if err != nil {
				continue
			}
			next := r.Iterator()
			for n := 0; n < 2*(maxOnsetYear-1900); n++ {
				w, ok := next()
				if !ok {
					break
				}
				z.onsets = append(z.onsets, onset{w, to})
			}
		}
	}
	if len(z.onsets) == 0 {
		return nil
	}
	sort.SliceStable(z.onsets, func(i, j int) bool { return z.onsets[i].wall.Before(z.onsets[j].wall) })
	return z
}

// vtzCache keeps the zones read from VTIMEZONEs, by a hash of what
// newVTZ reads of them: clients repeat the same few VTIMEZONEs in every
// object, and reading one computes its onsets up to maxOnsetYear. At most
// maxVTZCache zones (about 15 kB each); a full cache starts over.
var vtzCache struct {
	sync.Mutex
	m map[[sha256.Size]byte]*vtzZone
}

const maxVTZCache = 32

// cachedVTZ is newVTZ(c), from vtzCache when it has it. A vtzZone is
// never changed once made.
func cachedVTZ(c *ical.Component) *vtzZone {
	key := vtzKey(c)
	vtzCache.Lock()
	v, ok := vtzCache.m[key]
	vtzCache.Unlock()
	if ok {
		return v
	}
	v = newVTZ(c)
	vtzCache.Lock()
	if vtzCache.m == nil || len(vtzCache.m) >= maxVTZCache {
		vtzCache.m = map[[sha256.Size]byte]*vtzZone{}
	}
	vtzCache.m[key] = v
	vtzCache.Unlock()
	return v
}

// vtzKey hashes the values newVTZ reads of a VTIMEZONE, in its order.
func vtzKey(c *ical.Component) [sha256.Size]byte {
	h := sha256.New()
	w := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(strconv.Itoa(len(p))))
			h.Write([]byte{':'})
			h.Write([]byte(p))
		}
	}
	dt := func(p *ical.Prop) {
		w(p.Value, p.Params.Get(ical.ParamValue), p.Params.Get(ical.PropTimezoneID))
	}
	for _, obs := range c.Children {
		if obs.Name != "STANDARD" && obs.Name != "DAYLIGHT" {
			continue
		}
		w("obs", propValue(obs, "TZOFFSETTO"), propValue(obs, "TZOFFSETFROM"))
		if p := obs.Props.Get(ical.PropDateTimeStart); p != nil {
			w("start")
			dt(p)
		}
		for _, p := range obs.Props.Values(ical.PropRecurrenceDates) {
			w("rdate")
			dt(&p)
		}
		if p := obs.Props.Get(ical.PropRecurrenceRule); p != nil {
			w("rrule", p.Value)
		}
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// ianaZones caches the system's zones by TZID, misses included, up to
// maxIANACache names: a TZID is client input.
var ianaZones sync.Map

const maxIANACache = 2048

var ianaCount struct {
	sync.Mutex
	n int
}

func loadIANA(tzid string) *time.Location {
	if v, ok := ianaZones.Load(tzid); ok {
		return v.(*time.Location)
	}
	var loc *time.Location
	// "" and "Local" are LoadLocation's names for UTC and the server's
	// zone, not TZIDs.
	if tzid != "" && tzid != "Local" && tzid != "UTC" {
		loc, _ = time.LoadLocation(tzid)
	}
	ianaCount.Lock()
	if ianaCount.n < maxIANACache {
		ianaCount.n++
		ianaZones.Store(tzid, loc)
	}
	ianaCount.Unlock()
	return loc
}

// zones resolves the zones of one calendar object. A TZID names the
// object's VTIMEZONE of that TZID (RFC 5545 §3.2.19); failing that, a
// zone of the system's database of that name (clients often leave out the
// VTIMEZONE of an IANA name), and failing that UTC. Floating times and
// dates are read in float: the request's C:timezone (RFC 4791 §9.8), or
// UTC.
type zones struct {
	float zone
	vtz   map[string]*ical.Component
	cache map[string]zone
	// floatUsed records that a value was read in float: what was
	// computed depends on the request's zone (calfacts.go).
	floatUsed bool
}

func newZones(cal *ical.Calendar, float zone) *zones {
	z := &zones{float: float}
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone {
			if z.vtz == nil {
				z.vtz = map[string]*ical.Component{}
			}
			z.vtz[propValue(c, ical.PropTimezoneID)] = c
		}
	}
	return z
}

func (z *zones) of(d dtVal) zone {
	switch {
	case d.utc:
		return utcZone{}
	case d.date || d.tzid == "":
		z.floatUsed = true
		return z.float
	}
	if zz, ok := z.cache[d.tzid]; ok {
		return zz
	}
	var zz zone = utcZone{}
	if c, ok := z.vtz[d.tzid]; ok {
		if v := cachedVTZ(c); v != nil {
			zz = v
		}
	}
	if _, ok := zz.(utcZone); ok {
		if loc := loadIANA(d.tzid); loc != nil {
			zz = locZone{loc}
		}
	}
	if z.cache == nil {
		z.cache = map[string]zone{}
	}
	z.cache[d.tzid] = zz
	return zz
}

func (z *zones) abs(d dtVal) time.Time { return z.of(d).toUTC(d.wall) }

// timeRange is a C:time-range (RFC 4791 §9.9); a zero bound is unbounded.
type timeRange struct{ start, end time.Time }

// The comparisons of RFC 4791 §9.9 with open bounds.
func (r timeRange) startLE(t time.Time) bool { return r.start.IsZero() || !r.start.After(t) }
func (r timeRange) startLT(t time.Time) bool { return r.start.IsZero() || r.start.Before(t) }
func (r timeRange) endGT(t time.Time) bool   { return r.end.IsZero() || r.end.After(t) }
func (r timeRange) endGE(t time.Time) bool   { return r.end.IsZero() || !r.end.Before(t) }

// instant is the rule for a point in time: (start <= t AND end > t).
func (r timeRange) instant(t time.Time) bool { return r.startLE(t) && r.endGT(t) }

// span is the rule for [s, e) with e > s: (start < e AND end > s).
func (r timeRange) span(s, e time.Time) bool {
	if !e.After(s) {
		return r.instant(s)
	}
	return r.startLT(e) && r.endGT(s)
}

// maxInstances bounds the instances of one recurrence looked at for one
// query; a recurrence that has more before the range's end is taken to
// match (a superset, never a lost answer).
const maxInstances = 100000

// maxRecurYears is how far from DTSTART a recurrence is followed.
const maxRecurYears = 100

// errOpen is an expansion that cannot end: an unbounded rule in a range
// without end.
var errOpen = errors.New("open-ended recurrence")

// expand calls fn with the wall clock of every instance of comp's
// recurrence set (RFC 5545 §3.8.5: DTSTART, RRULE, RDATE, less EXDATE) in
// order, until fn returns true, the set ends, or instances start after
// the range's end. It returns errOpen, without calling fn, for an
// unbounded RRULE when the range has no end.
func (z *zones) expand(comp *ical.Component, start dtVal, r timeRange, fn func(wall time.Time) bool) error {
	zs := z.of(start)
	var (
		set       rrule.Set
		ruleOpen  bool // the rule was cut at the horizon before it ended
		ruleCount int
	)
	set.RDate(start.wall) // RFC 5545 §3.8.5.3: DTSTART is the first instance.
	limit := time.Time{}
	if !r.end.IsZero() {
		// Instances must start before the end; two days cover any offset.
		limit = zs.toWall(r.end).Add(48 * time.Hour)
	}
	if p := comp.Props.Get(ical.PropRecurrenceRule); p != nil {
		opt, err := rrule.StrToROptionInLocation(p.Value, time.UTC)
		if err != nil {
			return err
		}
		if !opt.Until.IsZero() && untilIsUTC(p.Value) && !start.utc {
			opt.Until = zs.toWall(opt.Until)
		}
		if opt.Count == 0 && opt.Until.IsZero() && limit.IsZero() {
			return errOpen
		}
		if opt.Freq > rrule.DAILY {
			// HOURLY, MINUTELY, SECONDLY: rrule-go steps through every
			// period even when its BY parts select none, which a hostile
			// rule turns into millions of steps. No client writes these
			// for events or tasks; they match as a superset.
			return errOpen
		}
		// rrule-go also steps through every day, week or month of a rule
		// whose BY parts select nothing; the horizon bounds that. Past it
		// an unended rule matches as a superset.
		horizon := start.wall.AddDate(maxRecurYears, 0, 0)
		end := limit
		if end.IsZero() || end.After(horizon) {
			end = horizon
			ruleOpen = opt.Until.IsZero() || opt.Until.After(horizon)
			ruleCount = opt.Count
		}
		if opt.Until.IsZero() || opt.Until.After(end) {
			opt.Until = end
		}
		opt.Dtstart = start.wall
		rule, err := rrule.NewRRule(*opt)
		if err != nil {
			return err
		}
		set.RRule(rule)
	}
	for _, p := range comp.Props.Values(ical.PropRecurrenceDates) {
		ds, err := parseDTList(&p)
		if err != nil {
			return err
		}
		for _, d := range ds {
			set.RDate(zs.toWall(z.abs(d)))
		}
	}
	for _, p := range comp.Props.Values(ical.PropExceptionDates) {
		ds, err := parseDTList(&p)
		if err != nil {
			return err
		}
		for _, d := range ds {
			set.ExDate(zs.toWall(z.abs(d)))
		}
	}
	next := set.Iterator()
	for n := 0; ; n++ {
		w, ok := next()
		if !ok && ruleOpen && (ruleCount == 0 || n < ruleCount) {
			return errOpen
		}
		if !ok || (!limit.IsZero() && w.After(limit)) {
			return nil
		}
		if n == maxInstances {
			fn(w)
			return errOpen
		}
		if fn(w) {
			return nil
		}
	}
}

func untilIsUTC(rule string) bool {
	for _, part := range strings.Split(rule, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(k, "UNTIL") {
			return strings.HasSuffix(strings.ToUpper(v), "Z")
		}
	}
	return false
}

// overlaps reports whether a VEVENT, VTODO or VJOURNAL overlaps r, as
// RFC 4791 §9.9 defines it for each, over its instances: a master's
// recurrence set less the instances overridden (RECURRENCE-ID instants in
// overridden); an override alone. A value that does not parse, or a
// recurrence too long to follow, matches: a query answers a superset
// rather than hide an object. RANGE=THISANDFUTURE overrides are read as
// overriding their own instance only, and an RDATE PERIOD as an instance
// of the master's duration.
func (z *zones) overlaps(c *ical.Component, r timeRange, overridden map[int64]bool) bool {
	start, ok := compStart(c)
	if !ok {
		return true
	}
	ir, ok := z.rule(c, start)
	if !ok {
		return true
	}
	if start == nil || !recurs(c) {
		s, e := ir.at(startWall(start))
		return ir.kind.test(r, s, e)
	}
	hit := false
	err := z.expand(c, *start, r, func(w time.Time) bool {
		s, e := ir.at(w)
		if len(overridden) > 0 && overridden[s.Unix()] {
			return false
		}
		hit = ir.kind.test(r, s, e)
		return hit
	})
	return hit || err != nil
}

// compStart reads c's DTSTART: nil without one; ok is false when it does
// not parse.
func compStart(c *ical.Component) (start *dtVal, ok bool) {
	p := c.Props.Get(ical.PropDateTimeStart)
	if p == nil {
		return nil, true
	}
	d, err := parseDT(p)
	if err != nil {
		return nil, false
	}
	return &d, true
}

func startWall(start *dtVal) time.Time {
	if start == nil {
		return time.Time{}
	}
	return start.wall
}

// recurs reports whether c is a master with a recurrence set (RFC 5545
// §3.8.5); an override (RECURRENCE-ID) is one instance.
func recurs(c *ical.Component) bool {
	return c.Props.Get(ical.PropRecurrenceID) == nil &&
		(c.Props.Get(ical.PropRecurrenceRule) != nil || c.Props.Get(ical.PropRecurrenceDates) != nil)
}

// ruleKind is which RFC 4791 §9.9 test applies to the instances of a
// component, given an instance's two instants s and e (instRule.at).
type ruleKind uint8

const (
	kindNever        ruleKind = iota // VEVENT or VJOURNAL without DTSTART, another component
	kindAlways                       // VTODO without DTSTART, DUE, COMPLETED or CREATED
	kindInstant                      // a point in time s
	kindSpan                         // [s, e); e <= s is the point s
	kindTodoDuration                 // VTODO DTSTART s + DURATION, ending at e
	kindTodoDue                      // VTODO DTSTART s and DUE e
	kindDue                          // VTODO DUE s only
	kindDoneCreated                  // VTODO CREATED s and COMPLETED e
	kindDone                         // VTODO COMPLETED s
	kindCreated                      // VTODO CREATED s
)

// test is the rule of kind k for an instance from s to e.
func (k ruleKind) test(r timeRange, s, e time.Time) bool {
	switch k {
	case kindAlways:
		return true
	case kindInstant:
		return r.instant(s)
	case kindSpan:
		return r.span(s, e)
	case kindTodoDuration:
		return r.startLE(e) && (r.endGT(s) || r.endGE(e))
	case kindTodoDue:
		return (r.startLT(e) || r.startLE(s)) && (r.endGT(s) || r.endGE(e))
	case kindDue:
		return r.startLT(s) && r.endGE(s)
	case kindDoneCreated:
		return (r.startLE(s) || r.startLE(e)) && (r.endGE(s) || r.endGE(e))
	case kindDone:
		return r.startLE(s) && r.endGE(s)
	case kindCreated:
		return r.endGT(s)
	}
	return false
}

// delta is the distance from DTSTART to another value of a component:
// on the wall clock (nominal), or exact when their zones differ.
type delta struct {
	d     time.Duration
	exact bool
}

// instRule gives the instants of one instance of a component that its
// §9.9 rule (kind) compares with a range.
type instRule struct {
	kind ruleKind
	zs   zone   // DTSTART's zone; nil without DTSTART
	end  *delta // e from the instance's start, for kindSpan, kindTodoDuration, kindTodoDue
	s, e time.Time
}

// at returns the instants of the instance starting at the wall clock w
// (of DTSTART's zone); without DTSTART, the fixed values.
func (ir *instRule) at(w time.Time) (s, e time.Time) {
	if ir.zs == nil {
		return ir.s, ir.e
	}
	s = ir.zs.toUTC(w)
	switch {
	case ir.end == nil:
	case ir.end.exact:
		e = s.Add(ir.end.d)
	default:
		e = ir.zs.toUTC(w.Add(ir.end.d))
	}
	return s, e
}

// rule returns the §9.9 rule of the instances of c (start is its
// DTSTART, nil without one); ok is false when a value needed does not
// parse.
func (z *zones) rule(c *ical.Component, start *dtVal) (ir instRule, ok bool) {
	offset := func(name string) (*delta, bool) {
		p := c.Props.Get(name)
		if p == nil || start == nil {
			return nil, true
		}
		v, err := parseDT(p)
		if err != nil {
			return nil, false
		}
		if v.sameZone(*start) {
			return &delta{d: v.wall.Sub(start.wall)}, true
		}
		return &delta{d: z.abs(v).Sub(z.abs(*start)), exact: true}, true
	}
	var dur *delta
	if p := c.Props.Get(ical.PropDuration); p != nil && start != nil {
		d, err := p.Duration()
		if err != nil {
			return ir, false
		}
		dur = &delta{d: d}
	}
	if start != nil {
		ir.zs = z.of(*start)
	}
	abs := func(name string) (*time.Time, bool) {
		p := c.Props.Get(name)
		if p == nil {
			return nil, true
		}
		v, err := parseDT(p)
		if err != nil {
			return nil, false
		}
		t := z.abs(v)
		return &t, true
	}

	switch c.Name {
	case ical.CompEvent:
		if start == nil {
			return instRule{kind: kindNever}, true
		}
		end, ok := offset(ical.PropDateTimeEnd)
		if !ok {
			return ir, false
		}
		if end == nil {
			end = dur
		}
		if end == nil && start.date {
			end = &delta{d: 24 * time.Hour} // one day, on the wall clock
		}
		if end == nil {
			ir.kind = kindInstant
			return ir, true
		}
		ir.kind, ir.end = kindSpan, end
		return ir, true

	case ical.CompToDo:
		due, ok := offset(ical.PropDue)
		if !ok {
			return ir, false
		}
		switch {
		case start != nil && dur != nil:
			ir.kind, ir.end = kindTodoDuration, dur
			return ir, true
		case start != nil && due != nil:
			ir.kind, ir.end = kindTodoDue, due
			return ir, true
		case start != nil:
			ir.kind = kindInstant
			return ir, true
		}
		d, ok1 := abs(ical.PropDue)
		done, ok2 := abs(ical.PropCompleted)
		created, ok3 := abs(ical.PropCreated)
		if !ok1 || !ok2 || !ok3 {
			return ir, false
		}
		switch {
		case d != nil:
			ir.kind, ir.s = kindDue, *d
		case done != nil && created != nil:
			ir.kind, ir.s, ir.e = kindDoneCreated, *created, *done
		case done != nil:
			ir.kind, ir.s = kindDone, *done
		case created != nil:
			ir.kind, ir.s = kindCreated, *created
		default:
			ir.kind = kindAlways
		}
		return ir, true

	case ical.CompJournal:
		if start == nil {
			return instRule{kind: kindNever}, true
		}
		if start.date {
			ir.kind, ir.end = kindSpan, &delta{d: 24 * time.Hour} // the day, on the wall clock
			return ir, true
		}
		ir.kind = kindInstant
		return ir, true
	}
	return instRule{kind: kindNever}, true
}

// overriddenIDs returns the RECURRENCE-ID instants of the overrides
// among comps (one object: one UID, RFC 4791 §4.1).
func (z *zones) overriddenIDs(comps []*ical.Component) map[int64]bool {
	var m map[int64]bool
	for _, c := range comps {
		p := c.Props.Get(ical.PropRecurrenceID)
		if p == nil {
			continue
		}
		d, err := parseDT(p)
		if err != nil {
			continue
		}
		if m == nil {
			m = map[int64]bool{}
		}
		m[z.abs(d).Unix()] = true
	}
	return m
}
