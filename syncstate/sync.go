package syncstate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
)

// CRM is what the sync engine needs of the CRM (crmclient.CRM has it).
type CRM interface {
	Changes(ctx context.Context, kind crmclient.Kind, token string) (crmclient.ChangeSet, error)
	Get(ctx context.Context, as crmclient.User, kind crmclient.Kind, id string) (crmclient.Record, error)
	Create(ctx context.Context, as crmclient.User, rec crmclient.Record) (crmclient.Record, error)
	Update(ctx context.Context, as crmclient.User, kind crmclient.Kind, id, etag string, cols crmclient.Columns, parties []crmclient.Party) (crmclient.Record, error)
	Delete(ctx context.Context, as crmclient.User, kind crmclient.Kind, id, etag string) error
	List(ctx context.Context, kind crmclient.Kind, userID string) ([]crmclient.Version, error)
	Parties(ctx context.Context, kind crmclient.Kind, ids []string) (map[string][]crmclient.Party, error)
	Instances(ctx context.Context, as crmclient.User, seriesID string) ([]crmclient.Record, error)
	FindUsers(ctx context.Context, names ...string) ([]crmclient.User, error)
	FindContacts(ctx context.Context, addresses ...string) ([]crmclient.Record, error)
	Addresses(ctx context.Context, partyKind string, ids []string) (map[string]string, error)
}

// SyncOptions tune a Syncer.
type SyncOptions struct {
	// PushDelay is how long a client change waits before it is pushed, so
	// that a burst of PUTs to one item becomes one CRM update (2s).
	PushDelay time.Duration
	// PollInterval is the time between polls of the CRM's change feeds (30s).
	PollInterval time.Duration
	// RetryMin and RetryMax bound the wait before a failed push is tried
	// again (1s, 5m); jitter is added.
	RetryMin, RetryMax time.Duration
	// ChangeRetention is how long deletions stay in the change log for
	// sync-collection clients (30 days); older sync tokens are refused
	// and their clients resync.
	ChangeRetention time.Duration
	// ReconcileInterval is the time between reconciles, which find what
	// the change feeds missed (6h).
	ReconcileInterval time.Duration
	Logger            *slog.Logger
}

// Syncer moves changes between the store and the CRM: the pusher sends the
// outbox, the poller reads the change feeds and merges. One round runs at a
// time.
type Syncer struct {
	st   *Store
	crm  CRM
	opts SyncOptions
	log  *slog.Logger
	kick chan struct{}
	mu   sync.Mutex // one push or poll at a time
	// parties caches what e-mail addresses resolved to (parties.go).
	parties *partyCache
	// migrated: the tables of the Syncer's own (exceptions.go) exist.
	migrated bool
}

// NewSyncer makes a Syncer for st and crm.
func NewSyncer(st *Store, crm CRM, o SyncOptions) *Syncer {
	if o.PushDelay < 0 {
		o.PushDelay = 0
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 30 * time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = time.Second
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(5*time.Minute, o.RetryMin)
	}
	if o.ReconcileInterval <= 0 {
		o.ReconcileInterval = 6 * time.Hour
	}
	if o.ChangeRetention <= 0 {
		o.ChangeRetention = 30 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = st.log
	}
	y := &Syncer{st: st, crm: crm, opts: o, log: o.Logger, kick: make(chan struct{}, 1), parties: newPartyCache()}
	if err := y.ensureTables(st.db); err != nil {
		y.log.Warn("will try again at the next round", "err", err)
	}
	return y
}

// Kick asks the loop to push soon (after the push delay); it never blocks.
func (y *Syncer) Kick() {
	select {
	case y.kick <- struct{}{}:
	default:
	}
}

// Run pushes and polls until ctx is done: a poll every PollInterval, a push
// when kicked (after PushDelay) and when retries fall due. A push in
// progress finishes its current item before Run returns.
func (y *Syncer) Run(ctx context.Context) error {
	poll := time.NewTicker(y.opts.PollInterval)
	defer poll.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	reconcile := time.NewTicker(y.opts.ReconcileInterval)
	defer reconcile.Stop()
	// The push timer is set for the earliest moment something falls due; a
	// kick never postpones it, so steady traffic cannot starve pushes.
	push := time.NewTimer(0)
	defer push.Stop()
	pushAt := time.Now()
	schedule := func(at time.Time) {
		if !pushAt.IsZero() && !at.Before(pushAt) {
			return
		}
		pushAt = at
		push.Reset(max(time.Until(at), 10*time.Millisecond))
	}
	pollNow := make(chan struct{}, 1)
	pollNow <- struct{}{} // a first poll at start
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-pollNow:
		case <-poll.C:
		case <-y.kick:
			schedule(time.Now().Add(y.opts.PushDelay))
			continue
		case <-reconcile.C:
			if err := y.Reconcile(ctx); err != nil && ctx.Err() == nil {
				y.log.Warn("reconcile failed", "err", err)
			}
			continue
		case <-prune.C:
			if err := y.st.PruneChanges(ctx, y.st.now().Add(-y.opts.ChangeRetention)); err != nil && ctx.Err() == nil {
				y.log.Warn("pruning the change log failed", "err", err)
			}
			continue
		case <-push.C:
			pushAt = time.Time{}
			next, err := y.Push(ctx, false)
			if err != nil && ctx.Err() == nil {
				y.log.Warn("push failed", "err", err)
			}
			if !next.IsZero() {
				schedule(next)
			}
			continue
		}
		if err := y.Poll(ctx); err != nil && ctx.Err() == nil {
			y.log.Warn("poll failed", "err", err)
		}
		schedule(time.Now())
	}
}

// Round runs a full round now: a poll of every feed, then a push of every
// pending change, due or not.
func (y *Syncer) Round(ctx context.Context) error {
	if err := y.Poll(ctx); err != nil {
		return err
	}
	_, err := y.Push(ctx, true)
	return err
}

func (y *Syncer) backoff(attempts int) time.Duration {
	d := y.opts.RetryMin << min(attempts-1, 20)
	if d > y.opts.RetryMax || d <= 0 {
		d = y.opts.RetryMax
	}
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

// pendingColumns decodes pending outbox rows into the columns they change
// and when each column was last accepted.
func pendingColumns(rows []outboxRow) (crmclient.Columns, map[string]time.Time, error) {
	cols := crmclient.Columns{}
	at := map[string]time.Time{}
	for _, r := range rows {
		_, _, c, err := DecodeSnapshot(r.Columns)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range c {
			cols[k] = v
			if r.AcceptedAt.After(at[k]) {
				at[k] = r.AcceptedAt
			}
		}
	}
	return cols, at, nil
}

func pendingRows(tx *gorm.DB, itemID int64) ([]outboxRow, error) {
	var rows []outboxRow
	err := tx.Where("item_id = ? AND state = ?", itemID, statePending).Order("id").Find(&rows).Error
	return rows, err
}

// itemState is an item with what the sync needs to know of it.
type itemState struct {
	item     itemRow
	col      collectionRow
	idm      idmapRow
	snapshot crmclient.Columns
	codec    codec
	mirror   crmclient.Columns // the mapped columns of the body
}

// kind is the CRM kind of the record behind the item.
func (s *itemState) kind() crmclient.Kind { return crmclient.Kind(s.idm.CRMKind) }

func (y *Syncer) loadItem(tx *gorm.DB, itemID int64) (*itemState, error) {
	var s itemState
	if err := tx.Where("id = ?", itemID).Take(&s.item).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	if err := tx.Where("id = ?", s.item.CollectionID).Take(&s.col).Error; err != nil {
		return nil, err
	}
	if err := tx.Where("item_id = ?", itemID).Take(&s.idm).Error; err != nil {
		return nil, err
	}
	var snap snapshotRow
	if err := tx.Where("item_id = ?", itemID).Take(&snap).Error; err != nil {
		return nil, err
	}
	var err error
	if _, _, s.snapshot, err = DecodeSnapshot(snap.XML); err != nil {
		return nil, err
	}
	if s.codec, err = codecFor(crmclient.Kind(s.col.Kind)); err != nil {
		return nil, err
	}
	obj, err := s.codec.parse(s.item.Body)
	if err != nil {
		return nil, fmt.Errorf("syncstate: stored body of %s/%s: %w", s.col.Slug, s.item.Href, err)
	}
	s.mirror = obj.cols
	if err := y.upgrade(tx, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// settle records that the CRM holds rec for item s: the snapshot becomes
// rec's mapped columns, the ID map its ETag, and the mirror takes toClient
// (re-rendered into the client's body, so that unmapped properties stay).
func (y *Syncer) settle(tx *gorm.DB, s *itemState, rec crmclient.Record, toClient crmclient.Columns) error {
	theirs := crmColumns(s.codec, rec)
	if hasParties(rec.Kind) {
		theirs[pseudoMark] = "1"
	}
	for k, v := range s.snapshot {
		if isExcColumn(k) && rec.Kind == crmclient.RecurringAppointment {
			theirs[k] = v // exceptions are settled one by one (exceptions.go)
		}
	}
	if _, known := theirs[partiesColumn]; !known && hasParties(rec.Kind) {
		if v, ok := s.snapshot[partiesColumn]; ok {
			theirs[partiesColumn] = v // rec was read without its parties
		}
	}
	snap, err := EncodeSnapshot(rec.Kind, rec.ID, theirs)
	if err != nil {
		return err
	}
	if err := tx.Model(&snapshotRow{}).Where("item_id = ?", s.item.ID).Update("xml", snap).Error; err != nil {
		return err
	}
	if err := tx.Model(&idmapRow{}).Where("item_id = ?", s.item.ID).Update("crm_etag", rec.ETag).Error; err != nil {
		return err
	}
	if len(toClient) == 0 {
		return nil
	}
	return y.rewrite(tx, s, toClient, "CRM change applied")
}

// rewrite gives the item's object the columns toClient, rendered into the
// client's body so that unmapped properties stay, and logs why.
func (y *Syncer) rewrite(tx *gorm.DB, s *itemState, toClient crmclient.Columns, why string) error {
	cols := s.mirror.Clone()
	for k, v := range toClient {
		cols[k] = v
	}
	body, err := s.codec.render(s.kind(), cols, s.item.Body, s.item.UID)
	if err != nil {
		return err
	}
	if bytes.Equal(body, s.item.Body) {
		return nil // a value the client's format cannot carry exactly; nothing changes
	}
	rev, err := y.st.bump(tx, s.col.ID, s.item.Href, false)
	if err != nil {
		return err
	}
	obj, err := s.codec.parse(body)
	if err != nil {
		return fmt.Errorf("syncstate: rendered body of %s/%s: %w", s.col.Slug, s.item.Href, err)
	}
	y.log.Info(why, "user", s.col.Owner, "collection", s.col.Slug, "href", s.item.Href, "crm_id", s.idm.CRMID, "columns", len(toClient))
	return tx.Model(&itemRow{}).Where("id = ?", s.item.ID).Updates(map[string]any{"body": body, "etag": etagOf(body), "revision": rev,
		"start": obj.start, "end": obj.end}).Error
}

// dropColumns removes columns from pending outbox rows of an item (the CRM
// won them); a row left without columns goes.
func dropColumns(tx *gorm.DB, itemID int64, drop crmclient.Columns) error {
	if len(drop) == 0 {
		return nil
	}
	rows, err := pendingRows(tx, itemID)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Op == opDelete {
			continue
		}
		kind, id, cols, err := DecodeSnapshot(r.Columns)
		if err != nil {
			return err
		}
		n := len(cols)
		for k := range drop {
			delete(cols, k)
		}
		switch {
		case len(cols) == n:
		case len(cols) == 0 && r.Op == opUpdate:
			if err := tx.Delete(&outboxRow{}, r.ID).Error; err != nil {
				return err
			}
		default:
			x, err := EncodeSnapshot(kind, id, cols)
			if err != nil {
				return err
			}
			if err := tx.Model(&outboxRow{}).Where("id = ?", r.ID).Update("columns", x).Error; err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteItem removes an item the CRM no longer has in that collection.
func (y *Syncer) deleteItem(tx *gorm.DB, itemID int64, why string) error {
	var it itemRow
	if err := tx.Where("id = ?", itemID).Take(&it).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		return err
	}
	if _, err := y.st.bump(tx, it.CollectionID, it.Href, true); err != nil {
		return err
	}
	if err := tx.Where("item_id = ? AND state = ?", itemID, statePending).Delete(&outboxRow{}).Error; err != nil {
		return err
	}
	y.log.Info("item removed", "href", it.Href, "reason", why)
	return removeItem(tx, itemID)
}
