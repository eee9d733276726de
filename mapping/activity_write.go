package mapping

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-ical"
)

// ProdID is the PRODID of a CRM-born calendar object (RFC 5545 §3.7.3).
const ProdID = "-//crmdav//crmdav//EN"

// ActivityCalendar renders a into base, the client's last object (nil for a
// CRM-born one, which gets UID uid, PRODID ProdID and times in UTC). Only the
// properties whose columns differ from what base reads as are rewritten;
// everything else, and every property the CRM has no column for, stays as
// the client wrote it. base is not modified.
//
// A column absent from a.Columns (or an Exception's Columns) is not given: its
// property stays. Nil Parties leave the body's parties as they are; an empty
// slice removes them. Exceptions are authoritative for a recurring master.
func ActivityCalendar(a Activity, base *ical.Calendar, uid string) (*ical.Calendar, error) {
	name := componentOf(a.Kind)
	if name == "" {
		return nil, fmt.Errorf("%w: %q", ErrKind, a.Kind)
	}
	var (
		cal       *ical.Calendar
		master    *ical.Component
		overrides []*ical.Component
	)
	if base == nil || base.Component == nil {
		cal = ical.NewCalendar()
		setText(cal.Component, ical.PropVersion, "2.0")
		setText(cal.Component, ical.PropProductID, ProdID)
		master = ical.NewComponent(name)
		setText(master, ical.PropUID, uid)
		stamp := time.Unix(0, 0).UTC()
		if t, ok := parseColumnTime(a.Columns[ModifiedOn]); ok {
			stamp = t
		}
		master.Props.Set(&ical.Prop{Name: ical.PropDateTimeStamp, Params: ical.Params{}, Value: stamp.Format(icalUTC)})
		cal.Children = append(cal.Children, master)
	} else {
		cal = &ical.Calendar{Component: cloneComponent(base.Component)}
		var err error
		if master, overrides, err = split(cal, name); err != nil {
			return nil, err
		}
	}
	w := &calWriter{r: &reader{zs: newZones(cal.Component), noSpan: true}}
	def := w.form(master, ical.PropDateTimeStart, form{})
	if err := w.component(master, a.Kind, a.Columns, a.Parties, def); err != nil {
		return nil, err
	}
	if name != ical.CompEvent {
		return cal, nil
	}
	if a.Kind != crmclient.RecurringAppointment {
		if master.Props.Get(ical.PropRecurrenceRule) == nil {
			return cal, nil // overrides without a rule are no series: they stay
		}
		for _, n := range []string{ical.PropRecurrenceRule, ical.PropRecurrenceDates, ical.PropExceptionDates, "EXRULE"} {
			delete(master.Props, n)
		}
		removeComponents(cal, overrides)
		return cal, nil
	}
	if err := w.exdates(master, a.Exceptions); err != nil {
		return nil, err
	}
	if err := w.overrides(cal, master, overrides, a); err != nil {
		return nil, err
	}
	return cal, nil
}

func removeComponents(cal *ical.Calendar, gone []*ical.Component) {
	if len(gone) == 0 {
		return
	}
	kept := cal.Children[:0]
	for _, c := range cal.Children {
		drop := false
		for _, g := range gone {
			drop = drop || c == g
		}
		if !drop {
			kept = append(kept, c)
		}
	}
	cal.Children = kept
}

type calWriter struct {
	r *reader
}

// form is the form of the DATE-TIME property name of c, def when c has none
// or a DATE.
func (w *calWriter) form(c *ical.Component, name string, def form) form {
	if p := c.Props.Get(name); p != nil {
		if v, err := w.r.zs.read(p); err == nil && !v.date {
			return v.form()
		}
	}
	return def
}

// same reports whether property p reads as t (a DATE when date).
func (w *calWriter) same(p *ical.Prop, t time.Time, date bool) bool {
	v, err := w.r.zs.read(p)
	return err == nil && v.date == date && v.t.Equal(t)
}

// component writes the columns and parties of kind k into c.
func (w *calWriter) component(c *ical.Component, k crmclient.Kind, given crmclient.Columns, parties []crmclient.Party, def form) error {
	cur, curParties, _, err := w.r.read(c, k)
	if err != nil {
		return err
	}
	if cur == nil {
		cur = crmclient.Columns{}
	}
	want := cur.Clone()
	for _, n := range ActivityColumns(k) {
		if v, ok := given[n]; ok {
			want[n] = v
		}
	}
	changed := func(names ...string) bool {
		for _, n := range names {
			if want[n] != cur[n] {
				return true
			}
		}
		return false
	}
	text := func(col, prop string) {
		if changed(col) {
			setText(c, prop, want[col])
		}
	}
	text("subject", ical.PropSummary)
	if changed("description") {
		setText(c, ical.PropDescription, want["description"])
		// An HTML copy or an alternative representation of the old text
		// would contradict the new one.
		delete(c.Props, "X-ALT-DESC")
		if p := c.Props.Get(ical.PropDescription); p != nil {
			p.Params.Del(ical.ParamAltRep)
		}
	}
	switch componentOf(k) {
	case ical.CompEvent:
		text("location", ical.PropLocation)
		if k == crmclient.RecurringAppointment {
			if changed("starttime", "endtime", "duration", "patternstartdate", "isalldayevent") {
				w.masterSpan(c, cur, want, def)
			}
			if changed(patternCols...) {
				w.rule(c, want)
			}
		} else if changed("scheduledstart", "scheduledend", "isalldayevent") {
			s, okS := parseColumnTime(want["scheduledstart"])
			e, okE := parseColumnTime(want["scheduledend"])
			w.eventSpan(c, s, e, okS, okE, want["isalldayevent"] == "true", def)
		}
	case ical.CompToDo:
		if changed("scheduledstart", "scheduledend") {
			w.todoSpan(c, want, def)
		}
		if changed("actualend") {
			t, ok := parseColumnTime(want["actualend"])
			w.setWhen(c, ical.PropCompleted, t, ok, form{})
		}
		if k == crmclient.Task && changed("percentcomplete") {
			setText(c, ical.PropPercentComplete, percentValue(want["percentcomplete"]))
		}
		for _, kp := range kindProps[k] {
			if !changed(kp[0]) {
				continue
			}
			v := want[kp[0]]
			if kp[1] == propDirection {
				v = directionValue(v)
			}
			setText(c, kp[1], v)
		}
	case ical.CompJournal:
		if changed("senton") {
			t, ok := parseColumnTime(want["senton"])
			w.setWhen(c, ical.PropDateTimeStart, t, ok, w.form(c, ical.PropDateTimeStart, def))
		}
	}
	if componentOf(k) != ical.CompJournal && changed("prioritycode") {
		setText(c, ical.PropPriority, priorityValue(want["prioritycode"]))
	}
	if changed("statecode", "statuscode", "percentcomplete") {
		writeState(c, k, want["statecode"], want["statuscode"], want["percentcomplete"])
	}
	if changed(Regarding) {
		writeRegarding(c, want[Regarding], w.r.inherited(c))
	}
	if roles := PartyRoles(k); roles != nil && parties != nil {
		mapped := mappedParties(parties, roles)
		if !sameParties(mapped, curParties) {
			w.parties(c, k, mapped)
		}
	}
	return nil
}

// eventSpan writes DTSTART and the end of a VEVENT. A DURATION that still
// gives the end stays; otherwise the end is written as DTEND. A changed
// DATE-TIME is written in its property's form (its TZID, floating or UTC).
func (w *calWriter) eventSpan(c *ical.Component, s, e time.Time, okS, okE, allday bool, def form) {
	if allday {
		s, e = truncateDay(s), truncateDay(e)
	}
	f := w.form(c, ical.PropDateTimeStart, def)
	hadDur := c.Props.Get(ical.PropDuration) != nil
	hadEnd := c.Props.Get(ical.PropDateTimeEnd) != nil
	w.setWhenAs(c, ical.PropDateTimeStart, s, okS, allday, f)
	if du := c.Props.Get(ical.PropDuration); du != nil {
		if d, err := du.Duration(); err == nil && okS && okE && s.Add(d).Equal(e) {
			return
		}
		delete(c.Props, ical.PropDuration)
	}
	if !okE {
		delete(c.Props, ical.PropDateTimeEnd)
		return
	}
	implied := s
	if allday {
		implied = s.AddDate(0, 0, 1)
	}
	if !hadEnd && !hadDur && e.Equal(implied) {
		return
	}
	w.setWhenAs(c, ical.PropDateTimeEnd, e, true, allday, w.form(c, ical.PropDateTimeEnd, f))
}

// setWhenAs writes the DATE (date) or DATE-TIME property name unless it
// reads as t already; ok false removes it.
func (w *calWriter) setWhenAs(c *ical.Component, name string, t time.Time, ok, date bool, f form) {
	p := c.Props.Get(name)
	switch {
	case !ok:
		delete(c.Props, name)
	case p == nil:
		p = &ical.Prop{Name: name, Params: ical.Params{}}
		w.r.zs.write(p, t, date, f)
		c.Props.Set(p)
	case !w.same(p, t, date):
		w.r.zs.write(p, t, date, w.form(c, name, f))
	}
}

// setWhen writes a property that is a DATE only while it was one and t is a
// midnight (VTODO DTSTART and DUE, VJOURNAL DTSTART); COMPLETED is always
// UTC (RFC 5545 §3.8.2.1).
func (w *calWriter) setWhen(c *ical.Component, name string, t time.Time, ok bool, f form) {
	date := false
	if p := c.Props.Get(name); p != nil && ok {
		if v, err := w.r.zs.read(p); err == nil {
			date = v.date && t.Equal(truncateDay(t))
		}
	}
	if name == ical.PropCompleted {
		f = form{}
	}
	w.setWhenAs(c, name, t, ok, date, f)
}

func (w *calWriter) todoSpan(c *ical.Component, want crmclient.Columns, def form) {
	s, okS := parseColumnTime(want["scheduledstart"])
	e, okE := parseColumnTime(want["scheduledend"])
	f := w.form(c, ical.PropDateTimeStart, w.form(c, ical.PropDue, def))
	w.setWhen(c, ical.PropDateTimeStart, s, okS, f)
	if du := c.Props.Get(ical.PropDuration); du != nil {
		if d, err := du.Duration(); err == nil && okS && okE && s.Add(d).Equal(e) {
			return
		}
		delete(c.Props, ical.PropDuration) // RFC 5545 §3.6.2: DURATION needs DTSTART
	}
	w.setWhen(c, ical.PropDue, e, okE, f)
}

// masterSpan writes DTSTART/DTEND of a recurring master from starttime,
// endtime, duration and patternstartdate. starttime is the first instance's
// start; patternstartdate moves it to another date (keeping its time of
// day) only when it changed alone; duration sets the end only when it changed
// alone or endtime is null.
func (w *calWriter) masterSpan(c *ical.Component, cur, want crmclient.Columns, def form) {
	allday := want["isalldayevent"] == "true"
	f := w.form(c, ical.PropDateTimeStart, def)
	s, okS := parseColumnTime(want["starttime"])
	e, okE := parseColumnTime(want["endtime"])
	psd, okP := parseColumnTime(want["patternstartdate"])
	if okP && (!okS || want["starttime"] == cur["starttime"] && want["patternstartdate"] != cur["patternstartdate"]) {
		ns := psd
		if !allday {
			wall := w.r.zs.local(s, f)
			if !okS {
				wall = time.Time{}
			}
			ns = w.r.zs.utc(truncateDay(psd).Add(wall.Sub(truncateDay(wall))), f)
		}
		if okE && okS {
			e = e.Add(ns.Sub(s))
		}
		s, okS = ns, true
	}
	if n, err := strconv.Atoi(want["duration"]); err == nil && okS && (!okE || want["endtime"] == cur["endtime"] && want["duration"] != cur["duration"]) {
		e, okE = s.Add(time.Duration(n)*time.Minute), true
	}
	w.eventSpan(c, s, e, okS, okE, allday, def)
}

// rule writes RRULE from the pattern columns; params of the first RRULE stay.
func (w *calWriter) rule(c *ical.Component, want crmclient.Columns) {
	start := c.Props.Get(ical.PropDateTimeStart)
	var sv when
	if start != nil {
		sv, _ = w.r.zs.read(start)
	}
	until := func(d time.Time) string {
		if sv.date {
			return d.Format(icalDate)
		}
		wall := truncateDay(d).Add(24*time.Hour - time.Second)
		if sv.floating {
			return wall.Format(icalLocal)
		}
		return w.r.zs.utc(wall, sv.form()).UTC().Format(icalUTC)
	}
	v := ruleValue(want, until)
	if ps := c.Props[ical.PropRecurrenceRule]; len(ps) > 0 {
		ps[0].Value = v
		c.Props[ical.PropRecurrenceRule] = ps[:1]
		return
	}
	c.Props.Set(&ical.Prop{Name: ical.PropRecurrenceRule, Params: ical.Params{}, Value: v})
}

// exdates makes EXDATE list the deleted instances: values no longer deleted
// go, new ones are added in one EXDATE in DTSTART's form.
func (w *calWriter) exdates(c *ical.Component, exs []Exception) error {
	want := map[time.Time]bool{}
	for _, e := range exs {
		if e.Deleted {
			want[e.RecurrenceID.UTC()] = true
		}
	}
	cur, err := w.r.exdates(c)
	if err != nil {
		return err
	}
	if len(cur) == len(want) {
		same := true
		for _, t := range cur {
			same = same && want[t.UTC()]
		}
		if same {
			return nil
		}
	}
	seen := map[time.Time]bool{}
	var kept []ical.Prop
	for _, p := range c.Props[ical.PropExceptionDates] {
		var vals []string
		for _, v := range strings.Split(p.Value, ",") {
			q := ical.Prop{Name: p.Name, Params: p.Params, Value: strings.TrimSpace(v)}
			x, err := w.r.zs.read(&q)
			if err != nil {
				return err
			}
			if t := x.t.UTC(); want[t] && !seen[t] {
				seen[t] = true
				vals = append(vals, v)
			}
		}
		if len(vals) > 0 {
			p.Value = strings.Join(vals, ",")
			kept = append(kept, p)
		}
	}
	var add []time.Time
	for _, e := range exs {
		if t := e.RecurrenceID.UTC(); e.Deleted && !seen[t] {
			seen[t] = true
			add = append(add, t)
		}
	}
	if len(add) > 0 {
		var sv when
		if p := c.Props.Get(ical.PropDateTimeStart); p != nil {
			sv, _ = w.r.zs.read(p)
		}
		var vals []string
		p := ical.Prop{Name: ical.PropExceptionDates, Params: ical.Params{}}
		for _, t := range add {
			w.r.zs.write(&p, t, sv.date, sv.form())
			vals = append(vals, p.Value)
		}
		p.Value = strings.Join(vals, ",")
		kept = append(kept, p)
	}
	if len(kept) == 0 {
		delete(c.Props, ical.PropExceptionDates)
	} else {
		c.Props[ical.PropExceptionDates] = kept
	}
	return nil
}

// overrides writes the overridden instances: each Exception into the
// component of its RECURRENCE-ID, new ones after the last VEVENT; overrides
// no Exception names are removed (the instance follows the series again).
func (w *calWriter) overrides(cal *ical.Calendar, master *ical.Component, have []*ical.Component, a Activity) error {
	byID := map[time.Time]*ical.Component{}
	var gone []*ical.Component
	wanted := map[time.Time]bool{}
	for _, e := range a.Exceptions {
		if !e.Deleted {
			wanted[e.RecurrenceID.UTC()] = true
		}
	}
	for _, o := range have {
		rid, err := w.r.zs.read(o.Props.Get(ical.PropRecurrenceID))
		if err != nil {
			return err
		}
		if t := rid.t.UTC(); wanted[t] && byID[t] == nil {
			byID[t] = o
		} else {
			gone = append(gone, o)
		}
	}
	removeComponents(cal, gone)
	sv := when{}
	if p := master.Props.Get(ical.PropDateTimeStart); p != nil {
		sv, _ = w.r.zs.read(p)
	}
	masterCols, masterParties, _, err := w.r.read(master, crmclient.RecurringAppointment)
	if err != nil {
		return err
	}
	w.r.inherit = masterCols[Regarding]
	for _, e := range a.Exceptions {
		if e.Deleted {
			continue
		}
		t := e.RecurrenceID.UTC()
		o := byID[t]
		cols, parties := e.Columns, e.Parties
		if o == nil {
			o = ical.NewComponent(ical.CompEvent)
			for _, n := range []string{ical.PropUID, ical.PropDateTimeStamp} {
				if p := master.Props.Get(n); p != nil {
					o.Props.Set(&ical.Prop{Name: p.Name, Params: cloneParams(p.Params), Value: p.Value})
				}
			}
			rid := &ical.Prop{Name: ical.PropRecurrenceID, Params: ical.Params{}}
			w.r.zs.write(rid, t, sv.date, sv.form())
			o.Props.Set(rid)
			// A new override is a whole component (RFC 5545 §3.8.4.4):
			// columns not given are the master's.
			cols = crmclient.Columns{
				"subject": masterCols["subject"], "description": masterCols["description"],
				"location": masterCols["location"], "isalldayevent": masterCols["isalldayevent"],
				"prioritycode": masterCols["prioritycode"], "statecode": masterCols["statecode"],
				"statuscode": masterCols["statuscode"], "scheduledstart": columnTime(t),
				Regarding: masterCols[Regarding],
			}
			if n, err := strconv.Atoi(masterCols["duration"]); err == nil {
				cols["scheduledend"] = columnTime(t.Add(time.Duration(n) * time.Minute))
			}
			for k, v := range e.Columns {
				cols[k] = v
			}
			if parties == nil {
				parties = masterParties
			}
			last := -1
			for i, c := range cal.Children {
				if c.Name == ical.CompEvent {
					last = i
				}
			}
			cal.Children = append(cal.Children[:last+1], append([]*ical.Component{o}, cal.Children[last+1:]...)...)
		}
		if err := w.component(o, crmclient.Appointment, cols, parties, sv.form()); err != nil {
			return err
		}
	}
	return nil
}

// mappedParties keeps the parties of roles that have an address; a party
// known by PartyID only cannot be written into a body and is skipped.
func mappedParties(ps []crmclient.Party, roles []crmclient.Role) []crmclient.Party {
	out := []crmclient.Party{}
	for _, p := range ps {
		if strings.TrimSpace(p.Address) == "" {
			continue
		}
		for _, r := range roles {
			if p.Role == r {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func sameParties(a, b []crmclient.Party) bool {
	if len(a) != len(b) {
		return false
	}
	n := map[string]int{}
	for _, p := range a {
		n[strconv.Itoa(int(p.Role))+" "+strings.ToLower(p.Address)]++
	}
	for _, p := range b {
		k := strconv.Itoa(int(p.Role)) + " " + strings.ToLower(p.Address)
		if n[k] == 0 {
			return false
		}
		n[k]--
	}
	return true
}

// parties writes ORGANIZER and the ATTENDEEs. An ATTENDEE whose address stays
// keeps its params (PARTSTAT, CN, RSVP…), with ROLE changed only when its
// class changes; ORGANIZER and ATTENDEE values that are no mailto: address
// map to no party and stay.
func (w *calWriter) parties(c *ical.Component, k crmclient.Kind, want []crmclient.Party) {
	org, opt := crmclient.Organizer, crmclient.OptionalAttendee
	req := crmclient.RequiredAttendee
	if k == crmclient.Email {
		org, req, opt = crmclient.Sender, crmclient.ToRecipient, crmclient.CCRecipient
	}
	wantOrg := ""
	var atts []crmclient.Party
	for _, p := range want {
		switch p.Role {
		case org:
			if wantOrg == "" {
				wantOrg = p.Address
			}
		default:
			atts = append(atts, p)
		}
	}
	op := c.Props.Get(ical.PropOrganizer)
	var curOrg string
	var isMail bool
	if op != nil {
		curOrg, isMail = address(op.Value)
	}
	switch {
	case wantOrg == "" && op != nil && isMail:
		delete(c.Props, ical.PropOrganizer)
	case wantOrg != "" && (op == nil || !isMail || !strings.EqualFold(curOrg, wantOrg)):
		c.Props.Set(&ical.Prop{Name: ical.PropOrganizer, Params: ical.Params{}, Value: "mailto:" + wantOrg})
	}

	old := c.Props[ical.PropAttendee]
	role := make([]crmclient.Role, len(old)) // 0: not wanted
	var add []crmclient.Party
	for _, a := range atts {
		found := -1
		for i, p := range old {
			if addr, ok := address(p.Value); ok && role[i] == 0 && strings.EqualFold(addr, a.Address) {
				if found < 0 || attendeeRole(p, req, opt) == a.Role {
					found = i
				}
			}
		}
		if found < 0 {
			add = append(add, a)
			continue
		}
		role[found] = a.Role
	}
	var out []ical.Prop
	for i, p := range old {
		if _, ok := address(p.Value); !ok {
			out = append(out, p)
			continue
		}
		if role[i] == 0 {
			continue
		}
		if attendeeRole(p, req, opt) != role[i] {
			if p.Params == nil {
				p.Params = ical.Params{}
			}
			if role[i] == opt {
				p.Params.Set(ical.ParamRole, "OPT-PARTICIPANT")
			} else {
				p.Params.Set(ical.ParamRole, "REQ-PARTICIPANT")
			}
		}
		out = append(out, p)
	}
	for _, a := range add {
		r := "REQ-PARTICIPANT"
		if a.Role == opt {
			r = "OPT-PARTICIPANT"
		}
		out = append(out, ical.Prop{Name: ical.PropAttendee, Params: ical.Params{ical.ParamRole: {r}}, Value: "mailto:" + a.Address})
	}
	if len(out) == 0 {
		delete(c.Props, ical.PropAttendee)
	} else {
		c.Props[ical.PropAttendee] = out
	}
}
