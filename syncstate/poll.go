package syncstate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/mapping"
)

// syncedKinds are the kinds that have collections.
// Recurring masters come before appointments, so that the instances of a
// series new in the CRM find its object.
var syncedKinds = []crmclient.Kind{crmclient.Contact, crmclient.RecurringAppointment, crmclient.Appointment,
	crmclient.Task, crmclient.PhoneCall, crmclient.Letter, crmclient.Fax, crmclient.Email}

// familyOf is the collection kind that holds records of kind k.
func familyOf(k crmclient.Kind) crmclient.Kind {
	if k == crmclient.RecurringAppointment {
		return crmclient.Appointment
	}
	return k
}

// Poll reads the change feed of every synchronized kind once and merges
// what changed into the collections it belongs to.
func (y *Syncer) Poll(ctx context.Context) error {
	y.mu.Lock()
	defer y.mu.Unlock()
	if err := y.ensureTables(y.st.db.WithContext(ctx)); err != nil {
		return err
	}
	// One kind's failure (say, change tracking not enabled for letters)
	// must not stop the others.
	var errs []error
	for _, k := range syncedKinds {
		if err := y.pollKind(ctx, k); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("poll %s: %w", k, err))
		}
	}
	if err := y.repairAll(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// repairAll repairs every item whose CRM version is unknown and which has
// nothing pending: a change of it was refused and it could not be read back
// then.
func (y *Syncer) repairAll(ctx context.Context) error {
	db := y.st.db.WithContext(ctx)
	var itemIDs []int64
	err := db.Model(&idmapRow{}).Where("crm_etag = '' AND item_id NOT IN (SELECT item_id FROM outbox WHERE state = ?)", statePending).
		Pluck("item_id", &itemIDs).Error
	if err != nil {
		return err
	}
	for _, id := range itemIDs {
		y.repair(ctx, db, id)
	}
	return nil
}

// repair brings an item back in line with the CRM after the CRM refused a
// change of it for good (invariant 6): the item takes the CRM's record, or
// goes if the CRM has none (a refused create; the refusal stays listed in
// the status). When the CRM cannot be read now, the next poll tries again.
func (y *Syncer) repair(ctx context.Context, db *gorm.DB, itemID int64) {
	var s struct {
		CRMID, CRMKind, Owner string
	}
	err := db.Table("idmap").Select("idmap.crm_id, idmap.crm_kind, collections.owner").
		Joins("JOIN items ON items.id = idmap.item_id").Joins("JOIN collections ON collections.id = items.collection_id").
		Where("idmap.item_id = ?", itemID).Take(&s).Error
	if err != nil {
		return
	}
	// Read as the application: the record may be someone else's (an
	// appointment the user attends), which the user cannot read alone.
	rec, err := y.crm.Get(ctx, crmclient.User{}, crmclient.Kind(s.CRMKind), s.CRMID)
	switch {
	case errors.Is(err, crmclient.ErrNotFound):
		err = db.Transaction(func(tx *gorm.DB) error { return y.deleteItem(tx, itemID, "the CRM refused to create it") })
	case err == nil:
		err = db.Transaction(func(tx *gorm.DB) error {
			st, err := y.loadItem(tx, itemID)
			if err != nil {
				return err
			}
			theirs := crmColumns(st.codec, rec)
			return y.settle(tx, st, rec, Diff(only(st.mirror, colNames(theirs)), theirs))
		})
	}
	if err != nil {
		y.log.Warn("cannot bring an item back in line with the CRM; will try again", "crm_id", s.CRMID, "err", err)
	}
}

func cursorName(k crmclient.Kind) string { return "delta:" + string(k) }

// pollKind reads one feed since its token. An expired token starts over
// with a full read, which also tells which records are gone.
func (y *Syncer) pollKind(ctx context.Context, k crmclient.Kind) error {
	db := y.st.db.WithContext(ctx)
	var cur cursorRow
	if err := db.Where("name = ?", cursorName(k)).Limit(1).Find(&cur).Error; err != nil {
		return err
	}
	cs, err := y.crm.Changes(ctx, k, cur.Value)
	full := cur.Value == ""
	if errors.Is(err, crmclient.ErrTokenExpired) {
		y.log.Warn("delta token expired; reading everything", "kind", k)
		cs, err = y.crm.Changes(ctx, k, "")
		full = true
	}
	if err != nil {
		return err
	}
	const batch = 200
	for start := 0; start < len(cs.Changed); start += batch {
		part := cs.Changed[start:min(start+batch, len(cs.Changed))]
		if hasParties(k) {
			// A change feed cannot expand the parties: one request for
			// the batch tells which users attend.
			if err := y.addParties(ctx, k, part); err != nil {
				return err
			}
		}
		if err := db.Transaction(func(tx *gorm.DB) error { return y.applyRecords(tx, k, part) }); err != nil {
			return err
		}
	}
	var instDeletes []instanceDelete
	if k == crmclient.Appointment {
		// What a deleted instance means for its series needs the master
		// (its deletedexceptionslist), read before the transaction. A full
		// read lists every instance: the ones known here and not in it
		// are gone.
		gone := cs.Deleted
		if full {
			if gone, err = missingInstances(db, cs.Changed); err != nil {
				return err
			}
		}
		if instDeletes, err = y.instanceDeletes(ctx, db, gone); err != nil {
			return err
		}
	}
	return db.Transaction(func(tx *gorm.DB) error {
		if err := y.applyInstanceDeletes(tx, instDeletes); err != nil {
			return err
		}
		deleted := cs.Deleted
		if full {
			// A full read lists every record; mapped records not in it
			// are gone (a feed's deletions were missed).
			var err error
			if deleted, err = missing(tx, k, cs.Changed); err != nil {
				return err
			}
		}
		for _, id := range deleted {
			if err := y.applyDelete(tx, k, id); err != nil {
				return err
			}
		}
		return tx.Save(&cursorRow{Name: cursorName(k), Value: cs.Token, UpdatedAt: y.st.now().UTC()}).Error
	})
}

// missing lists the CRM ids of kind mapped to items that are not in recs.
// Items whose create is still pending are not missing.
func missing(tx *gorm.DB, k crmclient.Kind, recs []crmclient.Record) ([]string, error) {
	have := make(map[string]bool, len(recs))
	for _, r := range recs {
		have[r.ID] = true
	}
	var rows []idmapRow
	if err := tx.Where("crm_kind = ? AND crm_etag <> ''", string(k)).Find(&rows).Error; err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range rows {
		if !have[r.CRMID] && !seen[r.CRMID] {
			seen[r.CRMID] = true
			out = append(out, r.CRMID)
		}
	}
	return out, nil
}

// addParties reads the parties of changed appointments in one request.
func (y *Syncer) addParties(ctx context.Context, k crmclient.Kind, recs []crmclient.Record) error {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	parties, err := y.crm.Parties(ctx, k, ids)
	if err != nil {
		return err
	}
	for i := range recs {
		recs[i].Parties = parties[recs[i].ID]
		if recs[i].Parties == nil {
			recs[i].Parties = []crmclient.Party{}
		}
	}
	// Parties the CRM keeps without addressused are shown by the e-mail
	// of the record they name.
	return y.fillAddresses(ctx, recs)
}

// targets are the collections a record belongs to: a contact or an
// activity to its owner's collection of that kind; an appointment also to
// the calendars of the users who attend it (organizer, required or
// optional attendee). A user's writes to an appointment they do not own
// are refused by the CRM and the object is brought back in line.
func (y *Syncer) targets(tx *gorm.DB, users map[string][]string, rec crmclient.Record) ([]collectionRow, error) {
	owners := append([]string(nil), users[strings.ToLower(rec.Owner)]...)
	for _, p := range rec.Parties {
		switch p.Role {
		case crmclient.Organizer, crmclient.RequiredAttendee, crmclient.OptionalAttendee:
			if p.PartyKind == "systemuser" {
				owners = append(owners, users[strings.ToLower(p.PartyID)]...)
			}
		}
	}
	if len(owners) == 0 {
		return nil, nil
	}
	if rec.Kind == crmclient.Appointment && rec.Columns["seriesid"] != "" {
		// An instance or exception of a recurring series: it belongs to
		// its master's object (applyInstance).
		return nil, nil
	}
	var cols []collectionRow
	err := tx.Where("owner IN ? AND kind = ?", owners, string(familyOf(rec.Kind))).Find(&cols).Error
	return cols, err
}

func (y *Syncer) applyRecords(tx *gorm.DB, k crmclient.Kind, recs []crmclient.Record) error {
	users, err := y.st.usersByCRMID(tx)
	if err != nil {
		return err
	}
	cd, err := codecFor(familyOf(k))
	if err != nil {
		return err
	}
	var insts []crmclient.Record
	for _, rec := range recs {
		if isInstance(rec) {
			// An instance of a series belongs to its master's object.
			insts = append(insts, rec)
			continue
		}
		cols, err := y.targets(tx, users, rec)
		if err != nil {
			return err
		}
		in := map[int64]bool{}
		for _, c := range cols {
			in[c.ID] = true
			// One record the mapping cannot render must not stop the
			// feed: it is logged, and the reconcile tries it again.
			err := tx.Transaction(func(tx *gorm.DB) error { return y.applyRecord(tx, cd, c, rec) })
			if errors.Is(err, ErrInvalid) {
				y.log.Error("CRM record not applied", "kind", k, "crm_id", rec.ID, "user", c.Owner, "err", err)
				continue
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", k, rec.ID, err)
			}
		}
		// A record that left a collection (reassigned) is a delete there.
		var mapped []idmapRow
		if err := tx.Where("crm_kind = ? AND crm_id = ?", string(k), rec.ID).Find(&mapped).Error; err != nil {
			return err
		}
		for _, m := range mapped {
			var it itemRow
			if err := tx.Where("id = ?", m.ItemID).Take(&it).Error; err != nil {
				return err
			}
			if !in[it.CollectionID] {
				if err := y.deleteItem(tx, it.ID, "left the collection in the CRM"); err != nil {
					return err
				}
			}
		}
	}
	if len(insts) > 0 {
		err := tx.Transaction(func(tx *gorm.DB) error { return y.applyInstances(tx, insts) })
		if errors.Is(err, ErrInvalid) {
			y.log.Error("CRM series instances not applied", "err", err)
			return nil
		}
		return err
	}
	return nil
}

// applyRecord brings one CRM record into one collection: a new item for a
// CRM-born record, a merge for a known one. The gateway's own writes come
// back through the feed with the ETag already recorded and are skipped.
func (y *Syncer) applyRecord(tx *gorm.DB, cd codec, col collectionRow, rec crmclient.Record) error {
	if isInstance(rec) {
		// Found by a reconcile: it belongs to its master's object.
		return y.applyInstances(tx, []crmclient.Record{rec})
	}
	var idm idmapRow
	err := tx.Joins("JOIN items ON items.id = idmap.item_id").
		Where("items.collection_id = ? AND idmap.crm_kind = ? AND idmap.crm_id = ?", col.ID, string(rec.Kind), rec.ID).
		Take(&idm).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		// Not here: CRM-born, unless the client deleted it and the delete
		// is on its way to the CRM.
		var deleting int64
		if err := tx.Model(&outboxRow{}).Where("collection_id = ? AND crm_id = ? AND op = ? AND state = ?", col.ID, rec.ID, opDelete, statePending).
			Count(&deleting).Error; err != nil || deleting > 0 {
			return err
		}
		return y.addItem(tx, cd, col, rec)
	}
	if err != nil {
		return err
	}
	if idm.CRMETag == rec.ETag {
		return nil
	}
	_, _, err = y.merge(tx, idm.ItemID, rec)
	return err
}

// addItem makes the item of a CRM-born record: UID = CRM id, href =
// id + extension, which never change while it lives (invariant 1).
func (y *Syncer) addItem(tx *gorm.DB, cd codec, col collectionRow, rec crmclient.Record) error {
	cols := crmColumns(cd, rec)
	in := cols
	if rec.Kind.IsActivity() && !rec.ModifiedOn.IsZero() {
		// DTSTAMP of a CRM-born object (the mapping reads no clock).
		in = cols.Clone()
		in[mapping.ModifiedOn] = rec.ModifiedOn.UTC().Format(time.RFC3339)
	}
	body, err := cd.render(rec.Kind, in, nil, rec.ID)
	if err != nil {
		return err
	}
	href := rec.ID + cd.ext()
	rev, err := y.st.bump(tx, col.ID, href, false)
	if err != nil {
		return err
	}
	obj, err := cd.parse(body)
	if err != nil {
		return fmt.Errorf("syncstate: rendered body of %s %s: %w", rec.Kind, rec.ID, err)
	}
	item := itemRow{CollectionID: col.ID, Href: href, UID: rec.ID, ETag: etagOf(body), Body: body, Revision: rev, Start: obj.start, End: obj.end}
	if err := tx.Create(&item).Error; err != nil {
		return err
	}
	if err := tx.Create(&idmapRow{ItemID: item.ID, CRMKind: string(rec.Kind), CRMID: rec.ID, CRMETag: rec.ETag}).Error; err != nil {
		return err
	}
	snapCols := cols
	if hasParties(rec.Kind) {
		snapCols = cols.Clone()
		snapCols[pseudoMark] = "1"
	}
	snap, err := EncodeSnapshot(rec.Kind, rec.ID, snapCols)
	if err != nil {
		return err
	}
	return tx.Create(&snapshotRow{ItemID: item.ID, XML: snap}).Error
}

// applyDelete removes the items of a record the CRM deleted.
func (y *Syncer) applyDelete(tx *gorm.DB, k crmclient.Kind, id string) error {
	var mapped []idmapRow
	if err := tx.Where("crm_kind = ? AND crm_id = ?", string(k), id).Find(&mapped).Error; err != nil {
		return err
	}
	for _, m := range mapped {
		if err := y.deleteItem(tx, m.ItemID, "deleted in the CRM"); err != nil {
			return err
		}
	}
	return nil
}

// ForgetCursors drops every delta token: the next poll reads every record
// and finds what the feeds missed, deletions included.
func (s *Store) ForgetCursors(ctx context.Context) error {
	return s.db.WithContext(ctx).Where("name LIKE ?", "delta:%").Delete(&cursorRow{}).Error
}
