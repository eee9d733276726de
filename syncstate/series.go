package syncstate

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/mapping"
)

// Dataverse keeps the changed instances of a recurring series as
// appointments with seriesid (the master), originalstartdate and
// instancetypecode 3 (exception). The client sees them as overridden
// instances (RECURRENCE-ID components) of the master's object.
const instanceException = "3"

// isInstance reports whether rec is an instance or exception of a series.
func isInstance(rec crmclient.Record) bool {
	return rec.Kind == crmclient.Appointment && rec.Columns["seriesid"] != ""
}

// applyInstance brings a CRM exception of a series into the master's
// object in each collection that holds the master. Plain instances
// (unchanged occurrences) need nothing: the rule already says them.
func (y *Syncer) applyInstance(tx *gorm.DB, users map[string][]string, rec crmclient.Record) error {
	if rec.Columns["instancetypecode"] != instanceException {
		return nil
	}
	orig, err := time.Parse(time.RFC3339, rec.Columns["originalstartdate"])
	if err != nil {
		return fmt.Errorf("%w: exception %s has no original start: %v", ErrInvalid, rec.ID, err)
	}
	owners := users[strings.ToLower(rec.Owner)]
	if len(owners) == 0 {
		return nil
	}
	var masters []idmapRow
	err = tx.Joins("JOIN items ON items.id = idmap.item_id").Joins("JOIN collections ON collections.id = items.collection_id").
		Where("idmap.crm_kind = ? AND idmap.crm_id = ? AND collections.owner IN ?", string(crmclient.RecurringAppointment), strings.ToLower(rec.Columns["seriesid"]), owners).
		Find(&masters).Error
	if err != nil {
		return err
	}
	for _, m := range masters {
		if err := y.applyException(tx, m.ItemID, orig.UTC(), only(rec.Columns, mapping.ActivityColumns(crmclient.Appointment))); err != nil {
			return err
		}
	}
	return nil
}

// applyException sets one overridden instance in a master's object.
func (y *Syncer) applyException(tx *gorm.DB, itemID int64, orig time.Time, cols crmclient.Columns) error {
	s, err := y.loadItem(tx, itemID)
	if err != nil {
		return err
	}
	base, err := decodeCalendar(s.item.Body)
	if err != nil {
		return err
	}
	cur, err := mapping.CalendarActivity(base, crmclient.Appointment)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	exc := mapping.Exception{RecurrenceID: orig, Columns: cols}
	excs := make([]mapping.Exception, 0, len(cur.Exceptions)+1)
	replaced := false
	for _, e := range cur.Exceptions {
		if e.RecurrenceID.Equal(orig) {
			exc.Parties = e.Parties
			excs = append(excs, exc)
			replaced = true
			continue
		}
		excs = append(excs, e)
	}
	if !replaced {
		excs = append(excs, exc)
	}
	cal, err := mapping.ActivityCalendar(mapping.Activity{Kind: crmclient.RecurringAppointment, Columns: s.mirror,
		Parties: cur.Parties, Exceptions: excs}, base, s.item.UID)
	if err != nil {
		return fmt.Errorf("%w: render exception of %s: %v", ErrInvalid, s.item.Href, err)
	}
	encodable(cal, nil)
	var b bytes.Buffer
	if err := ical.NewEncoder(&b).Encode(cal); err != nil {
		return fmt.Errorf("%w: render exception of %s: %v", ErrInvalid, s.item.Href, err)
	}
	body := b.Bytes()
	if bytes.Equal(body, s.item.Body) {
		return nil
	}
	obj, err := s.codec.parse(body)
	if err != nil {
		return err
	}
	rev, err := bump(tx, s.col.ID, s.item.Href, false)
	if err != nil {
		return err
	}
	y.log.Info("CRM exception of a series applied", "user", s.col.Owner, "href", s.item.Href, "instance", orig.Format(time.RFC3339))
	return tx.Model(&itemRow{}).Where("id = ?", s.item.ID).Updates(map[string]any{"body": body, "etag": etagOf(body), "revision": rev,
		"start": obj.start, "end": obj.end}).Error
}
