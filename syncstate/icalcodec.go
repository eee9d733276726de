package syncstate

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/mapping"
)

// icalCodec maps activities to iCalendar objects (RFC 5545) of a CalDAV
// collection (RFC 4791 §4.1). family is the collection's kind: Appointment
// (VEVENT; single appointments and recurring masters), Task, PhoneCall,
// Letter, Fax (VTODO), Email (VJOURNAL).
//
// icalCodec synchronizes the columns of mapping.ActivityColumns. For
// appointments and e-mails, activityCodec (activitycodec.go) adds the
// parties (organizer and attendees; sender and recipients) and the
// exceptions of recurring series as pseudo-columns; the parties of to-dos
// (phone calls, letters, faxes) stay in the body the client stored and are
// not written to the CRM.
type icalCodec struct{ family crmclient.Kind }

func (icalCodec) ext() string { return ".ics" }

func (icalCodec) columns(k crmclient.Kind) []string { return mapping.ActivityColumns(k) }

// groups: when (start, end, all day) or a recurrence pattern changed on
// both sides, the later side takes all of it.
func (icalCodec) groups(k crmclient.Kind) [][]string {
	switch k {
	case crmclient.Appointment:
		return [][]string{{"scheduledstart", "scheduledend", "isalldayevent"}}
	case crmclient.RecurringAppointment:
		return [][]string{
			{"starttime", "endtime", "duration", "patternstartdate", "isalldayevent"},
			{"recurrencepatterntype", "interval", "daysofweekmask", "dayofmonth", "instance", "monthofyear",
				"patternendtype", "occurrences", "patternenddate", "isnthmonthly", "isnthyearly", "isweekdaypattern", "firstdayofweek"},
		}
	case crmclient.Task, crmclient.PhoneCall, crmclient.Letter, crmclient.Fax:
		return [][]string{{"scheduledstart", "scheduledend"}}
	}
	return nil
}

func decodeCalendar(body []byte) (*ical.Calendar, error) {
	cal, err := mapping.DecodeCalendar(body)
	if err != nil {
		return nil, fmt.Errorf("%w: not an iCalendar object: %v", ErrInvalid, err)
	}
	return cal, nil
}

func (c icalCodec) parse(body []byte) (object, error) {
	o, _, err := c.parseActivity(body)
	return o, err
}

// parseActivity is parse, and the activity the body maps to.
func (c icalCodec) parseActivity(body []byte) (object, mapping.Activity, error) {
	cal, err := decodeCalendar(body)
	if err != nil {
		return object{}, mapping.Activity{}, err
	}
	a, err := mapping.CalendarActivity(cal, c.family)
	if err != nil {
		return object{}, mapping.Activity{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	uid := ""
	for _, comp := range cal.Children {
		if v := comp.Props.Get(ical.PropUID); v != nil && v.Value != "" {
			uid = v.Value
			break
		}
	}
	if uid == "" {
		return object{}, mapping.Activity{}, fmt.Errorf("%w: the calendar object has no UID (RFC 4791 §4.1)", ErrInvalid)
	}
	o := object{uid: uid, kind: a.Kind, cols: a.Columns, approx: a.Approximated}
	// The span index must never miss what dav's exact rules (RFC 4791
	// §9.9) match. To-dos (DUE before DTSTART, COMPLETED, CREATED…) and
	// objects with RDATE get no span: they are always candidates.
	switch {
	case c.family != crmclient.Appointment, bytes.Contains(body, []byte("RDATE")):
		return o, a, nil
	}
	if !a.Start.IsZero() {
		t := a.Start.UTC()
		o.start = &t
	}
	if !a.End.IsZero() {
		t := a.End.UTC()
		if o.start != nil && t.Before(*o.start) {
			t = *o.start // DTEND before DTSTART: an instant at DTSTART
		}
		o.end = &t
	}
	return o, a, nil
}

func (c icalCodec) render(k crmclient.Kind, cols crmclient.Columns, base []byte, uid string) ([]byte, error) {
	var baseCal *ical.Calendar
	if base != nil {
		cal, err := decodeCalendar(base)
		if err != nil {
			return nil, err
		}
		baseCal = cal
	}
	a := mapping.Activity{Kind: k, Columns: cols}
	if baseCal != nil {
		// Keep parties and exceptions exactly as the client stored them:
		// activityCodec writes those it synchronizes.
		if prev, err := mapping.CalendarActivity(baseCal, c.family); err == nil {
			a.Parties, a.Exceptions = prev.Parties, prev.Exceptions
		}
	}
	cal, err := mapping.ActivityCalendar(a, baseCal, uid)
	if err != nil {
		return nil, fmt.Errorf("%w: render %s %s: %v", ErrInvalid, k, uid, err)
	}
	encodable(cal, cols)
	var b bytes.Buffer
	if err := ical.NewEncoder(&b).Encode(cal); err != nil {
		return nil, fmt.Errorf("%w: render %s %s: %v", ErrInvalid, k, uid, err)
	}
	return b.Bytes(), nil
}

// encodable adds what go-ical's encoder insists on and clients may omit
// (RFC 5545 requires them; scripts and hand-written objects leave them out):
// PRODID on the calendar and DTSTAMP on each component (from the record's
// modifiedon when known, else now). Parameter values holding a DQUOTE,
// which iOS writes (X-APPLE-STRUCTURED-LOCATION;X-TITLE=…"…") and the
// encoder refuses, get it as an apostrophe: the object is re-encoded only
// when the CRM changed it.
func encodable(cal *ical.Calendar, cols crmclient.Columns) {
	if cal.Props.Get(ical.PropProductID) == nil {
		cal.Props.SetText(ical.PropProductID, mapping.ProdID)
	}
	stamp := time.Now().UTC()
	if t, err := time.Parse(time.RFC3339, cols[mapping.ModifiedOn]); err == nil {
		stamp = t
	}
	for _, c := range cal.Children {
		switch c.Name {
		case ical.CompEvent, ical.CompToDo, ical.CompJournal, ical.CompFreeBusy:
			if c.Props.Get(ical.PropDateTimeStamp) == nil {
				c.Props.SetDateTime(ical.PropDateTimeStamp, stamp)
			}
		}
		sanitizeParams(c)
	}
	for _, props := range cal.Props {
		for i := range props {
			dequote(props[i].Params)
		}
	}
}

func sanitizeParams(c *ical.Component) {
	for _, props := range c.Props {
		for i := range props {
			dequote(props[i].Params)
		}
	}
	for _, child := range c.Children {
		sanitizeParams(child)
	}
}

func dequote(params ical.Params) {
	for k, vs := range params {
		for i, v := range vs {
			if strings.ContainsRune(v, '"') {
				params[k][i] = strings.ReplaceAll(v, `"`, "'")
			}
		}
	}
}
