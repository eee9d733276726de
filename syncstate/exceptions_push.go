package syncstate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
)

// stripRows keeps in outbox rows only the columns keep accepts: a row
// whose create went through becomes an update of what it has left, and a
// row left with nothing goes.
func stripRows(tx *gorm.DB, rows []outboxRow, keep func(col string) bool) error {
	if len(rows) == 0 {
		return nil
	}
	// Read again: an earlier strip may have changed them.
	var fresh []outboxRow
	if err := tx.Where("id IN ?", ids(rows)).Order("id").Find(&fresh).Error; err != nil {
		return err
	}
	for _, r := range fresh {
		if r.Op == opDelete {
			continue
		}
		kind, id, cols, err := DecodeSnapshot(r.Columns)
		if err != nil {
			return err
		}
		n := len(cols)
		for k := range cols {
			if !keep(k) {
				delete(cols, k)
			}
		}
		switch {
		case len(cols) == 0:
			if err := tx.Delete(&outboxRow{}, r.ID).Error; err != nil {
				return err
			}
		case len(cols) < n || r.Op == opCreate:
			x, err := EncodeSnapshot(kind, id, cols)
			if err != nil {
				return err
			}
			if err := tx.Model(&outboxRow{}).Where("id = ?", r.ID).Updates(map[string]any{"columns": x, "op": opUpdate}).Error; err != nil {
				return err
			}
		}
	}
	return nil
}

// errNotExpanded: the CRM has not made the instance yet (it lies beyond
// the CRM's expansion window); the exception waits and is tried again.
var errNotExpanded = errors.New("the CRM has not expanded this occurrence of the series yet")

// pushExceptions sends the pending exceptions of a series' item, once its
// master is in the CRM: each is found among the series' instances by its
// original start and three-way merged with it (the CRM may have changed
// it since the snapshot); what the client wins is written — a PATCH of the
// changed columns of the instance (which makes it an exception), a PATCH
// back to the series' values for an override removed, a DELETE for an
// EXDATE. Each result is recorded in its own transaction (snapshot, outbox,
// object), so a retry after a crash writes only what is still to be
// written, and a PATCH or DELETE repeated is harmless.
func (y *Syncer) pushExceptions(ctx context.Context, db *gorm.DB, itemID int64, as crmclient.User) error {
	rows, err := pendingRows(db, itemID)
	if err != nil || len(rows) == 0 || rows[0].Op != opUpdate {
		return err
	}
	pending, _, err := pendingColumns(rows)
	if err != nil {
		return err
	}
	_, excs := splitExc(pending)
	if len(excs) == 0 {
		return nil
	}
	var idm idmapRow
	if err := db.Where("item_id = ?", itemID).Take(&idm).Error; err != nil {
		return err
	}
	if idm.CRMKind != string(crmclient.RecurringAppointment) {
		// No longer a series: its exceptions went with its rule.
		return stripRows(db, rows, func(c string) bool { return !isExcColumn(c) })
	}
	snap, err := loadSnapshot(db, itemID)
	if err != nil {
		return err
	}
	insts, err := y.crm.Instances(ctx, as, idm.CRMID)
	if err != nil {
		return y.failed(db, rows, err)
	}
	byStart := map[time.Time]crmclient.Record{}
	for _, r := range insts {
		t, err := time.Parse(time.RFC3339, r.Columns["originalstartdate"])
		if err != nil {
			continue
		}
		if cur, ok := byStart[t.UTC()]; ok && cur.Columns["instancetypecode"] == instanceException {
			continue
		}
		byStart[t.UTC()] = r
	}
	var master *crmclient.Record
	var waiting error
	names := make([]string, 0, len(excs))
	for c := range excs {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		t, ok := excTime(c)
		if !ok {
			continue
		}
		want, base := excs[c], snap[c]
		inst, found := byStart[t]
		theirs, at := "", time.Time{}
		if found {
			theirs, at = instanceValue(inst, snap, t), inst.ModifiedOn
		} else {
			if master == nil {
				rec, err := y.crm.Get(ctx, as, crmclient.RecurringAppointment, idm.CRMID)
				if err != nil {
					return y.failed(db, rows, err)
				}
				master = &rec
			}
			if !inDeletedList(master.Columns["deletedexceptionslist"], t) {
				if want != "" && !beyondExpansion(master.Columns, t) {
					// The CRM has expanded this far and has no such
					// occurrence: the client's override or EXDATE names a
					// time the series does not have. It stays in the
					// object, and is not sent again.
					y.log.Error("an exception names no occurrence of the series; kept in the object, not in the CRM",
						"crm_id", idm.CRMID, "instance", t.Format(time.RFC3339))
					if err := db.Transaction(func(tx *gorm.DB) error {
						return stripRows(tx, rows, func(k string) bool { return k != c })
					}); err != nil {
						return err
					}
					continue
				}
				if want == "" {
					if err := y.exceptionDone(db, itemID, rows, c, want, ""); err != nil {
						return err
					}
					continue
				}
				// The others go on; this one waits.
				waiting = errors.Join(waiting, fmt.Errorf("exception %s: %w", t.Format(time.RFC3339), errNotExpanded))
				continue
			}
			theirs, at = excDeleted, master.ModifiedOn
		}
		if theirs != base {
			// The CRM changed this occurrence since the snapshot: the later
			// side takes it.
			m := Merge(crmclient.Columns{c: base}, crmclient.Columns{c: want}, map[string]time.Time{c: latestAccepted(rows, c)},
				crmclient.Columns{c: theirs}, at)
			if _, clientWins := m.ToCRM[c]; !clientWins {
				if err := y.exceptionDone(db, itemID, rows, c, want, theirs); err != nil {
					return err
				}
				continue
			}
		}
		if want == theirs {
			if err := y.exceptionDone(db, itemID, rows, c, want, theirs); err != nil {
				return err
			}
			continue
		}
		if theirs == excDeleted {
			// Dataverse cannot bring a deleted instance back: the
			// deletion stands, and the client's object shows it.
			y.log.Warn("a deleted instance of a series cannot be restored in the CRM; the client's object keeps it deleted",
				"crm_id", idm.CRMID, "instance", t.Format(time.RFC3339))
			if err := y.exceptionDone(db, itemID, rows, c, want, theirs); err != nil {
				return err
			}
			continue
		}
		result := ""
		switch want {
		case excDeleted:
			err = y.crm.Delete(ctx, as, crmclient.Appointment, inst.ID, inst.ETag)
			if errors.Is(err, crmclient.ErrNotFound) {
				err = nil
			}
			result = excDeleted
		default:
			target := occurrence(snap, t)
			if want != "" {
				if target, err = decodeExc(want); err != nil {
					return err
				}
			}
			change := Diff(only(inst.Columns, excCols), target)
			if want != "" && inst.Columns["instancetypecode"] != instanceException {
				change["instancetypecode"] = instanceException
			}
			var rec crmclient.Record
			if rec, err = y.crm.Update(ctx, as, crmclient.Appointment, inst.ID, inst.ETag, change, nil); err == nil {
				result = instanceValue(rec, snap, t)
				if err := db.Save(&instanceRow{CRMID: rec.ID, SeriesID: idm.CRMID, OriginalStart: t}).Error; err != nil {
					return err
				}
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, crmclient.ErrPrecondition), errors.Is(err, crmclient.ErrNotFound):
			// Changed or deleted in the CRM since it was listed: merge
			// again on the next try.
			return y.retryLater(db, rows, err)
		default:
			return y.failed(db, rows, err)
		}
		y.log.Info("pushed exception", "kind", crmclient.Appointment, "crm_id", inst.ID, "instance", t.Format(time.RFC3339), "deleted", want == excDeleted)
		if err := y.exceptionDone(db, itemID, rows, c, want, result); err != nil {
			return err
		}
	}
	if waiting != nil {
		return y.retryLater(db, rows, waiting)
	}
	return nil
}

// beyondExpansion reports whether the occurrence at t may lie beyond what
// the CRM has expanded of the series master so far (Dataverse:
// expansionstatecode 2 is a full expansion; lastexpandedinstancedate is
// how far a partial one went).
func beyondExpansion(master crmclient.Columns, t time.Time) bool {
	if master["expansionstatecode"] == "2" {
		return false
	}
	last, err := time.Parse(time.RFC3339, master["lastexpandedinstancedate"])
	return err != nil || t.After(last)
}

func latestAccepted(rows []outboxRow, c string) time.Time {
	_, at, err := pendingColumns(rows)
	if err != nil {
		return time.Time{}
	}
	return at[c]
}

// exceptionDone records that the CRM holds theirs for exception column c:
// the snapshot takes it, the rows sent stop carrying c, and the object
// takes it unless it is what the client sent or a later change of the
// client's is pending.
func (y *Syncer) exceptionDone(db *gorm.DB, itemID int64, sent []outboxRow, c, sentValue, theirs string) error {
	return db.Transaction(func(tx *gorm.DB) error {
		snap, err := loadSnapshot(tx, itemID)
		if err != nil {
			return err
		}
		snap[c] = theirs
		if err := saveSnapshot(tx, itemID, snap); err != nil {
			return err
		}
		if err := stripRows(tx, sent, func(k string) bool { return k != c }); err != nil {
			return err
		}
		if theirs == sentValue {
			return nil
		}
		later, err := pendingRows(tx, itemID)
		if err != nil {
			return err
		}
		pending, _, err := pendingColumns(later)
		if err != nil {
			return err
		}
		if _, ok := pending[c]; ok {
			return nil
		}
		s, err := y.loadItem(tx, itemID)
		if err != nil {
			return err
		}
		if s.mirror[c] == theirs {
			return nil
		}
		return y.rewrite(tx, s, crmclient.Columns{c: theirs}, "CRM exception of a series applied")
	})
}

// touchesPattern reports whether cols change the recurrence of a series
// (its times or its pattern: the groups of the master's columns).
func touchesPattern(cols crmclient.Columns) bool {
	for _, g := range (icalCodec{}).groups(crmclient.RecurringAppointment) {
		for _, c := range g {
			if _, ok := cols[c]; ok {
				return true
			}
		}
	}
	return false
}

// reapplyExceptions queues the exceptions of a series' object again after
// a new recurrence reached the CRM: Dataverse then deletes the series'
// instances and expands the new pattern ("Update a recurring appointment"),
// so the exceptions the client keeps are written anew into the new
// instances, and the snapshot says the CRM has none.
func (y *Syncer) reapplyExceptions(db *gorm.DB, itemID int64) error {
	return db.Transaction(func(tx *gorm.DB) error {
		s, err := y.loadItem(tx, itemID)
		if err != nil {
			return err
		}
		queue := crmclient.Columns{}
		for k, v := range s.mirror {
			if isExcColumn(k) && v != "" {
				queue[k] = v
			}
		}
		changed := false
		for k, v := range s.snapshot {
			if isExcColumn(k) && v != "" {
				s.snapshot[k], changed = "", true
			}
		}
		if changed {
			if err := saveSnapshot(tx, itemID, s.snapshot); err != nil {
				return err
			}
		}
		if len(queue) == 0 {
			return nil
		}
		return y.st.enqueue(tx, itemID, s.col, s.kind(), opUpdate, s.idm.CRMID, queue, y.st.now().UTC())
	})
}
