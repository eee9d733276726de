package syncstate

import (
	"bytes"
	"fmt"
	"maps"

	"github.com/emersion/go-ical"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/mapping"
)

// activityCodec is the codec of appointment and e-mail collections:
// icalCodec, plus the parties (organizer and attendees; sender and
// recipients, parties.go) and the exceptions of a recurring series
// (exceptions.go) as pseudo-columns, so that they are diffed, queued,
// pushed and merged like the other columns.
type activityCodec struct{ icalCodec }

func (c activityCodec) parse(body []byte) (object, error) {
	o, a, err := c.icalCodec.parseActivity(body)
	if err != nil {
		return o, err
	}
	o.cols = o.cols.Clone()
	o.cols[partiesColumn] = encodeParties(a.Kind, a.Parties)
	if o.kind == crmclient.RecurringAppointment {
		maps.Copy(o.cols, exceptionColumns(a.Exceptions))
	}
	return o, nil
}

// render writes the columns as icalCodec does and then the party list of
// cols, when it names one, and, for a series, the exceptions cols names: an
// override per non-empty value, an EXDATE per "deleted"; occurrences cols
// does not name as exceptions follow the series.
func (c activityCodec) render(k crmclient.Kind, cols crmclient.Columns, base []byte, uid string) ([]byte, error) {
	plain, exc := splitExc(cols)
	parties, setParties := plain[partiesColumn]
	delete(plain, partiesColumn)
	body, err := c.icalCodec.render(k, plain, base, uid)
	if err != nil {
		return body, err
	}
	cal, err := decodeCalendar(body)
	if err != nil {
		return nil, err
	}
	cur, err := mapping.CalendarActivity(cal, c.family)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	a := mapping.Activity{Kind: k, Columns: plain, Parties: cur.Parties, Exceptions: cur.Exceptions}
	same := true
	if setParties && encodeParties(cur.Kind, cur.Parties) != parties {
		a.Parties, same = decodeParties(parties), false
	}
	// cols without any exception column says nothing of them (a removed
	// exception is a column with an empty value): they stay.
	if k == crmclient.RecurringAppointment && len(exc) > 0 && !maps.Equal(exceptionColumns(cur.Exceptions), nonEmpty(exc)) {
		if a.Exceptions, err = exceptionsOf(exc, cur.Exceptions); err != nil {
			return nil, err
		}
		same = false
	}
	if same {
		return body, nil
	}
	out, err := mapping.ActivityCalendar(a, cal, uid)
	if err != nil {
		return nil, fmt.Errorf("%w: render %s %s: %v", ErrInvalid, k, uid, err)
	}
	encodable(out, plain)
	var b bytes.Buffer
	if err := ical.NewEncoder(&b).Encode(out); err != nil {
		return nil, fmt.Errorf("%w: render %s %s: %v", ErrInvalid, k, uid, err)
	}
	return b.Bytes(), nil
}
