package syncstate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
)

// Push sends the outbox to the CRM, item by item, oldest first. An item is
// due when its last change is PushDelay old (all of them when force) and its
// retry time has come. It returns when the next retry falls due (zero when
// none is waiting). When ctx ends it stops after the current item.
func (y *Syncer) Push(ctx context.Context, force bool) (time.Time, error) {
	y.mu.Lock()
	defer y.mu.Unlock()
	db := y.st.db.WithContext(ctx)
	if err := y.ensureTables(db); err != nil {
		return time.Time{}, err
	}
	now := y.st.now().UTC()
	type due struct {
		ItemID int64
		First  int64
	}
	var items []due
	q := db.Model(&outboxRow{}).Select("item_id, MIN(id) AS first").Where("state = ?", statePending).Group("item_id")
	if !force {
		q = q.Having("MAX(accepted_at) <= ? AND MAX(next_attempt) <= ?", now.Add(-y.opts.PushDelay), now)
	}
	if err := q.Order("first").Scan(&items).Error; err != nil {
		return time.Time{}, err
	}
	var firstErr error
	for _, it := range items {
		// Stopping waits for the item being pushed, not for the rest: the
		// CRM calls of one item run to their end (bounded by the CRM
		// client's timeouts) so that no write is cut off half recorded.
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		if err := y.pushItem(context.WithoutCancel(ctx), it.ItemID); err != nil {
			y.log.Warn("push failed", "item", it.ItemID, "err", err)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	next, err := y.nextDue(db)
	if err != nil {
		return time.Time{}, err
	}
	return next, firstErr
}

// nextDue is when the next pending item falls due: for each item, its
// last change plus the push delay or its retry time, whichever is later.
func (y *Syncer) nextDue(db *gorm.DB) (time.Time, error) {
	var rows []struct {
		ItemID   int64
		Next     string
		Accepted string
	}
	if err := db.Model(&outboxRow{}).Select("item_id, MAX(next_attempt) AS next, MAX(accepted_at) AS accepted").
		Where("state = ?", statePending).Group("item_id").Scan(&rows).Error; err != nil {
		return time.Time{}, err
	}
	var due time.Time
	for _, r := range rows {
		next, err1 := parseSQLiteTime(r.Next)
		accepted, err2 := parseSQLiteTime(r.Accepted)
		if err1 != nil || err2 != nil {
			return time.Time{}, errors.Join(err1, err2)
		}
		d := accepted.Add(y.opts.PushDelay)
		if next.After(d) {
			d = next
		}
		if due.IsZero() || d.Before(due) {
			due = d
		}
	}
	return due, nil
}

func parseSQLiteTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("syncstate: bad time %q", s)
}

// pushItem sends the pending changes of one item as one CRM write.
func (y *Syncer) pushItem(ctx context.Context, itemID int64) error {
	db := y.st.db.WithContext(ctx)
	rows, err := pendingRows(db, itemID)
	if err != nil || len(rows) == 0 {
		return err
	}
	last := rows[len(rows)-1]
	u, err := y.st.user(db, last.ActAs)
	if err != nil {
		return y.reject(db, rows, err)
	}
	as := u.crmUser()
	kind := crmclient.Kind(last.CRMKind)

	// A delete makes earlier changes moot. Client deletions win: the
	// record goes even if the CRM changed it since.
	for i, r := range rows {
		if r.Op != opDelete {
			continue
		}
		err := y.crm.Delete(ctx, as, crmclient.Kind(r.CRMKind), r.CRMID, "")
		if err != nil && !errors.Is(err, crmclient.ErrNotFound) {
			ferr := y.failed(db, rows[:i+1], err)
			if !crmclient.Retryable(err) {
				y.undelete(ctx, db, r, as)
			}
			return ferr
		}
		y.log.Info("pushed delete", "user", u.Name, "kind", r.CRMKind, "crm_id", r.CRMID)
		if err := db.Where("id IN ?", ids(rows[:i+1])).Delete(&outboxRow{}).Error; err != nil {
			return err
		}
		if i+1 < len(rows) {
			// The record was replaced by one of another kind: its
			// create follows now.
			return y.pushItem(ctx, itemID)
		}
		return nil
	}
	kind = crmclient.Kind(rows[0].CRMKind)

	cols, _, err := pendingColumns(rows)
	if err != nil {
		return err
	}
	// The master's columns are one write; its exceptions follow, one
	// write each (exceptions.go).
	cols, _ = splitExc(cols)
	create := rows[0].Op == opCreate
	if len(cols) == 0 && !create {
		return y.pushExceptions(ctx, db, itemID, as)
	}
	for attempt := 0; ; attempt++ {
		// The party list is written through the activity's parties
		// (parties.go), the other columns as they are.
		partyList, writeParties := cols[partiesColumn]
		cols = cols.Clone()
		delete(cols, partiesColumn)
		var parties []crmclient.Party
		if writeParties && hasParties(kind) {
			var current []crmclient.Party
			if !create {
				var idm idmapRow
				if err := db.Where("item_id = ?", itemID).Take(&idm).Error; err != nil {
					return err
				}
				cur, err := y.crm.Get(ctx, as, kind, idm.CRMID)
				if err != nil {
					return y.failed(db, rows, err)
				}
				// The client sees a party without addressused by its
				// record's e-mail: so does the comparison.
				recs := []crmclient.Record{cur}
				if err := y.fillAddresses(ctx, recs); err != nil {
					return y.failed(db, rows, err)
				}
				current = recs[0].Parties
			}
			if parties, err = y.partiesToWrite(ctx, kind, partyList, current); err != nil {
				return y.failed(db, rows, err)
			}
		}
		var rec crmclient.Record
		if create {
			rec, err = y.crm.Create(ctx, as, crmclient.Record{Kind: kind, ID: rows[0].CRMID, Columns: cols, Parties: parties})
			if err == nil {
				// A create that finds its record made by an earlier try
				// (whose answer was lost) returns it as it was then: send
				// what the client changed since.
				later := Diff(only(rec.Columns, colNames(cols)), cols)
				var laterParties []crmclient.Party
				if v, ok := partyValue(rec); ok && writeParties && v != partyList {
					laterParties = parties
				}
				if len(later) > 0 || laterParties != nil {
					rec, err = y.crm.Update(ctx, as, kind, rec.ID, rec.ETag, later, laterParties)
				}
			}
		} else {
			var idm idmapRow
			if err := db.Where("item_id = ?", itemID).Take(&idm).Error; err != nil {
				return err
			}
			rec, err = y.crm.Update(ctx, as, kind, idm.CRMID, idm.CRMETag, cols, parties)
		}
		switch {
		case err == nil:
			y.log.Info("pushed", "user", u.Name, "kind", kind, "crm_id", rec.ID, "create", create, "columns", len(cols))
			if err := y.pushed(db, itemID, rows, rec); err != nil {
				return err
			}
			if !create && kind == crmclient.RecurringAppointment && touchesPattern(cols) {
				if err := y.reapplyExceptions(db, itemID); err != nil {
					return err
				}
			}
			return y.pushExceptions(ctx, db, itemID, as)
		case errors.Is(err, crmclient.ErrPrecondition) && attempt < 3:
			// The CRM changed the record since our snapshot: merge, then
			// send what the client still wins. The rows the merge saw are
			// the rows this push answers for; a PUT after it stays pending.
			cols, rows, err = y.mergeAfterConflict(ctx, db, itemID, as, kind)
			if err != nil {
				return y.failed(db, rows, err)
			}
			if len(rows) == 0 {
				return nil
			}
			cols, _ = splitExc(cols)
			if len(cols) == 0 {
				// Nothing of the master's left that the CRM lacks.
				if err := stripRows(db, rows, isExcColumn); err != nil {
					return err
				}
				return y.pushExceptions(ctx, db, itemID, as)
			}
			create = false
		case errors.Is(err, crmclient.ErrPrecondition):
			// The record keeps changing under us: try again later rather
			// than give the client's change up.
			return y.retryLater(db, rows, err)
		case errors.Is(err, crmclient.ErrNotFound) && !create:
			// Deleted in the CRM meanwhile: the deletion stands.
			return db.Transaction(func(tx *gorm.DB) error { return y.deleteItem(tx, itemID, "deleted in the CRM") })
		default:
			ferr := y.failed(db, rows, err)
			if !crmclient.Retryable(err) {
				y.repair(ctx, db, itemID)
			}
			return ferr
		}
	}
}

func colNames(cols crmclient.Columns) []string {
	out := make([]string, 0, len(cols))
	for k := range cols {
		out = append(out, k)
	}
	return out
}

// undelete brings back an item whose client deletion the CRM refused for
// good: the record lives on in the CRM, so the client gets it again.
func (y *Syncer) undelete(ctx context.Context, db *gorm.DB, r outboxRow, as crmclient.User) {
	rec, err := y.crm.Get(ctx, as, crmclient.Kind(r.CRMKind), r.CRMID)
	if err != nil {
		y.log.Warn("cannot restore an item whose deletion the CRM refused", "crm_id", r.CRMID, "err", err)
		return
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		var col collectionRow
		if err := tx.Where("id = ?", r.CollectionID).Take(&col).Error; err != nil {
			return err
		}
		cd, err := codecFor(crmclient.Kind(col.Kind))
		if err != nil {
			return err
		}
		return y.applyRecord(tx, cd, col, rec)
	})
	if err != nil {
		y.log.Warn("cannot restore an item whose deletion the CRM refused", "crm_id", r.CRMID, "err", err)
	}
}

func ids(rows []outboxRow) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// pushed records a successful write: the rows sent are done (but for
// the exceptions they carry, which are pushed next), and the snapshot, ID
// map and (for columns the CRM normalized) the mirror take what the CRM
// now holds. Columns changed by the client since the rows were read are
// still pending and left alone.
func (y *Syncer) pushed(db *gorm.DB, itemID int64, sent []outboxRow, rec crmclient.Record) error {
	return db.Transaction(func(tx *gorm.DB) error {
		if err := stripRows(tx, sent, isExcColumn); err != nil {
			return err
		}
		s, err := y.loadItem(tx, itemID)
		if errors.Is(err, ErrNotFound) {
			return nil // deleted by the client meanwhile; its delete is queued
		}
		if err != nil {
			return err
		}
		later, err := pendingRows(tx, itemID)
		if err != nil {
			return err
		}
		stillPending, _, err := pendingColumns(later)
		if err != nil {
			return err
		}
		toClient := crmclient.Columns{}
		for c, v := range crmColumns(s.codec, rec) {
			if _, pending := stillPending[c]; !pending && v != s.mirror[c] {
				toClient[c] = v
			}
		}
		return y.settle(tx, s, rec, toClient)
	})
}

// mergeAfterConflict reads the CRM's record, merges it with the item (the
// CRM's side goes to the mirror, the client's stays pending) and returns the
// columns still to be sent and the pending rows they come from, read in the
// merge's transaction.
func (y *Syncer) mergeAfterConflict(ctx context.Context, db *gorm.DB, itemID int64, as crmclient.User, kind crmclient.Kind) (crmclient.Columns, []outboxRow, error) {
	var idm idmapRow
	if err := db.Where("item_id = ?", itemID).Take(&idm).Error; err != nil {
		return nil, nil, err
	}
	rec, err := y.crm.Get(ctx, as, kind, idm.CRMID)
	if err != nil {
		rows, _ := pendingRows(db, itemID)
		return nil, rows, err
	}
	var toCRM crmclient.Columns
	var rows []outboxRow
	err = db.Transaction(func(tx *gorm.DB) error {
		toCRM, rows, err = y.merge(tx, itemID, rec)
		return err
	})
	return toCRM, rows, err
}

// merge is the three-way merge of an item with the CRM's record rec (see
// Merge). base is the snapshot; ours is the snapshot with the pending client
// changes on top (DESIGN.md, Poll), so that a value the client's format
// cannot carry exactly never counts as a client change. The outbox keeps
// only the client's winning columns; the mirror shows the merged record
// except where the client's change is still to be sent; snapshot and ID map
// move to rec. It returns the columns still to be sent to the CRM and the
// pending rows that carry them.
func (y *Syncer) merge(tx *gorm.DB, itemID int64, rec crmclient.Record) (crmclient.Columns, []outboxRow, error) {
	s, err := y.loadItem(tx, itemID)
	if err != nil {
		return nil, nil, err
	}
	rows, err := pendingRows(tx, itemID)
	if err != nil {
		return nil, nil, err
	}
	if len(rows) > 0 && rows[0].Op == opCreate {
		// The CRM has the record, so the create went through (its answer
		// was lost): what it sent is the common base, and it is done
		// (its exceptions are still to be pushed).
		_, _, sent, err := DecodeSnapshot(rows[0].Columns)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range sent {
			if !isExcColumn(k) {
				s.snapshot[k] = v
			}
		}
		if err := stripRows(tx, rows[:1], isExcColumn); err != nil {
			return nil, nil, err
		}
		if rows, err = pendingRows(tx, itemID); err != nil {
			return nil, nil, err
		}
	}
	pending, oursAt, err := pendingColumns(rows)
	if err != nil {
		return nil, nil, err
	}
	ours := s.snapshot.Clone()
	for k, v := range pending {
		ours[k] = v
	}
	theirs := crmColumns(s.codec, rec)
	m := Merge(s.snapshot, ours, oursAt, theirs, rec.ModifiedOn, s.codec.groups(s.kind())...)
	if err := dropColumns(tx, itemID, m.ToClient); err != nil {
		return nil, nil, err
	}
	toClient := crmclient.Columns{}
	for _, c := range colNames(theirs) {
		if _, clientWins := m.ToCRM[c]; !clientWins && s.mirror[c] != m.Columns[c] {
			toClient[c] = m.Columns[c]
		}
	}
	if err := y.settle(tx, s, rec, toClient); err != nil {
		return nil, nil, err
	}
	rows, err = pendingRows(tx, itemID)
	return m.ToCRM, rows, err
}

// failed records a failed push: retried later when the failure is
// temporary, rejected for good otherwise (invariant 6).
func (y *Syncer) failed(db *gorm.DB, rows []outboxRow, err error) error {
	if !crmclient.Retryable(err) {
		return y.reject(db, rows, err)
	}
	return y.retryLater(db, rows, err)
}

func (y *Syncer) retryLater(db *gorm.DB, rows []outboxRow, err error) error {
	if len(rows) == 0 {
		return err
	}
	attempts := rows[len(rows)-1].Attempts + 1
	next := y.st.now().UTC().Add(y.backoff(attempts))
	if uerr := db.Model(&outboxRow{}).Where("id IN ?", ids(rows)).Updates(map[string]any{
		"attempts": attempts, "next_attempt": next, "last_error": err.Error(),
	}).Error; uerr != nil {
		return uerr
	}
	return fmt.Errorf("will retry at %s: %w", next.Format(time.RFC3339), err)
}

// reject marks rows as refused by the CRM for good. They stay in the outbox
// for the status command; the item is brought back in line with the CRM by
// repair.
func (y *Syncer) reject(db *gorm.DB, rows []outboxRow, err error) error {
	y.log.Error("CRM rejected a change", "item", rows[0].ItemID, "crm_id", rows[0].CRMID, "kind", rows[0].CRMKind, "err", err)
	if uerr := db.Model(&outboxRow{}).Where("id IN ?", ids(rows)).Updates(map[string]any{
		"state": stateRejected, "last_error": err.Error(),
	}).Error; uerr != nil {
		return uerr
	}
	// Forget the CRM version: the item is repaired from the CRM (now, or
	// by the next poll if the CRM cannot be read now).
	if uerr := db.Model(&idmapRow{}).Where("item_id = ?", rows[0].ItemID).Update("crm_etag", "").Error; uerr != nil {
		return uerr
	}
	return fmt.Errorf("rejected: %w", err)
}
