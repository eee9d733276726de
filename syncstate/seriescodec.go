package syncstate

import (
	"bytes"
	"fmt"
	"maps"

	"github.com/emersion/go-ical"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/mapping"
)

// eventCodec is the codec of appointment collections: icalCodec, plus the
// exceptions of a recurring series as pseudo-columns (exceptions.go), so
// that they are diffed, queued, pushed and merged like the master's
// columns.
type eventCodec struct{ icalCodec }

func (c eventCodec) parse(body []byte) (object, error) {
	o, err := c.icalCodec.parse(body)
	if err != nil || o.kind != crmclient.RecurringAppointment {
		return o, err
	}
	cal, err := decodeCalendar(body)
	if err != nil {
		return object{}, err
	}
	a, err := mapping.CalendarActivity(cal, c.family)
	if err != nil {
		return object{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	o.cols = o.cols.Clone()
	maps.Copy(o.cols, exceptionColumns(a.Exceptions))
	return o, nil
}

// render writes the master's columns as icalCodec does and then, for a
// series, the exceptions cols names: an override per non-empty value, an
// EXDATE per "deleted"; occurrences cols does not name as exceptions follow
// the series.
func (c eventCodec) render(k crmclient.Kind, cols crmclient.Columns, base []byte, uid string) ([]byte, error) {
	plain, exc := splitExc(cols)
	body, err := c.icalCodec.render(k, plain, base, uid)
	if err != nil || k != crmclient.RecurringAppointment {
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
	if maps.Equal(exceptionColumns(cur.Exceptions), nonEmpty(exc)) {
		return body, nil
	}
	want, err := exceptionsOf(exc, cur.Exceptions)
	if err != nil {
		return nil, err
	}
	out, err := mapping.ActivityCalendar(mapping.Activity{Kind: k, Columns: plain, Parties: cur.Parties, Exceptions: want}, cal, uid)
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
