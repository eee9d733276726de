package syncstate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
)

// Reconcile compares every collection with the CRM's list of the records
// that belong to it (ids and versions, no change tracking) and repairs what
// the change feeds missed: records gone from the CRM are deleted, records
// missing or out of date here are read and merged. Unchanged records cost
// nothing but their line in the list (DESIGN.md, Reconcile).
func (y *Syncer) Reconcile(ctx context.Context) error {
	y.mu.Lock()
	defer y.mu.Unlock()
	var cols []collectionRow
	if err := y.st.db.WithContext(ctx).Find(&cols).Error; err != nil {
		return err
	}
	var errs []error
	for _, col := range cols {
		if err := y.reconcile(ctx, col); err != nil {
			errs = append(errs, fmt.Errorf("reconcile %s/%s: %w", col.Owner, col.Slug, err))
		}
	}
	return errors.Join(errs...)
}

func (y *Syncer) reconcile(ctx context.Context, col collectionRow) error {
	db := y.st.db.WithContext(ctx)
	cd, err := codecFor(crmclient.Kind(col.Kind))
	if err != nil {
		return err
	}
	u, err := y.st.user(db, col.Owner)
	if err != nil {
		return err
	}
	theirs := map[string]string{} // id → etag
	for _, k := range kindsOf(crmclient.Kind(col.Kind)) {
		vs, err := y.crm.List(ctx, k, u.CRMUserID)
		if err != nil {
			return err
		}
		for _, v := range vs {
			theirs[string(k)+"/"+v.ID] = v.ETag
		}
	}
	var ours []struct {
		ItemID  int64
		CRMKind string
		CRMID   string
		CRMETag string
	}
	if err := db.Table("idmap").Select("idmap.item_id, idmap.crm_kind, idmap.crm_id, idmap.crm_etag").
		Joins("JOIN items ON items.id = idmap.item_id").Where("items.collection_id = ? AND idmap.crm_etag <> ''", col.ID).
		Scan(&ours).Error; err != nil {
		return err
	}
	known := map[string]string{}
	for _, o := range ours {
		key := o.CRMKind + "/" + o.CRMID
		known[key] = o.CRMETag
		if _, ok := theirs[key]; !ok {
			if err := db.Transaction(func(tx *gorm.DB) error { return y.deleteItem(tx, o.ItemID, "no longer in the CRM (reconcile)") }); err != nil {
				return err
			}
		}
	}
	for key, etag := range theirs {
		if known[key] == etag {
			continue
		}
		kind, id, _ := cutKey(key)
		rec, err := y.crm.Get(ctx, crmclient.User{}, kind, id) // as the application, like the feeds
		if errors.Is(err, crmclient.ErrNotFound) {
			continue // gone since the list
		}
		if err != nil {
			return err
		}
		if err := db.Transaction(func(tx *gorm.DB) error { return y.applyRecord(tx, cd, col, rec) }); err != nil {
			return err
		}
	}
	if crmclient.Kind(col.Kind) == crmclient.Appointment {
		if err := y.reconcileInstances(ctx, db, col); err != nil {
			return err
		}
	}
	return db.Save(&cursorRow{Name: fmt.Sprintf("reconcile:%d", col.ID), Value: "done", UpdatedAt: y.st.now().UTC()}).Error
}

// reconcileInstances repairs what the appointments' feed missed of the
// series in a calendar: List leaves the instances of a series out, so each
// series' instances are read (one request per series) and applied as a
// feed's would be; instances known here and no longer in the CRM are
// deleted as a feed's deletions are.
func (y *Syncer) reconcileInstances(ctx context.Context, db *gorm.DB, col collectionRow) error {
	var series []string
	if err := db.Table("idmap").Joins("JOIN items ON items.id = idmap.item_id").
		Where("items.collection_id = ? AND idmap.crm_kind = ? AND idmap.crm_etag <> ''", col.ID, string(crmclient.RecurringAppointment)).
		Pluck("idmap.crm_id", &series).Error; err != nil {
		return err
	}
	for _, id := range series {
		recs, err := y.crm.Instances(ctx, crmclient.User{}, id) // as the application, like the feeds
		if errors.Is(err, crmclient.ErrNotFound) {
			continue // the series is gone: the reconcile of the masters deletes it
		}
		if err != nil {
			return err
		}
		have := make(map[string]bool, len(recs))
		for _, r := range recs {
			have[strings.ToLower(r.ID)] = true
		}
		var known []string
		if err := db.Model(&instanceRow{}).Where("series_id = ?", strings.ToLower(id)).Pluck("crm_id", &known).Error; err != nil {
			return err
		}
		var gone []string
		for _, k := range known {
			if !have[strings.ToLower(k)] {
				gone = append(gone, k)
			}
		}
		deletes, err := y.instanceDeletes(ctx, db, gone)
		if err != nil {
			return err
		}
		if err := db.Transaction(func(tx *gorm.DB) error {
			if err := y.applyInstances(tx, recs); err != nil {
				return err
			}
			return y.applyInstanceDeletes(tx, deletes)
		}); err != nil {
			return err
		}
	}
	return nil
}

func cutKey(key string) (crmclient.Kind, string, bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return crmclient.Kind(key[:i]), key[i+1:], true
		}
	}
	return "", key, false
}

// kindsOf lists the CRM kinds whose records a collection of kind k holds.
func kindsOf(k crmclient.Kind) []crmclient.Kind {
	if k == crmclient.Appointment {
		return []crmclient.Kind{crmclient.Appointment, crmclient.RecurringAppointment}
	}
	return []crmclient.Kind{k}
}
