package mapping

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// Date and time forms of RFC 5545 §3.3.4 and §3.3.5, and of the CRM columns.
const (
	icalDate         = "20060102"
	icalLocal        = "20060102T150405"
	icalUTC          = "20060102T150405Z"
	layoutColumnTime = "2006-01-02T15:04:05Z" // crmclient.Columns, date and time
)

// when is a DATE or DATE-TIME value read from a property.
type when struct {
	t        time.Time // the instant, in UTC; a DATE is 00:00 UTC of its date, a floating time is read as UTC
	date     bool      // VALUE=DATE
	floating bool      // DATE-TIME without TZID and without "Z" (RFC 5545 §3.3.5 form #1)
	tzid     string    // form #3
	unknown  bool      // tzid names no VTIMEZONE of the object and no zone Go knows: read as UTC
}

// form is how a DATE-TIME is written: in tzid's local time, floating, or in
// UTC when both are empty.
type form struct {
	tzid     string
	floating bool
}

func (w when) form() form { return form{tzid: w.tzid, floating: w.floating} }

func columnTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(layoutColumnTime)
}

// parseColumnTime reads a date-and-time column (RFC 3339; a date alone is
// its 00:00 UTC). ok is false for "" and for what is no time.
func parseColumnTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// zones resolves the TZIDs of one calendar: by its VTIMEZONEs (RFC 5545
// §3.6.5), which the object must carry for every TZID it uses, else by the
// IANA name through Go's time zone database.
type zones struct {
	cal *ical.Component
	m   map[string]*zone
}

func newZones(cal *ical.Component) *zones { return &zones{cal: cal} }

func (zs *zones) get(tzid string) *zone {
	if z, ok := zs.m[tzid]; ok {
		return z
	}
	if zs.m == nil {
		zs.m = map[string]*zone{}
	}
	var z *zone
	if zs.cal != nil {
		for _, c := range zs.cal.Children {
			if c.Name == ical.CompTimezone && strings.TrimSpace(propValue(c, ical.PropTimezoneID)) == strings.TrimSpace(tzid) {
				z = parseZone(c)
				break
			}
		}
	}
	if z == nil && tzid != "" {
		if loc, err := time.LoadLocation(strings.TrimSpace(tzid)); err == nil {
			z = &zone{loc: loc}
		}
	}
	zs.m[tzid] = z
	return z
}

func propValue(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		return p.Value
	}
	return ""
}

// read returns the value of a DATE or DATE-TIME property.
func (zs *zones) read(p *ical.Prop) (when, error) {
	v := strings.TrimSpace(p.Value)
	if strings.EqualFold(p.Params.Get(ical.ParamValue), string(ical.ValueDate)) || len(v) == len(icalDate) {
		t, err := time.Parse(icalDate, v)
		if err != nil {
			return when{}, fmt.Errorf("%w: %s %q", ErrValue, p.Name, p.Value)
		}
		return when{t: t, date: true}, nil
	}
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		t, err := time.Parse(icalUTC, strings.ToUpper(v))
		if err != nil {
			return when{}, fmt.Errorf("%w: %s %q", ErrValue, p.Name, p.Value)
		}
		return when{t: t}, nil
	}
	t, err := time.Parse(icalLocal, v)
	if err != nil {
		return when{}, fmt.Errorf("%w: %s %q", ErrValue, p.Name, p.Value)
	}
	tzid := p.Params.Get(ical.ParamTimezoneID)
	if tzid == "" {
		return when{t: t, floating: true}, nil
	}
	z := zs.get(tzid)
	if z == nil {
		return when{t: t, tzid: tzid, unknown: true}, nil
	}
	return when{t: z.toUTC(t), tzid: tzid}, nil
}

// local is the wall-clock time (as a UTC time.Time) of instant t in form f.
func (zs *zones) local(t time.Time, f form) time.Time {
	if f.tzid != "" {
		if z := zs.get(f.tzid); z != nil {
			return z.fromUTC(t)
		}
	}
	return t.UTC()
}

// utc is the instant of wall-clock time l in form f.
func (zs *zones) utc(l time.Time, f form) time.Time {
	if f.tzid != "" {
		if z := zs.get(f.tzid); z != nil {
			return z.toUTC(l)
		}
	}
	return l
}

// write sets p to t: a DATE when date, else a DATE-TIME in form f. Other
// params of p stay.
func (zs *zones) write(p *ical.Prop, t time.Time, date bool, f form) {
	if p.Params == nil {
		p.Params = ical.Params{}
	}
	p.Params.Del(ical.ParamTimezoneID)
	if date {
		p.Params.Set(ical.ParamValue, string(ical.ValueDate))
		p.Value = t.UTC().Format(icalDate)
		return
	}
	if strings.EqualFold(p.Params.Get(ical.ParamValue), string(ical.ValueDate)) {
		p.Params.Del(ical.ParamValue)
	}
	switch {
	case f.tzid != "":
		p.Params.Set(ical.ParamTimezoneID, f.tzid)
		p.Value = zs.local(t, f).Format(icalLocal)
	case f.floating:
		p.Value = t.UTC().Format(icalLocal)
	default:
		p.Value = t.UTC().Format(icalUTC)
	}
}

// zone converts between wall-clock times of one TZID and instants.
type zone struct {
	obs []observance
	loc *time.Location // set when the zone comes from Go's database
}

// observance is a STANDARD or DAYLIGHT sub-component (RFC 5545 §3.6.5).
type observance struct {
	start    time.Time // DTSTART, wall clock in the offset "from"
	from, to time.Duration
	rule     *rrule.RRule // yearly or monthly onsets; nil: start and rdates only
	rdates   []time.Time
	// byYear holds, for a plain yearly rule (interval 1, no COUNT, month and
	// day given), the rule restarted in one year: its onsets from then on
	// are the same, and expanding from 1601 (Windows zones) is costly.
	opt    *rrule.ROption
	byYear map[int]*rrule.RRule
	memo   map[time.Time]time.Time // lastOnset by t; zero: none
}

func parseZone(c *ical.Component) *zone {
	z := &zone{}
	for _, s := range c.Children {
		if s.Name != ical.CompTimezoneStandard && s.Name != ical.CompTimezoneDaylight {
			continue
		}
		start, err := time.Parse(icalLocal, strings.TrimSpace(propValue(s, ical.PropDateTimeStart)))
		if err != nil {
			if start, err = time.Parse(icalDate, strings.TrimSpace(propValue(s, ical.PropDateTimeStart))); err != nil {
				continue
			}
		}
		from, ok1 := parseOffset(propValue(s, ical.PropTimezoneOffsetFrom))
		to, ok2 := parseOffset(propValue(s, ical.PropTimezoneOffsetTo))
		if !ok2 {
			continue
		}
		if !ok1 {
			from = to
		}
		o := observance{start: start, from: from, to: to}
		if r := s.Props.Get(ical.PropRecurrenceRule); r != nil {
			o.rule, o.opt = zoneRule(r.Value, start)
		}
		for _, rd := range s.Props[ical.PropRecurrenceDates] {
			for _, v := range strings.Split(rd.Value, ",") {
				if t, err := time.Parse(icalLocal, strings.TrimSpace(v)); err == nil {
					o.rdates = append(o.rdates, t)
				}
			}
		}
		z.obs = append(z.obs, o)
	}
	return z
}

// zoneRule builds the onset rule of an observance; only yearly and monthly
// rules are expanded (every real VTIMEZONE uses one), which bounds the work.
func zoneRule(v string, start time.Time) (r *rrule.RRule, o *rrule.ROption) {
	defer func() {
		if recover() != nil {
			r, o = nil, nil
		}
	}()
	opt, err := rrule.StrToROption(v)
	if err != nil || (opt.Freq != rrule.YEARLY && opt.Freq != rrule.MONTHLY) {
		return nil, nil
	}
	opt.Dtstart = start
	if !opt.Until.IsZero() {
		opt.Until = opt.Until.UTC()
		opt.Until = time.Date(opt.Until.Year(), opt.Until.Month(), opt.Until.Day(), opt.Until.Hour(), opt.Until.Minute(), opt.Until.Second(), 0, time.UTC)
	}
	rule, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, nil
	}
	return rule, opt
}

// ruleFrom is o's rule, restarted shortly before year y when that gives the
// same onsets.
func (o *observance) ruleFrom(y int) *rrule.RRule {
	opt := o.opt
	if opt == nil || opt.Freq != rrule.YEARLY || opt.Interval > 1 || opt.Count != 0 ||
		len(opt.Bymonth) == 0 || len(opt.Byweekday)+len(opt.Bymonthday) == 0 || y-1 <= o.start.Year() {
		return o.rule
	}
	if r, ok := o.byYear[y]; ok {
		return r
	}
	shifted := *opt
	shifted.Dtstart = time.Date(y-1, 1, 1, o.start.Hour(), o.start.Minute(), o.start.Second(), 0, time.UTC)
	r, err := rrule.NewRRule(shifted)
	if err != nil {
		r = o.rule
	}
	if o.byYear == nil {
		o.byYear = map[int]*rrule.RRule{}
	}
	o.byYear[y] = r
	return r
}

// parseOffset reads a UTC-OFFSET (RFC 5545 §3.3.14): +hhmm or +hhmmss.
func parseOffset(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if len(v) != 5 && len(v) != 7 {
		return 0, false
	}
	sign := time.Duration(1)
	switch v[0] {
	case '-':
		sign = -1
	case '+':
	default:
		return 0, false
	}
	n, err := strconv.Atoi(v[1:])
	if err != nil || n < 0 {
		return 0, false
	}
	if len(v) == 5 {
		n *= 100
	}
	h, m, s := n/10000, n/100%100, n%100
	if m >= 60 || s >= 60 {
		return 0, false
	}
	return sign * (time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second), true
}

// lastOnset is the latest onset of o at or before wall-clock time t.
func (o *observance) lastOnset(t time.Time) (time.Time, bool) {
	if x, ok := o.memo[t]; ok {
		return x, !x.IsZero()
	}
	x, ok := o.findOnset(t)
	if o.memo == nil {
		o.memo = map[time.Time]time.Time{}
	}
	if !ok {
		x = time.Time{}
	}
	o.memo[t] = x
	return x, ok
}

func (o *observance) findOnset(t time.Time) (time.Time, bool) {
	var best time.Time
	found := false
	consider := func(x time.Time) {
		if !x.After(t) && (!found || x.After(best)) {
			best, found = x, true
		}
	}
	consider(o.start)
	for _, r := range o.rdates {
		consider(r)
	}
	if o.rule != nil && !t.Before(o.start) {
		if x := safeBefore(o.ruleFrom(t.Year()), t); !x.IsZero() {
			consider(x)
		}
	}
	return best, found
}

func safeBefore(r *rrule.RRule, t time.Time) (x time.Time) {
	defer func() {
		if recover() != nil {
			x = time.Time{}
		}
	}()
	return r.Before(t, true)
}

// offsetAt is the UTC offset in force at wall-clock time l (utc false) or at
// instant l (utc true): the "to" offset of the observance with the latest
// onset, or, before every onset, the "from" offset of the earliest one.
func (z *zone) offsetAt(l time.Time, utc bool) time.Duration {
	var (
		off   time.Duration
		best  time.Time
		found bool
	)
	for i := range z.obs {
		o := &z.obs[i]
		at := l
		if utc {
			at = l.Add(o.from) // onsets are wall-clock times in the offset "from"
		}
		on, ok := o.lastOnset(at)
		if !ok {
			continue
		}
		if utc {
			on = on.Add(-o.from)
		}
		if !found || on.After(best) {
			best, off, found = on, o.to, true
		}
	}
	if found {
		return off
	}
	var first *observance
	for i := range z.obs {
		if first == nil || z.obs[i].start.Before(first.start) {
			first = &z.obs[i]
		}
	}
	if first != nil {
		return first.from
	}
	return 0
}

func (z *zone) toUTC(l time.Time) time.Time {
	if z.loc != nil {
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, z.loc).UTC()
	}
	return l.Add(-z.offsetAt(l, false))
}

func (z *zone) fromUTC(u time.Time) time.Time {
	if z.loc != nil {
		l := u.In(z.loc)
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
	}
	return u.Add(z.offsetAt(u, true))
}
