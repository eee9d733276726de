package democrm

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/teambition/rrule-go"
	"gorm.io/gorm"
)

// Recurring appointments, as "Create a recurring appointment series,
// instance, or exception", "Update a recurring appointment", "Delete or end a
// recurring appointment series or instance" and "Recurring appointment
// partial expansion model" describe them
// (learn.microsoft.com/dynamics365/customerengagement/on-premises/developer/…):
//
//   - Creating a recurringappointmentmaster expands it into appointment rows,
//     its instances: seriesid = the master, instancetypecode 2 (Recurring
//     Instance), originalstartdate = scheduledstart = the occurrence's start,
//     the master's subject, description, location, priority, state, regarding
//     and parties, owned by the master's owner.
//   - The expansion is bounded, as Dataverse's partial expansion is: the
//     occurrences starting within Options.PastExpansion before and
//     Options.FutureExpansion after now (Organization.PastExpansionWindow /
//     FutureExpansionWindow; 12 months each here), at most
//     Options.ExpansionMax of them (RecurrenceExpansionSynchCreateMax; 1000
//     here). Twelve months each way is what calendar clients show and sync
//     (a client asks for a time range around today), and keeps a daily
//     series without end at 731 rows. Dataverse expands the rest later by an
//     asynchronous job; this server does not: expansionstatecode tells 2
//     (full) from 1 (partial). Occurrences are computed in UTC (Dataverse
//     uses the owner's time zone).
//   - Updating an instance makes it an exception: instancetypecode 3
//     (Recurring Exception), unless the body sets instancetypecode.
//   - Deleting an instance "marks it as an exception by creating an entry for
//     the instance in the RecurringAppointmentMaster.DeletedExceptionsList
//     attribute": the master's deletedexceptionslist (read only; its format is
//     internal to Dataverse, here the original starts, RFC 3339 UTC,
//     comma-separated) gets the instance's originalstartdate, which gives
//     the master a new version.
//   - Updating a master's basic information (subject, location, description,
//     priority, state) updates its instances "except those that have
//     exceptions on the same attribute" (an instance whose value differs from
//     the master's old one); new parties replace those of the plain
//     instances.
//   - Updating a master's recurrence information deletes its instances and
//     expands the new pattern (what Dataverse does for a series whose
//     instances all lie in the future; for one with past instances Dataverse
//     ends the old series and starts a new one, which this server does not
//     do); the deleted-exceptions list starts empty.
//   - Deleting a master deletes its instances.
//
// Instance ids are derived from the master's id and the original start
// (a name-based UUID), so that a series expanded again gives the same
// occurrence the same id.

// patternColumns are the recurrence information of a master; a change of
// one re-expands the series.
var patternColumns = []string{"recurrencepatterntype", "interval", "daysofweekmask", "dayofmonth", "instance",
	"monthofyear", "firstdayofweek", "patternstartdate", "patternenddate", "patternendtype", "occurrences",
	"starttime", "endtime", "duration", "isnthmonthly", "isnthyearly", "isweekdaypattern", "isalldayevent"}

// basicColumns are copied from a master to its instances.
var basicColumns = []string{"subject", "description", "location", "prioritycode", "statecode", "statuscode",
	"category", "subcategory", "_regardingobjectid_value", "regardingobjecttypecode"}

// Instance type codes (appointment.instancetypecode).
const (
	instanceNotRecurring = 0
	instanceRecurring    = 2
	instanceException    = 3
)

const seriesEntity = "recurringappointmentmaster"

func fieldString(fs map[string]any, name string) string {
	switch v := fs[name].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func fieldInt(fs map[string]any, name string) (int, bool) {
	n, err := strconv.Atoi(fieldString(fs, name))
	return n, err == nil
}

func fieldTime(fs map[string]any, name string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, fieldString(fs, name))
	return t.UTC(), err == nil
}

// weekdays are rrule's days for daysofweekmask bits (Sunday 0x01 …
// Saturday 0x40).
var weekdays = []rrule.Weekday{rrule.SU, rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA}

func maskDays(mask int, fallback time.Weekday) []rrule.Weekday {
	var out []rrule.Weekday
	for i, d := range weekdays {
		if mask&(1<<i) != 0 {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		out = []rrule.Weekday{weekdays[fallback]}
	}
	return out
}

// seriesRule is the rule of a master's pattern columns, or nil when the
// master has no start or no pattern.
func seriesRule(fs map[string]any) (*rrule.RRule, error) {
	start, ok := fieldTime(fs, "starttime")
	typ, okT := fieldInt(fs, "recurrencepatterntype")
	if !ok || !okT {
		return nil, nil
	}
	o := rrule.ROption{Dtstart: start, Interval: 1}
	if n, ok := fieldInt(fs, "interval"); ok && n > 0 {
		o.Interval = n
	}
	mask, _ := fieldInt(fs, "daysofweekmask")
	nth := func(flag string) bool {
		inst, ok := fieldInt(fs, "instance")
		if fieldString(fs, flag) != "true" || !ok {
			return false
		}
		o.Byweekday = maskDays(mask, start.Weekday())
		if inst == 5 {
			inst = -1
		}
		o.Bysetpos = []int{inst}
		return true
	}
	switch typ {
	case 0:
		o.Freq = rrule.DAILY
		if fieldString(fs, "isweekdaypattern") == "true" {
			o.Byweekday = []rrule.Weekday{rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR}
		}
	case 1:
		o.Freq = rrule.WEEKLY
		o.Byweekday = maskDays(mask, start.Weekday())
	case 2:
		o.Freq = rrule.MONTHLY
		if !nth("isnthmonthly") {
			if d, ok := fieldInt(fs, "dayofmonth"); ok && d > 0 {
				o.Bymonthday = []int{d}
			}
		}
	case 3:
		o.Freq = rrule.YEARLY
		if m, ok := fieldInt(fs, "monthofyear"); ok && m > 0 {
			o.Bymonth = []int{m}
		}
		if !nth("isnthyearly") {
			if d, ok := fieldInt(fs, "dayofmonth"); ok && d > 0 {
				o.Bymonthday = []int{d}
			}
		}
	default:
		return nil, fmt.Errorf("recurrencepatterntype %d", typ)
	}
	if d, ok := fieldInt(fs, "firstdayofweek"); ok && d >= 0 && d < 7 {
		o.Wkst = weekdays[d]
	}
	switch end, _ := fieldInt(fs, "patternendtype"); end {
	case 2:
		if n, ok := fieldInt(fs, "occurrences"); ok && n > 0 {
			o.Count = n
		}
	case 3:
		if t, ok := fieldTime(fs, "patternenddate"); ok {
			o.Until = t.Truncate(24 * time.Hour).Add(24*time.Hour - time.Second)
		}
	}
	return rrule.NewRRule(o)
}

// instanceID is the id of the occurrence of series at start.
func instanceID(series string, start time.Time) string {
	ns, err := uuid.Parse(series)
	if err != nil {
		ns = uuid.Nil
	}
	return uuid.NewSHA1(ns, []byte(start.UTC().Format(time.RFC3339))).String()
}

// expand makes the instances of master within the expansion window and
// records how far it went on the master (which is written again).
func (s *Server) expand(tx *gorm.DB, master *row, now time.Time) error {
	fs := master.fields()
	rule, err := seriesRule(fs)
	if err != nil {
		return errPayload(master.entity, "The recurrence pattern is not valid: %v.", err)
	}
	state := 0
	var last time.Time
	next := any(nil)
	if rule != nil {
		from, to := now.Add(-s.opts.PastExpansion), now.Add(s.opts.FutureExpansion)
		starts := rule.Between(from, to, true)
		state = 2
		if len(starts) > s.opts.ExpansionMax {
			starts, state = starts[:s.opts.ExpansionMax], 1
		}
		if len(starts) > 0 {
			if after := rule.After(starts[len(starts)-1], false); !after.IsZero() {
				state, next = 1, after.UTC().Format(time.RFC3339)
			}
		} else if after := rule.After(to, false); !after.IsZero() {
			state, next = 1, after.UTC().Format(time.RFC3339)
		}
		parties, err := s.partiesIn(tx, master.id)
		if err != nil {
			return err
		}
		dur := time.Duration(0)
		if n, ok := fieldInt(fs, "duration"); ok {
			dur = time.Duration(n) * time.Minute
		} else if end, ok := fieldTime(fs, "endtime"); ok {
			if st, ok := fieldTime(fs, "starttime"); ok {
				dur = end.Sub(st)
			}
		}
		deleted := deletedList(fs)
		appt := s.schema.byName["appointment"]
		for _, t := range starts {
			t = t.UTC()
			last = t
			if slices.Contains(deleted, t.Format(time.RFC3339)) {
				continue
			}
			inst := &row{entity: appt, id: instanceID(master.id, t), owner: master.owner, created: now, modified: now, data: map[string]any{}}
			ifs := inst.fields()
			for _, a := range appt.attrs {
				if a.def != nil {
					ifs[a.readName()] = a.def
				}
			}
			for _, c := range append(basicColumns, "isalldayevent", "_createdby_value", "_modifiedby_value") {
				ifs[c] = fs[c]
			}
			ifs["seriesid"] = master.id
			ifs["instancetypecode"] = json.Number(strconv.Itoa(instanceRecurring))
			ifs["originalstartdate"] = t.Format(time.RFC3339)
			ifs["scheduledstart"] = t.Format(time.RFC3339)
			ifs["scheduledend"] = t.Add(dur).Format(time.RFC3339)
			ifs["scheduleddurationminutes"] = json.Number(strconv.Itoa(int(dur / time.Minute)))
			if err := s.st.put(tx, inst); err != nil {
				return err
			}
			if err := s.writeParties(tx, inst, parties, now); err != nil {
				return err
			}
		}
	}
	fs["expansionstatecode"] = json.Number(strconv.Itoa(state))
	fs["nextexpansioninstancedate"] = next
	fs["lastexpandedinstancedate"] = nil
	if !last.IsZero() {
		fs["lastexpandedinstancedate"] = last.Format(time.RFC3339)
	}
	return s.st.put(tx, master)
}

// deletedList reads a master's deletedexceptionslist.
func deletedList(fs map[string]any) []string {
	v := fieldString(fs, "deletedexceptionslist")
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// partiesIn reads an activity's parties inside tx, as a write would give
// them.
func (s *Server) partiesIn(tx *gorm.DB, id string) ([]partyIn, error) {
	var ms []rowModel
	if err := tx.Where("entity = ? AND ref = ?", "activityparty", id).Order("id").Find(&ms).Error; err != nil {
		return nil, err
	}
	out := make([]partyIn, 0, len(ms))
	for i := range ms {
		r, err := s.st.decode(&ms[i])
		if err != nil {
			return nil, err
		}
		fs := r.fields()
		mask, _ := fieldInt(fs, "participationtypemask")
		out = append(out, partyIn{mask: int64(mask), address: fieldString(fs, "addressused"),
			kind: fieldString(fs, "partyobjecttypecode"), id: fieldString(fs, "_partyid_value")})
	}
	return out, nil
}

// instancesOf reads the instances and exceptions of a series inside tx.
func (s *Server) instancesOf(tx *gorm.DB, series string) ([]*row, error) {
	var ms []rowModel
	// An appointment's Ref is its seriesid (store.put).
	if err := tx.Where("entity = ? AND ref = ?", "appointment", series).Order("id").Find(&ms).Error; err != nil {
		return nil, err
	}
	return s.st.decodeAll(ms)
}

// removeInstances deletes every instance of a series, with their parties,
// leaving tombstones for change tracking.
func (s *Server) removeInstances(tx *gorm.DB, series string, now time.Time) error {
	insts, err := s.instancesOf(tx, series)
	if err != nil {
		return err
	}
	appt := s.schema.byName["appointment"]
	for _, r := range insts {
		if err := s.st.remove(tx, appt, r.id, now); err != nil {
			return err
		}
		if err := tx.Where("entity = ? AND ref = ?", "activityparty", r.id).Delete(&rowModel{}).Error; err != nil {
			return err
		}
	}
	return nil
}

// beforeUpdate adjusts a row about to be written by an update: an instance
// of a series becomes an exception.
func beforeUpdate(cur *row, ch *change) {
	if cur.entity.name != "appointment" {
		return
	}
	fs := cur.fields()
	if fieldString(fs, "seriesid") == "" {
		return
	}
	if _, given := ch.fields["instancetypecode"]; given {
		return
	}
	if n, _ := fieldInt(fs, "instancetypecode"); n == instanceRecurring {
		fs["instancetypecode"] = json.Number(strconv.Itoa(instanceException))
	}
}

// afterUpdate carries a master's update to its series, inside the update's
// transaction; old are the master's fields before the update.
func (s *Server) afterUpdate(tx *gorm.DB, cur *row, old map[string]any, ch *change, now time.Time) error {
	if cur.entity.name != seriesEntity {
		return nil
	}
	fs := cur.fields()
	for _, c := range patternColumns {
		if fieldString(old, c) != fieldString(fs, c) {
			if err := s.removeInstances(tx, cur.id, now); err != nil {
				return err
			}
			fs["deletedexceptionslist"] = nil
			return s.expand(tx, cur, now)
		}
	}
	var changed []string
	for _, c := range basicColumns {
		if fieldString(old, c) != fieldString(fs, c) {
			changed = append(changed, c)
		}
	}
	if len(changed) == 0 && ch.parties == nil {
		return nil
	}
	insts, err := s.instancesOf(tx, cur.id)
	if err != nil {
		return err
	}
	for _, r := range insts {
		ifs := r.fields()
		touched := false
		for _, c := range changed {
			// "except those that have exceptions on the same attribute"
			if fieldString(ifs, c) == fieldString(old, c) {
				ifs[c], touched = fs[c], true
			}
		}
		if touched {
			r.modified = now
			if err := s.st.put(tx, r); err != nil {
				return err
			}
		}
		if n, _ := fieldInt(ifs, "instancetypecode"); ch.parties != nil && n == instanceRecurring {
			if err := s.writeParties(tx, r, ch.parties, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// beforeDelete carries the deletion of a master (its instances go) or of an
// instance (the master's deletedexceptionslist gets it) inside the delete's
// transaction.
func (s *Server) beforeDelete(tx *gorm.DB, e *entity, m *rowModel, now time.Time) error {
	switch e.name {
	case seriesEntity:
		return s.removeInstances(tx, m.ID, now)
	case "appointment":
		r, err := s.st.decode(m)
		if err != nil {
			return err
		}
		fs := r.fields()
		series, orig := fieldString(fs, "seriesid"), fieldString(fs, "originalstartdate")
		if series == "" || orig == "" {
			return nil
		}
		var mm rowModel
		err = tx.Where("entity = ? AND id = ?", seriesEntity, series).Take(&mm).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		master, err := s.st.decode(&mm)
		if err != nil {
			return err
		}
		mfs := master.fields()
		list := deletedList(mfs)
		if slices.Contains(list, orig) {
			return nil
		}
		mfs["deletedexceptionslist"] = strings.Join(append(list, orig), ",")
		master.modified = now
		return s.st.put(tx, master)
	}
	return nil
}
