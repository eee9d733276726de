package mapping

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-ical"
)

// Errors of CalendarActivity and ActivityCalendar.
var (
	// ErrComponent: the object holds no component of the collection's kind
	// (VEVENT, VTODO, VJOURNAL), holds another kind beside it (RFC 4791
	// §4.1), or only overridden instances without their master.
	ErrComponent = errors.New("mapping: calendar object holds no usable component of the collection's kind")
	// ErrUID: the components of the object carry different UIDs (RFC 4791 §4.1).
	ErrUID = errors.New("mapping: calendar object holds several UIDs")
	// ErrValue: a date, time or duration the mapping needs cannot be read.
	ErrValue = errors.New("mapping: invalid iCalendar value")
	// ErrKind: the kind is not an activity.
	ErrKind = errors.New("mapping: not an activity kind")
)

// Activity is the CRM side of one calendar object resource.
type Activity struct {
	// Kind is Appointment or RecurringAppointment for a VEVENT; Task,
	// PhoneCall, Letter or Fax for a VTODO; Email for a VJOURNAL.
	Kind crmclient.Kind
	// Columns holds every name of ActivityColumns(Kind) ("" = null).
	Columns crmclient.Columns
	// Parties are those of the roles PartyRoles(Kind), with Role and
	// Address; read from a body they never carry PartyKind/PartyID (the
	// caller resolves addresses).
	Parties []crmclient.Party
	// Exceptions are the overridden and deleted instances of a recurring
	// master.
	Exceptions []Exception
	// Start and End are the UTC span the object covers, for the time-range
	// index (RFC 4791 §9.9). A zero Start is unbounded below, a zero End
	// unbounded above (an open recurrence; a to-do without dates).
	Start, End time.Time
	// Approximated says, readably, what of the object the CRM cannot hold
	// and how it was read instead ("" when the columns are exact). The body
	// keeps what the client wrote.
	Approximated string
}

// Exception is one instance of a recurring master that differs from the
// pattern.
type Exception struct {
	RecurrenceID time.Time // original start, UTC
	// Deleted: the instance was removed (EXDATE); Columns and Parties are
	// nil. Dataverse has no writable column for it (deletedexceptionslist is
	// read only): the sync engine deletes the instance's appointment.
	Deleted bool
	Columns crmclient.Columns // ActivityColumns(Appointment)
	Parties []crmclient.Party
}

// Column names outside ActivityColumns that the mapping uses.
const (
	// ModifiedOn, when Activity.Columns carries it, is the DTSTAMP of a
	// CRM-born object (RFC 5545 §3.8.7.2); the mapping reads no clock.
	ModifiedOn = "modifiedon"
)

// Properties of the mapping's own (RFC 5545 §3.8.8.2 non-standard properties).
const (
	propState     = "X-CRMDAV-STATE" // "statecode/statuscode" when STATUS alone does not say them
	propPhone     = "X-CRMDAV-PHONE-NUMBER"
	propDirection = "X-CRMDAV-DIRECTION"
	propAddress   = "X-CRMDAV-ADDRESS"
	propFax       = "X-CRMDAV-FAX-NUMBER"
	propPages     = "X-CRMDAV-PAGES"
)

var (
	eventCols   = []string{"subject", "description", "location", "scheduledstart", "scheduledend", "isalldayevent", "prioritycode", "statecode", "statuscode"}
	masterCols  = append([]string{"subject", "description", "location", "starttime", "endtime", "duration", "patternstartdate", "isalldayevent", "prioritycode", "statecode", "statuscode"}, patternCols...)
	todoCols    = []string{"subject", "description", "scheduledstart", "scheduledend", "actualend", "prioritycode", "statecode", "statuscode"}
	journalCols = []string{"subject", "description", "senton", "statecode", "statuscode"}
	// kindProps are the X-CRMDAV-* properties of the VTODO kinds.
	kindProps = map[crmclient.Kind][][2]string{
		crmclient.PhoneCall: {{"phonenumber", propPhone}, {"directioncode", propDirection}},
		crmclient.Letter:    {{"address", propAddress}, {"directioncode", propDirection}},
		crmclient.Fax:       {{"faxnumber", propFax}, {"numberofpages", propPages}, {"directioncode", propDirection}},
	}
)

// ActivityColumns lists the columns of kind k that the mapping reads and
// writes; nil for a kind that is no activity.
func ActivityColumns(k crmclient.Kind) []string {
	var c []string
	switch k {
	case crmclient.Appointment:
		c = append(c, eventCols...)
	case crmclient.RecurringAppointment:
		c = append(c, masterCols...)
	case crmclient.Task:
		c = append(append(c, todoCols...), "percentcomplete")
	case crmclient.PhoneCall, crmclient.Letter, crmclient.Fax:
		c = append(c, todoCols...)
		for _, kp := range kindProps[k] {
			c = append(c, kp[0])
		}
	case crmclient.Email:
		c = append(c, journalCols...)
	}
	if c != nil {
		c = append(c, Regarding)
	}
	return c
}

// PartyRoles lists the party roles of kind k that the mapping reads and
// writes; the other roles stay on the CRM side.
func PartyRoles(k crmclient.Kind) []crmclient.Role {
	switch k {
	case crmclient.Appointment, crmclient.RecurringAppointment:
		return []crmclient.Role{crmclient.Organizer, crmclient.RequiredAttendee, crmclient.OptionalAttendee}
	case crmclient.Email:
		return []crmclient.Role{crmclient.Sender, crmclient.ToRecipient, crmclient.CCRecipient}
	}
	return nil
}

// componentOf is the component name of kind k's collections.
func componentOf(k crmclient.Kind) string {
	switch k {
	case crmclient.Appointment, crmclient.RecurringAppointment:
		return ical.CompEvent
	case crmclient.Task, crmclient.PhoneCall, crmclient.Letter, crmclient.Fax:
		return ical.CompToDo
	case crmclient.Email:
		return ical.CompJournal
	}
	return ""
}

// calendarComponents are the components RFC 5545 §3.6 lets a calendar object
// resource carry one kind of (RFC 4791 §4.1).
var calendarComponents = map[string]bool{ical.CompEvent: true, ical.CompToDo: true, ical.CompJournal: true, ical.CompFreeBusy: true}

// split returns the master and the overridden instances of the object's
// components named name.
func split(cal *ical.Calendar, name string) (master *ical.Component, overrides []*ical.Component, err error) {
	uid := ""
	for _, c := range cal.Children {
		if !calendarComponents[c.Name] {
			continue
		}
		if c.Name != name {
			return nil, nil, fmt.Errorf("%w: %s in a %s collection", ErrComponent, c.Name, name)
		}
		u := strings.TrimSpace(propValue(c, ical.PropUID))
		if uid == "" {
			uid = u
		} else if u != uid {
			return nil, nil, fmt.Errorf("%w: %q and %q", ErrUID, uid, u)
		}
		if c.Props.Get(ical.PropRecurrenceID) != nil {
			overrides = append(overrides, c)
			continue
		}
		if master != nil {
			return nil, nil, fmt.Errorf("%w: two %s without RECURRENCE-ID", ErrUID, name)
		}
		master = c
	}
	if master == nil {
		return nil, nil, fmt.Errorf("%w: no %s master", ErrComponent, name)
	}
	return master, overrides, nil
}

// CalendarActivity reads a client's calendar object. kind is the collection's
// kind: Appointment (or RecurringAppointment) for a VEVENT collection, Task,
// PhoneCall, Letter or Fax for a VTODO collection, Email for a VJOURNAL one.
// A VEVENT with RRULE gives RecurringAppointment.
func CalendarActivity(cal *ical.Calendar, kind crmclient.Kind) (Activity, error) {
	name := componentOf(kind)
	if name == "" {
		return Activity{}, fmt.Errorf("%w: %q", ErrKind, kind)
	}
	if cal == nil || cal.Component == nil {
		return Activity{}, fmt.Errorf("%w: no calendar", ErrComponent)
	}
	master, overrides, err := split(cal, name)
	if err != nil {
		return Activity{}, err
	}
	r := &reader{zs: newZones(cal.Component)}
	if name == ical.CompEvent {
		kind = crmclient.Appointment
		if master.Props.Get(ical.PropRecurrenceRule) != nil {
			kind = crmclient.RecurringAppointment
		}
	}
	a := Activity{Kind: kind}
	sp := span{}
	if a.Columns, a.Parties, sp, err = r.read(master, kind); err != nil {
		return Activity{}, err
	}
	r.inherit = a.Columns[Regarding]
	switch {
	case kind == crmclient.RecurringAppointment:
		if len(master.Props[ical.PropRecurrenceRule]) > 1 {
			r.note("several RRULEs are not representable; the first is read")
		}
		if len(master.Props["EXRULE"]) > 0 {
			r.note("EXRULE is not representable")
		}
		if len(master.Props[ical.PropRecurrenceDates]) > 0 {
			r.note("RDATE is not representable; the added instances stay in the calendar only")
		}
		ex, err := r.exdates(master)
		if err != nil {
			return Activity{}, err
		}
		for _, t := range ex {
			a.Exceptions = append(a.Exceptions, Exception{RecurrenceID: t, Deleted: true})
		}
		for _, o := range overrides {
			rid, err := r.zs.read(o.Props.Get(ical.PropRecurrenceID))
			if err != nil {
				return Activity{}, err
			}
			if strings.EqualFold(o.Props.Get(ical.PropRecurrenceID).Params.Get(ical.ParamRange), "THISANDFUTURE") {
				r.note("RANGE=THISANDFUTURE is read as one instance")
			}
			cols, parties, osp, err := r.read(o, crmclient.Appointment)
			if err != nil {
				return Activity{}, err
			}
			a.Exceptions = append(a.Exceptions, Exception{RecurrenceID: rid.t, Columns: cols, Parties: parties})
			sp = sp.union(osp)
		}
		sort.SliceStable(a.Exceptions, func(i, j int) bool { return a.Exceptions[i].RecurrenceID.Before(a.Exceptions[j].RecurrenceID) })
	case len(overrides) > 0:
		r.note("overridden instances (RECURRENCE-ID) of a %s are not representable; they stay in the calendar only", name)
	}
	if kind != crmclient.RecurringAppointment && master.Props.Get(ical.PropRecurrenceRule) != nil {
		r.note("a recurring %s is not representable; its RRULE stays in the calendar only", name)
	}
	a.Start, a.End = sp.bounds()
	a.Approximated = strings.Join(r.notes, "; ")
	return a, nil
}

// reader reads the components of one calendar.
type reader struct {
	zs    *zones
	notes []string
	// noSpan skips expanding recurrences for Activity.End: the writer reads
	// components only for their columns.
	noSpan bool
	// inherit is the series' Regarding, which an overridden instance
	// without X-CRMDAV-REGARDING has.
	inherit string
}

func (r *reader) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	for _, n := range r.notes {
		if n == s {
			return
		}
	}
	r.notes = append(r.notes, s)
}

// span is the time a component covers, before widening.
type span struct {
	start, end time.Time
	openStart  bool // unbounded below
	openEnd    bool // unbounded above
	floating   bool // floating or DATE values: the instant depends on the reader's zone
	set        bool
}

func (s span) union(o span) span {
	if !o.set {
		return s
	}
	if !s.set {
		return o
	}
	if o.start.Before(s.start) {
		s.start = o.start
	}
	if o.end.After(s.end) {
		s.end = o.end
	}
	s.openStart = s.openStart || o.openStart
	s.openEnd = s.openEnd || o.openEnd
	s.floating = s.floating || o.floating
	return s
}

// widest is the largest UTC offset in use (UTC−12 to UTC+14): a floating
// time or a DATE (RFC 4791 §9.9) is widened by it on both sides, so that the
// index never misses an object whatever zone a query is in.
const widest = 14 * time.Hour

func (s span) bounds() (start, end time.Time) {
	if !s.set {
		return time.Time{}, time.Time{}
	}
	start, end = s.start, s.end
	if s.floating {
		start, end = start.Add(-widest), end.Add(widest)
	}
	if s.openStart {
		start = time.Time{}
	}
	if s.openEnd {
		end = time.Time{}
	}
	return start, end
}

// read reads one component as kind k.
func (r *reader) read(c *ical.Component, k crmclient.Kind) (crmclient.Columns, []crmclient.Party, span, error) {
	var (
		cols    crmclient.Columns
		parties []crmclient.Party
		sp      span
		err     error
	)
	switch componentOf(k) {
	case ical.CompEvent:
		cols, parties, sp, err = r.event(c, k)
	case ical.CompToDo:
		cols, sp, err = r.todo(c, k)
	default:
		cols, parties, sp, err = r.journal(c)
	}
	if err != nil {
		return nil, nil, span{}, err
	}
	if cols[Regarding], err = r.regarding(c); err != nil {
		return nil, nil, span{}, err
	}
	return cols, parties, sp, nil
}

// prop reads the DATE or DATE-TIME property name; ok is false when absent.
func (r *reader) prop(c *ical.Component, name string) (when, bool, error) {
	p := c.Props.Get(name)
	if p == nil {
		return when{}, false, nil
	}
	w, err := r.zs.read(p)
	if err != nil {
		return when{}, false, err
	}
	switch {
	case w.unknown:
		r.note("TZID %q has no VTIMEZONE; %s read as UTC", w.tzid, name)
	case w.floating && name != ical.PropCompleted:
		r.note("floating %s read as UTC", name)
	}
	return w, true, nil
}

func (r *reader) duration(c *ical.Component) (time.Duration, bool, error) {
	p := c.Props.Get(ical.PropDuration)
	if p == nil {
		return 0, false, nil
	}
	d, err := p.Duration()
	if err != nil {
		return 0, false, fmt.Errorf("%w: DURATION %q", ErrValue, p.Value)
	}
	return d, true, nil
}

// eventTimes reads DTSTART and the end of a VEVENT (DTEND, else DTSTART plus
// DURATION, else a day for a DATE and nothing for a DATE-TIME: RFC 5545
// §3.6.1).
func (r *reader) eventTimes(c *ical.Component) (start, end when, ok bool, err error) {
	start, ok, err = r.prop(c, ical.PropDateTimeStart)
	if err != nil || !ok {
		return when{}, when{}, false, err
	}
	end, hasEnd, err := r.prop(c, ical.PropDateTimeEnd)
	if err != nil {
		return when{}, when{}, false, err
	}
	if !hasEnd {
		end = start
		d, hasDur, err := r.duration(c)
		if err != nil {
			return when{}, when{}, false, err
		}
		switch {
		case hasDur:
			end.t = start.t.Add(d)
		case start.date:
			end.t = start.t.AddDate(0, 0, 1)
		}
	}
	return start, end, true, nil
}

func (r *reader) event(c *ical.Component, k crmclient.Kind) (crmclient.Columns, []crmclient.Party, span, error) {
	cols := crmclient.Columns{
		"subject":     textOf(c, ical.PropSummary),
		"description": textOf(c, ical.PropDescription),
		"location":    textOf(c, ical.PropLocation),
	}
	start, end, ok, err := r.eventTimes(c)
	if err != nil {
		return nil, nil, span{}, err
	}
	cols["isalldayevent"] = strconv.FormatBool(ok && start.date)
	var sp span
	if ok {
		sp = span{start: start.t, end: end.t, floating: start.floating || start.date || start.unknown, set: true}
	}
	if k == crmclient.RecurringAppointment {
		for _, n := range masterCols {
			if _, done := cols[n]; !done {
				cols[n] = ""
			}
		}
		if ok {
			cols["starttime"], cols["endtime"] = columnTime(start.t), columnTime(end.t)
			cols["duration"] = strconv.FormatInt(int64(end.t.Sub(start.t)/time.Minute), 10)
			wall := r.zs.local(start.t, start.form())
			cols["patternstartdate"] = columnTime(truncateDay(wall))
			if p := c.Props.Get(ical.PropRecurrenceRule); p != nil {
				until := func(v string) (time.Time, bool) {
					t, ok := r.untilWall(v, start)
					return truncateDay(t), ok
				}
				for n, v := range patternColumns(p.Value, wall, until, r.note) {
					cols[n] = v
				}
				if r.noSpan {
					sp.openEnd = true
				} else if last, bounded := lastStart(p.Value, wall, func(v string) (time.Time, bool) { return r.untilWall(v, start) }); bounded {
					sp.end = r.zs.utc(last, start.form()).Add(end.t.Sub(start.t))
				} else {
					sp.openEnd = true
				}
			}
			if rd, err := r.rdates(c); err == nil {
				for _, t := range rd {
					if e := t.Add(end.t.Sub(start.t)); e.After(sp.end) {
						sp.end = e
					}
				}
			}
		}
	} else {
		cols["scheduledstart"], cols["scheduledend"] = "", ""
		if ok {
			cols["scheduledstart"], cols["scheduledend"] = columnTime(start.t), columnTime(end.t)
		}
	}
	cols["prioritycode"] = readPriority(c)
	cols["statecode"], cols["statuscode"] = readState(c, k, "")
	return cols, r.parties(c, k), sp, nil
}

// untilWall is the wall-clock time (in DTSTART's form) an UNTIL value
// stands for.
func (r *reader) untilWall(v string, start when) (time.Time, bool) {
	p := &ical.Prop{Name: "UNTIL", Value: v, Params: ical.Params{}}
	if start.tzid != "" && !strings.HasSuffix(strings.ToUpper(v), "Z") && len(v) != len(icalDate) {
		p.Params.Set(ical.ParamTimezoneID, start.tzid)
	}
	w, err := r.zs.read(p)
	if err != nil {
		return time.Time{}, false
	}
	if w.date {
		return w.t.Add(24*time.Hour - time.Second), true
	}
	return r.zs.local(w.t, start.form()), true
}

func truncateDay(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// instants reads the values of the list properties name (EXDATE, RDATE:
// RFC 5545 §3.8.5.1, §3.8.5.2).
func (r *reader) instants(c *ical.Component, name string) ([]time.Time, error) {
	var out []time.Time
	for _, p := range c.Props[name] {
		if strings.EqualFold(p.Params.Get(ical.ParamValue), string(ical.ValuePeriod)) {
			continue
		}
		for _, v := range strings.Split(p.Value, ",") {
			q := ical.Prop{Name: p.Name, Params: p.Params, Value: strings.TrimSpace(v)}
			w, err := r.zs.read(&q)
			if err != nil {
				return nil, err
			}
			out = append(out, w.t)
		}
	}
	return out, nil
}

func (r *reader) exdates(c *ical.Component) ([]time.Time, error) {
	ts, err := r.instants(c, ical.PropExceptionDates)
	if err != nil {
		return nil, err
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	out := ts[:0]
	for i, t := range ts {
		if i == 0 || !t.Equal(ts[i-1]) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (r *reader) rdates(c *ical.Component) ([]time.Time, error) {
	return r.instants(c, ical.PropRecurrenceDates)
}

func (r *reader) todo(c *ical.Component, k crmclient.Kind) (crmclient.Columns, span, error) {
	cols := crmclient.Columns{
		"subject":     textOf(c, ical.PropSummary),
		"description": textOf(c, ical.PropDescription),
	}
	start, hasStart, err := r.prop(c, ical.PropDateTimeStart)
	if err != nil {
		return nil, span{}, err
	}
	due, hasDue, err := r.prop(c, ical.PropDue)
	if err != nil {
		return nil, span{}, err
	}
	dur, hasDur, err := r.duration(c)
	if err != nil {
		return nil, span{}, err
	}
	if !hasDue && hasStart && hasDur {
		due, hasDue = start, true
		due.t = start.t.Add(dur)
	}
	done, hasDone, err := r.prop(c, ical.PropCompleted)
	if err != nil {
		return nil, span{}, err
	}
	cols["scheduledstart"], cols["scheduledend"], cols["actualend"] = "", "", ""
	if hasStart {
		cols["scheduledstart"] = columnTime(start.t)
	}
	if hasDue {
		cols["scheduledend"] = columnTime(due.t)
	}
	if hasDone {
		cols["actualend"] = columnTime(done.t)
	}
	pct := ""
	if k == crmclient.Task {
		pct = readPercent(c)
		cols["percentcomplete"] = pct
	}
	cols["prioritycode"] = readPriority(c)
	cols["statecode"], cols["statuscode"] = readState(c, k, pct)
	for _, kp := range kindProps[k] {
		v := textOf(c, kp[1])
		if kp[1] == propDirection {
			v = readDirection(v)
		}
		cols[kp[0]] = v
	}

	// RFC 4791 §9.9, the VTODO table.
	sp := span{set: true}
	created, hasCreated, _ := r.prop(c, ical.PropCreated)
	switch {
	case hasStart && hasDue:
		sp.start, sp.end = start.t, due.t
		sp.floating = start.floating || start.date || due.floating || due.date
	case hasStart:
		sp.start, sp.end, sp.floating = start.t, start.t, start.floating || start.date
	case hasDue:
		sp.start, sp.end, sp.floating = due.t, due.t, due.floating || due.date
	case hasDone && hasCreated:
		sp.start, sp.end = created.t, done.t
	case hasDone:
		sp.start, sp.end = done.t, done.t
	case hasCreated:
		sp.start, sp.openEnd = created.t, true
	default:
		sp.openStart, sp.openEnd = true, true
	}
	if sp.end.Before(sp.start) {
		sp.end = sp.start
	}
	if c.Props.Get(ical.PropRecurrenceRule) != nil {
		sp.openEnd = true
	}
	return cols, sp, nil
}

func (r *reader) journal(c *ical.Component) (crmclient.Columns, []crmclient.Party, span, error) {
	cols := crmclient.Columns{
		"subject":     textOf(c, ical.PropSummary),
		"description": textOf(c, ical.PropDescription),
		"senton":      "",
	}
	start, ok, err := r.prop(c, ical.PropDateTimeStart)
	if err != nil {
		return nil, nil, span{}, err
	}
	sp := span{openStart: true, openEnd: true, set: true}
	if ok {
		cols["senton"] = columnTime(start.t)
		sp = span{start: start.t, end: start.t, floating: start.floating || start.date, set: true}
		if start.date {
			sp.end = start.t.AddDate(0, 0, 1)
		}
		if c.Props.Get(ical.PropRecurrenceRule) != nil {
			sp.openEnd = true
		}
	}
	cols["statecode"], cols["statuscode"] = readState(c, crmclient.Email, "")
	return cols, r.parties(c, crmclient.Email), sp, nil
}

// Priorities: CRM prioritycode 0 low, 1 normal, 2 high ⇄ RFC 5545 §3.8.1.9
// PRIORITY 9, 5, 1; PRIORITY 1–4 reads as high, 6–9 as low, 0 (undefined)
// and none as null.
func readPriority(c *ical.Component) string {
	p := c.Props.Get(ical.PropPriority)
	if p == nil {
		return ""
	}
	n, err := strconv.Atoi(strings.TrimSpace(p.Value))
	switch {
	case err != nil || n <= 0 || n > 9:
		return ""
	case n < 5:
		return "2"
	case n == 5:
		return "1"
	}
	return "0"
}

func priorityValue(col string) string {
	switch col {
	case "0":
		return "9"
	case "1":
		return "5"
	case "2":
		return "1"
	}
	return ""
}

// readPercent reads PERCENT-COMPLETE (RFC 5545 §3.8.1.8), "" when absent or
// no integer from 0 to 100.
func readPercent(c *ical.Component) string {
	p := c.Props.Get(ical.PropPercentComplete)
	if p == nil {
		return ""
	}
	n, err := strconv.Atoi(strings.TrimSpace(p.Value))
	if err != nil || n < 0 || n > 100 {
		return ""
	}
	return strconv.Itoa(n)
}

// Directions: Dataverse directioncode true (outgoing) / false (incoming).
func readDirection(v string) string {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "OUTGOING":
		return "true"
	case "INCOMING":
		return "false"
	}
	return ""
}

func directionValue(col string) string {
	switch col {
	case "true":
		return "OUTGOING"
	case "false":
		return "INCOMING"
	}
	return ""
}

// parties reads ORGANIZER and ATTENDEE (RFC 5545 §3.8.4.3, §3.8.4.1) with a
// mailto: address; others (urn:uuid:, no scheme) map to no party.
func (r *reader) parties(c *ical.Component, k crmclient.Kind) []crmclient.Party {
	org, req, opt := crmclient.Organizer, crmclient.RequiredAttendee, crmclient.OptionalAttendee
	if k == crmclient.Email {
		org, req, opt = crmclient.Sender, crmclient.ToRecipient, crmclient.CCRecipient
	}
	var out []crmclient.Party
	if p := c.Props.Get(ical.PropOrganizer); p != nil {
		if a, ok := address(p.Value); ok {
			out = append(out, crmclient.Party{Role: org, Address: a})
		}
	}
	for _, p := range c.Props[ical.PropAttendee] {
		if a, ok := address(p.Value); ok {
			out = append(out, crmclient.Party{Role: attendeeRole(p, req, opt), Address: a})
		}
	}
	return out
}

// attendeeRole: ROLE=OPT-PARTICIPANT and NON-PARTICIPANT are optional,
// REQ-PARTICIPANT (the default), CHAIR and anything else required.
func attendeeRole(p ical.Prop, req, opt crmclient.Role) crmclient.Role {
	switch strings.ToUpper(p.Params.Get(ical.ParamRole)) {
	case "OPT-PARTICIPANT", "NON-PARTICIPANT":
		return opt
	}
	return req
}
