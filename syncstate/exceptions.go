package syncstate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/mapping"
)

// The exceptions of a recurring series (Dataverse: "Create a recurring
// appointment series, instance, or exception") travel through the same
// snapshot, diff, merge and outbox as the master's columns, each as one
// pseudo-column of the master's item:
//
//	exception:<original start, RFC 3339 UTC>  =  ""        the instance follows the series
//	                                              "deleted" the instance is deleted (EXDATE)
//	                                              "<query>" an overridden instance (RECURRENCE-ID):
//	                                                        its appointment columns, URL-encoded,
//	                                                        sorted ("location=…&scheduledend=…")
//
// So a client's PUT that adds, changes or removes an override or adds an
// EXDATE changes that column; it is in the outbox in the PUT's transaction
// like any column, and pushed, retried and merged like one: an exception
// changed on both sides goes, whole, to the later writer. The CRM's side
// of a column is the instance (an appointment with seriesid, found by its
// originalstartdate): an exception (instancetypecode 3) whose columns are
// not those the series gives the occurrence is an override, a plain
// instance or one with the series' values is "", and an instance deleted
// (its start in the master's deletedexceptionslist) is "deleted".

const (
	excPrefix  = "exception:"
	excDeleted = "deleted"
)

// excCols are the columns of an overridden instance.
var excCols = mapping.ActivityColumns(crmclient.Appointment)

func excColumn(t time.Time) string { return excPrefix + t.UTC().Format(time.RFC3339) }

func isExcColumn(c string) bool { return strings.HasPrefix(c, excPrefix) }

func excTime(c string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, strings.TrimPrefix(c, excPrefix))
	return t.UTC(), err == nil && isExcColumn(c)
}

// encodeExc is the value of an override with cols.
func encodeExc(cols crmclient.Columns) string {
	v := url.Values{}
	for _, c := range excCols {
		v.Set(c, cols[c])
	}
	return v.Encode()
}

func decodeExc(v string) (crmclient.Columns, error) {
	q, err := url.ParseQuery(v)
	if err != nil {
		return nil, fmt.Errorf("%w: exception value %q: %v", ErrInvalid, v, err)
	}
	cols := crmclient.Columns{}
	for _, c := range excCols {
		cols[c] = q.Get(c)
	}
	return cols, nil
}

// exceptionColumns are the pseudo-columns of a body's exceptions.
func exceptionColumns(excs []mapping.Exception) crmclient.Columns {
	out := crmclient.Columns{}
	for _, e := range excs {
		if e.Deleted {
			out[excColumn(e.RecurrenceID)] = excDeleted
		} else {
			out[excColumn(e.RecurrenceID)] = encodeExc(e.Columns)
		}
	}
	return out
}

// splitExc separates the exception pseudo-columns from the others.
func splitExc(cols crmclient.Columns) (plain, exc crmclient.Columns) {
	plain, exc = crmclient.Columns{}, crmclient.Columns{}
	for k, v := range cols {
		if isExcColumn(k) {
			exc[k] = v
		} else {
			plain[k] = v
		}
	}
	return plain, exc
}

// exceptionsOf turns the pseudo-columns of cols back into exceptions for
// rendering; an override keeps the parties it had in prev.
func exceptionsOf(cols crmclient.Columns, prev []mapping.Exception) ([]mapping.Exception, error) {
	parties := map[time.Time][]crmclient.Party{}
	for _, e := range prev {
		parties[e.RecurrenceID.UTC()] = e.Parties
	}
	var out []mapping.Exception
	for k, v := range cols {
		t, ok := excTime(k)
		if !ok || v == "" {
			continue
		}
		if v == excDeleted {
			out = append(out, mapping.Exception{RecurrenceID: t, Deleted: true})
			continue
		}
		c, err := decodeExc(v)
		if err != nil {
			return nil, err
		}
		out = append(out, mapping.Exception{RecurrenceID: t, Columns: c, Parties: parties[t]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RecurrenceID.Before(out[j].RecurrenceID) })
	return out, nil
}

// occurrence is the appointment columns the series (its columns master)
// gives its occurrence at t.
func occurrence(master crmclient.Columns, t time.Time) crmclient.Columns {
	cols := crmclient.Columns{}
	for _, c := range excCols {
		cols[c] = master[c]
	}
	cols["scheduledstart"] = t.UTC().Format(time.RFC3339)
	cols["scheduledend"] = ""
	if n, err := strconv.Atoi(master["duration"]); err == nil {
		cols["scheduledend"] = t.UTC().Add(time.Duration(n) * time.Minute).Format(time.RFC3339)
	}
	return cols
}

// instanceValue is the pseudo-column value of a CRM instance of the series
// whose columns are master.
func instanceValue(rec crmclient.Record, master crmclient.Columns, t time.Time) string {
	if rec.Columns["instancetypecode"] != instanceException {
		return ""
	}
	v := encodeExc(rec.Columns)
	if v == encodeExc(occurrence(master, t)) {
		return "" // an exception with the series' values is no override
	}
	return v
}

// instanceRow remembers each instance of a series the gateway has seen, so
// that a deletion in the change feed, which carries only the id, finds its
// series and original start.
type instanceRow struct {
	CRMID         string    `gorm:"column:crm_id;primaryKey;size:36"`
	SeriesID      string    `gorm:"size:36;not null;index"`
	OriginalStart time.Time `gorm:"not null"`
}

func (instanceRow) TableName() string { return "instances" }

// migrateInstances makes the instances table; the Syncer calls it before
// it polls or pushes.
func migrateInstances(db *gorm.DB) error { return db.AutoMigrate(&instanceRow{}) }

func (y *Syncer) ensureTables(db *gorm.DB) error {
	if y.migrated {
		return nil
	}
	if err := migrateInstances(db); err != nil {
		return fmt.Errorf("syncstate: migrate instances: %w", err)
	}
	y.migrated = true
	return nil
}

// seriesItems are the items of the master of a series, in every
// collection that holds it.
func seriesItems(tx *gorm.DB, series string) ([]int64, error) {
	var ids []int64
	err := tx.Model(&idmapRow{}).Where("crm_kind = ? AND crm_id = ?", string(crmclient.RecurringAppointment), strings.ToLower(series)).
		Pluck("item_id", &ids).Error
	return ids, err
}

// applyInstances brings CRM instances of series (from a change feed or a
// reconcile) into their masters' objects: each instance is remembered, and
// its pseudo-column merged.
func (y *Syncer) applyInstances(tx *gorm.DB, recs []crmclient.Record) error {
	type inst struct {
		rec  crmclient.Record
		orig time.Time
	}
	bySeries := map[string]map[time.Time]inst{}
	every := map[string][]inst{} // all of them, to remember
	for _, rec := range recs {
		orig, err := time.Parse(time.RFC3339, rec.Columns["originalstartdate"])
		if err != nil {
			y.log.Error("CRM series instance without an original start; not applied", "crm_id", rec.ID)
			continue
		}
		orig = orig.UTC()
		series := strings.ToLower(rec.Columns["seriesid"])
		every[series] = append(every[series], inst{rec, orig})
		m := bySeries[series]
		if m == nil {
			m = map[time.Time]inst{}
			bySeries[series] = m
		}
		// Two rows for one occurrence (an exception made beside its
		// instance): the exception tells.
		if cur, ok := m[orig]; ok && cur.rec.Columns["instancetypecode"] == instanceException && rec.Columns["instancetypecode"] != instanceException {
			continue
		}
		m[orig] = inst{rec, orig}
	}
	for series, insts := range bySeries {
		items, err := seriesItems(tx, series)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			continue // a series nobody here holds: nothing to route later
		}
		for _, in := range every[series] {
			if err := tx.Save(&instanceRow{CRMID: in.rec.ID, SeriesID: series, OriginalStart: in.orig}).Error; err != nil {
				return err
			}
		}
		for _, itemID := range items {
			snap, err := loadSnapshot(tx, itemID)
			if err != nil {
				return err
			}
			theirs, at := crmclient.Columns{}, map[string]time.Time{}
			for _, in := range insts {
				c := excColumn(in.orig)
				theirs[c] = instanceValue(in.rec, snap, in.orig)
				at[c] = in.rec.ModifiedOn
			}
			if err := y.mergeExceptions(tx, itemID, theirs, at); err != nil {
				return err
			}
		}
	}
	return nil
}

func loadSnapshot(tx *gorm.DB, itemID int64) (crmclient.Columns, error) {
	var snap snapshotRow
	if err := tx.Where("item_id = ?", itemID).Take(&snap).Error; err != nil {
		return nil, err
	}
	_, _, cols, err := DecodeSnapshot(snap.XML)
	return cols, err
}

// instanceDeletes works out, before the poll's transaction, what the
// deletion of instances in the CRM means for their series' objects: the
// occurrence deleted (its start in the master's deletedexceptionslist) or
// back to the series (the series was expanded again, or the instance
// deleted with its master). It reads each master concerned once.
type instanceDelete struct {
	id, series string
	orig       time.Time
	value      string
	at         time.Time
}

func (y *Syncer) instanceDeletes(ctx context.Context, db *gorm.DB, ids []string) ([]instanceDelete, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []instanceRow
	for start := 0; start < len(ids); start += 500 {
		var part []instanceRow
		if err := db.Where("crm_id IN ?", ids[start:min(start+500, len(ids))]).Find(&part).Error; err != nil {
			return nil, err
		}
		rows = append(rows, part...)
	}
	masters := map[string]*crmclient.Record{}
	var out []instanceDelete
	for _, r := range rows {
		m, seen := masters[r.SeriesID]
		if !seen {
			items, err := seriesItems(db, r.SeriesID)
			if err != nil {
				return nil, err
			}
			if len(items) > 0 {
				rec, err := y.crm.Get(ctx, crmclient.User{}, crmclient.RecurringAppointment, r.SeriesID)
				switch {
				case err == nil:
					m = &rec
				case !errors.Is(err, crmclient.ErrNotFound):
					return nil, err
				}
			}
			masters[r.SeriesID] = m
		}
		d := instanceDelete{id: r.CRMID, series: r.SeriesID, orig: r.OriginalStart}
		if m != nil {
			d.at = m.ModifiedOn
			if inDeletedList(m.Columns["deletedexceptionslist"], r.OriginalStart) {
				d.value = excDeleted
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// missingInstances lists the instances known here that a full read of the
// appointments (recs) does not have.
func missingInstances(db *gorm.DB, recs []crmclient.Record) ([]string, error) {
	have := make(map[string]bool, len(recs))
	for _, r := range recs {
		have[r.ID] = true
	}
	var ids []string
	if err := db.Model(&instanceRow{}).Pluck("crm_id", &ids).Error; err != nil {
		return nil, err
	}
	out := ids[:0]
	for _, id := range ids {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// inDeletedList reports whether a master's deletedexceptionslist names the
// occurrence at t. Dataverse documents the column only as the list of
// deleted instances; the embedded CRM writes RFC 3339 instants separated
// by commas, and any instant that parses counts.
func inDeletedList(list string, t time.Time) bool {
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
		if v, err := time.Parse(time.RFC3339, strings.TrimSpace(f)); err == nil && v.Equal(t) {
			return true
		}
	}
	return false
}

// applyInstanceDeletes merges deletions worked out by instanceDeletes. An
// occurrence another live instance still stands for (expanded again under
// another id) is left alone.
func (y *Syncer) applyInstanceDeletes(tx *gorm.DB, ds []instanceDelete) error {
	for _, d := range ds {
		if err := tx.Where("crm_id = ?", d.id).Delete(&instanceRow{}).Error; err != nil {
			return err
		}
		var others int64
		if err := tx.Model(&instanceRow{}).Where("series_id = ? AND original_start = ?", d.series, d.orig).Count(&others).Error; err != nil {
			return err
		}
		if others > 0 && d.value != excDeleted {
			continue
		}
		items, err := seriesItems(tx, d.series)
		if err != nil {
			return err
		}
		c := excColumn(d.orig)
		for _, itemID := range items {
			if err := y.mergeExceptions(tx, itemID, crmclient.Columns{c: d.value}, map[string]time.Time{c: d.at}); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeExceptions is the three-way merge of exception pseudo-columns of one
// item with the CRM's values theirs (changed at at): the snapshot moves to
// theirs, the client's side keeps what it wins in the outbox, and the
// object takes what the CRM wins.
func (y *Syncer) mergeExceptions(tx *gorm.DB, itemID int64, theirs crmclient.Columns, at map[string]time.Time) error {
	snap, err := loadSnapshot(tx, itemID)
	if err != nil {
		return err
	}
	rows, err := pendingRows(tx, itemID)
	if err != nil {
		return err
	}
	pending, oursAt, err := pendingColumns(rows)
	if err != nil {
		return err
	}
	toClient, drop := crmclient.Columns{}, crmclient.Columns{}
	moved := false
	for c, t := range theirs {
		b := snap[c]
		if t == b {
			continue
		}
		o, has := pending[c]
		if !has {
			o = b
		}
		m := Merge(crmclient.Columns{c: b}, crmclient.Columns{c: o}, map[string]time.Time{c: oursAt[c]}, crmclient.Columns{c: t}, at[c])
		if _, clientWins := m.ToCRM[c]; !clientWins {
			toClient[c] = t
			if has {
				drop[c] = t
			}
		}
		snap[c], moved = t, true
	}
	if !moved {
		return nil
	}
	if err := dropColumns(tx, itemID, drop); err != nil {
		return err
	}
	if err := saveSnapshot(tx, itemID, snap); err != nil {
		return err
	}
	if len(toClient) == 0 {
		return nil
	}
	s, err := y.loadItem(tx, itemID)
	if err != nil {
		return err
	}
	return y.rewrite(tx, s, toClient, "CRM exception of a series applied")
}

func saveSnapshot(tx *gorm.DB, itemID int64, cols crmclient.Columns) error {
	var idm idmapRow
	if err := tx.Where("item_id = ?", itemID).Take(&idm).Error; err != nil {
		return err
	}
	x, err := EncodeSnapshot(crmclient.Kind(idm.CRMKind), idm.CRMID, cols)
	if err != nil {
		return err
	}
	return tx.Model(&snapshotRow{}).Where("item_id = ?", itemID).Update("xml", x).Error
}
