package syncstate

import (
	"context"
	"time"
)

// Status is what an operator needs to see of the sync: how much waits to
// be pushed, what the CRM refused (invariant 6), when each feed was read.
type Status struct {
	Users   int
	Items   int
	Pending int // client changes not yet in the CRM
	// Retrying are the pending changes that failed at least once and wait
	// for another try (the CRM down, an exception of an occurrence the
	// CRM has not expanded yet…), with the last error.
	Retrying []Retry
	Rejected []Rejection
	Polled   map[string]time.Time // kind → last successful read of its feed
}

// Rejection is a client change the CRM refused for good.
type Rejection struct {
	User       string
	Collection string
	Href       string // "" when the item is gone
	Op         string
	CRMKind    string
	CRMID      string
	AcceptedAt time.Time
	Error      string
}

// Retry is a client change that failed and waits to be tried again.
type Retry struct {
	Rejection
	Attempts    int
	NextAttempt time.Time
}

// Status reports the state of the sync.
func (s *Store) Status(ctx context.Context) (Status, error) {
	db := s.db.WithContext(ctx)
	var st Status
	var n int64
	if err := db.Model(&userRow{}).Count(&n).Error; err != nil {
		return st, err
	}
	st.Users = int(n)
	if err := db.Model(&itemRow{}).Count(&n).Error; err != nil {
		return st, err
	}
	st.Items = int(n)
	if err := db.Model(&outboxRow{}).Where("state = ?", statePending).Count(&n).Error; err != nil {
		return st, err
	}
	st.Pending = int(n)
	describe := func(r outboxRow) Rejection {
		rej := Rejection{User: r.ActAs, Op: r.Op, CRMKind: r.CRMKind, CRMID: r.CRMID, AcceptedAt: r.AcceptedAt, Error: r.LastError}
		var col collectionRow
		if db.Where("id = ?", r.CollectionID).Limit(1).Find(&col).Error == nil {
			rej.Collection = col.Slug
		}
		var it itemRow
		if db.Select("href").Where("id = ?", r.ItemID).Limit(1).Find(&it).Error == nil {
			rej.Href = it.Href
		}
		return rej
	}
	var rows []outboxRow
	if err := db.Where("state = ?", stateRejected).Order("id").Find(&rows).Error; err != nil {
		return st, err
	}
	for _, r := range rows {
		st.Rejected = append(st.Rejected, describe(r))
	}
	rows = nil
	if err := db.Where("state = ? AND last_error <> ''", statePending).Order("id").Find(&rows).Error; err != nil {
		return st, err
	}
	for _, r := range rows {
		st.Retrying = append(st.Retrying, Retry{Rejection: describe(r), Attempts: r.Attempts, NextAttempt: r.NextAttempt})
	}
	var cursors []cursorRow
	if err := db.Where("name LIKE ?", "delta:%").Find(&cursors).Error; err != nil {
		return st, err
	}
	st.Polled = map[string]time.Time{}
	for _, c := range cursors {
		st.Polled[c.Name[len("delta:"):]] = c.UpdatedAt
	}
	return st, nil
}
