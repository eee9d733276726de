package syncstate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
)

// Collection is one DAV collection of a user.
type Collection struct {
	ID          int64
	Owner       string
	Slug        string
	Kind        crmclient.Kind
	Revision    int64
	DisplayName string
	Color       string
	Order       int
}

func (r collectionRow) collection() Collection {
	return Collection{ID: r.ID, Owner: r.Owner, Slug: r.Slug, Kind: crmclient.Kind(r.Kind), Revision: r.Revision,
		DisplayName: r.DisplayName, Color: r.Color, Order: r.Order}
}

// Item is one DAV object as the mirror serves it.
type Item struct {
	Href     string // resource name within its collection
	UID      string
	ETag     string // quoted, strong
	Body     []byte
	Revision int64
}

func (r itemRow) item() Item {
	return Item{Href: r.Href, UID: r.UID, ETag: r.ETag, Body: r.Body, Revision: r.Revision}
}

// Conditions are a request's preconditions (RFC 9110 §13.1), header values
// as received; empty when absent.
type Conditions struct {
	IfMatch     string
	IfNoneMatch string
}

// check evaluates the conditions against the current ETag ("" when the
// resource does not exist).
func (c Conditions) check(current string) error {
	if c.IfMatch != "" {
		if current == "" || !etagListHas(c.IfMatch, current) {
			return fmt.Errorf("%w: If-Match %s, resource is %s", ErrPrecondition, c.IfMatch, orNone(current))
		}
	}
	if c.IfNoneMatch != "" && current != "" && etagListHas(c.IfNoneMatch, current) {
		return fmt.Errorf("%w: If-None-Match %s, resource is %s", ErrPrecondition, c.IfNoneMatch, current)
	}
	return nil
}

func orNone(etag string) string {
	if etag == "" {
		return "absent"
	}
	return etag
}

// etagListHas reports whether a header's list of entity tags matches etag
// with strong comparison (RFC 9110 §8.8.3.2); "*" matches any.
func etagListHas(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || (t == etag && !strings.HasPrefix(t, "W/")) {
			return true
		}
	}
	return false
}

// Collections lists a user's collections.
func (s *Store) Collections(ctx context.Context, owner string) ([]Collection, error) {
	var rows []collectionRow
	if err := s.db.WithContext(ctx).Where("owner = ?", owner).Order("\"order\", slug").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Collection, len(rows))
	for i, r := range rows {
		out[i] = r.collection()
	}
	return out, nil
}

// Collection returns one collection of a user (hot.go: from memory when
// it is current).
func (s *Store) Collection(ctx context.Context, owner, slug string) (Collection, error) {
	e, err := s.hotHead(ctx, owner, slug)
	if err != nil {
		return Collection{}, err
	}
	return e.c, nil
}

func (s *Store) collection(tx *gorm.DB, owner, slug string) (collectionRow, error) {
	var row collectionRow
	err := tx.Where("owner = ? AND slug = ?", owner, slug).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return row, fmt.Errorf("%w: collection %s/%s", ErrNotFound, owner, slug)
	}
	return row, err
}

// Get returns one item. It is on the hot path of multiget: one prepared
// statement, no reflection.
func (s *Store) Get(ctx context.Context, owner, slug, href string) (Item, error) {
	var it Item
	err := s.stmtGet.QueryRowContext(noCancel(ctx), owner, slug, href).Scan(&it.Href, &it.UID, &it.ETag, &it.Body, &it.Revision)
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, fmt.Errorf("%w: %s/%s/%s", ErrNotFound, owner, slug, href)
	}
	return it, err
}

// collectionHead is what the read paths need of a collection: its id,
// revision and the revision its change log is pruned to.
type collectionHead struct {
	id, revision, pruned int64
}

// noCancel is ctx for a statement of the read paths: go-sqlite3 runs
// every step of a statement whose context can be cancelled in a goroutine
// of its own (a goroutine and a channel per row), so these statements run
// without cancellation, and the loops over many rows check ctx themselves.
func noCancel(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// head looks a collection up: from memory when current (hot.go), else
// with a prepared statement.
func (s *Store) head(ctx context.Context, owner, slug string) (collectionHead, error) {
	e, err := s.hotHead(ctx, owner, slug)
	if err != nil {
		return collectionHead{}, err
	}
	return collectionHead{id: e.c.ID, revision: e.c.Revision, pruned: e.pruned}, nil
}

// Items calls fn for every item of a collection in href order, streaming
// one query's rows, so that memory does not grow with the collection.
// withBody says whether bodies are needed.
func (s *Store) Items(ctx context.Context, owner, slug string, withBody bool, fn func(Item) error) error {
	col, err := s.head(ctx, owner, slug)
	if err != nil {
		return err
	}
	if withBody {
		return scanItems(ctx, s.stmtListBody, []any{col.id}, itemWithBody, fn)
	}
	return scanItems(ctx, s.stmtList, []any{col.id}, itemFields, fn)
}

// Objects is Items for serving: only the href, ETag and (withBody) body
// of each item are read, which is what a PROPFIND or an initial sync
// writes; the other fields stay zero. Without bodies it answers from the
// collection's cached listing, brought up to date from the change log
// (listing.go).
func (s *Store) Objects(ctx context.Context, owner, slug string, withBody bool, fn func(Item) error) error {
	e, err := s.hotHead(ctx, owner, slug)
	if err != nil {
		return err
	}
	if withBody {
		return scanItems(ctx, s.stmtObjectsBody, []any{e.c.ID}, func(it *Item) []any { return []any{&it.Href, &it.ETag, &it.Body} }, fn)
	}
	l, err := s.listingOf(ctx, e)
	if err != nil {
		return err
	}
	for i, e := range l.entries {
		if i%256 == 255 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(Item{Href: e.href, ETag: e.etag}); err != nil {
			return err
		}
	}
	return nil
}

// objectsChunk is how many items one statement of objectNames lists.
const objectsChunk = 2048

// objectNames lists the hrefs and ETags of a collection in chunks of
// objectsChunk items, each read as one string (stmtObjects): memory stays
// bounded by a chunk, and the cost per item is SQLite's, not a cgo call per
// column. Chunks follow each other by href; an item written meanwhile is
// listed or not, as with any listing that races a write.
func (s *Store) objectNames(ctx context.Context, colID int64, fn func(Item) error) error {
	after := ""
	var entries []Item
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var (
			chunk, last sql.NullString
			n           int
		)
		if err := s.stmtObjects.QueryRowContext(noCancel(ctx), colID, after, objectsChunk).Scan(&chunk, &last, &n); err != nil {
			return err
		}
		var err error
		if entries, err = splitObjectNames(entries[:0], chunk.String); err != nil {
			return err
		}
		if len(entries) != n {
			return fmt.Errorf("syncstate: listing chunk after %q holds %d entries, want %d", after, len(entries), n)
		}
		for _, it := range entries {
			if err := fn(it); err != nil {
				return err
			}
		}
		if n < objectsChunk {
			return nil
		}
		after = last.String
	}
}

// splitObjectNames appends to dst the entries of a chunk of stmtObjects:
// ETag, a quoted string (RFC 9110 §8.8.3: no '"' inside), then href, which
// never holds '/' (validHref); entries are separated by '/'. SQLite
// concatenates them in the subquery's order, by href; should it not, the
// chunk is sorted here, so that the listing is in href order either way.
func splitObjectNames(dst []Item, chunk string) ([]Item, error) {
	sorted := true
	for i := 0; i < len(chunk); {
		q := -1
		if chunk[i] == '"' {
			q = strings.IndexByte(chunk[i+1:], '"')
		}
		if q < 0 {
			return dst, fmt.Errorf("syncstate: malformed listing entry %.60q", chunk[i:])
		}
		h := i + q + 2 // the href's first byte
		e := strings.IndexByte(chunk[h:], '/')
		if e < 0 {
			e = len(chunk) - h
		}
		if e == 0 || h+e+1 == len(chunk) {
			return dst, fmt.Errorf("syncstate: listing entry without href %.60q", chunk[i:])
		}
		it := Item{ETag: chunk[i:h], Href: chunk[h : h+e]}
		if n := len(dst); n > 0 && dst[n-1].Href >= it.Href {
			sorted = false
		}
		dst = append(dst, it)
		i = h + e + 1
	}
	if !sorted {
		slices.SortFunc(dst, func(a, b Item) int { return strings.Compare(a.Href, b.Href) })
	}
	return dst, nil
}

func itemFields(it *Item) []any   { return []any{&it.Href, &it.UID, &it.ETag, &it.Revision} }
func itemWithBody(it *Item) []any { return append(itemFields(it), &it.Body) }

// scanItems runs a prepared query and calls fn for each row, streaming. It
// runs on a context that cannot be cancelled (go-sqlite3 starts a goroutine
// per row otherwise) and checks ctx itself every 256 rows.
func scanItems(ctx context.Context, stmt *sql.Stmt, args []any, fields func(*Item) []any, fn func(Item) error) error {
	rows, err := stmt.QueryContext(noCancel(ctx), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var it Item
	dest := fields(&it)
	for n := 1; rows.Next(); n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		it = Item{}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	return rows.Err()
}

// GetMany calls fn for the items of a collection named by hrefs that
// exist, in the order of hrefs (an href named twice is answered twice). It
// is for serving (multiget): only Href, ETag and Body are set. With the
// collection's listing current, the ETags come from it and the bodies from
// the cache (bodies.go), and only the others are read; else one statement
// reads them all. A collection that does not exist is ErrNotFound.
func (s *Store) GetMany(ctx context.Context, owner, slug string, hrefs []string, fn func(Item) error) error {
	e, err := s.hotHead(ctx, owner, slug)
	if err != nil {
		return err
	}
	if ok, err := s.getManyCached(ctx, e, hrefs, fn); ok {
		return err
	}
	return s.getMany(ctx, e.c.ID, hrefs, func(it Item) error {
		s.bodies.put(it.ETag, it.Body)
		return fn(it)
	})
}

// getMany reads items by href in one statement, in the order of hrefs.
func (s *Store) getMany(ctx context.Context, colID int64, hrefs []string, fn func(Item) error) error {
	if len(hrefs) == 0 {
		return nil
	}
	names, err := json.Marshal(hrefs)
	if err != nil {
		return err
	}
	rows, err := s.stmtGetMany.QueryContext(noCancel(ctx), string(names), colID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.Href, &it.ETag, &it.Body); err != nil {
			return err
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Query calls fn for the items of a collection whose time span may overlap
// [start, end) — zero bounds are open — in no particular order, from the
// span index: items without a known start are always included, and items
// without an end overlap everything after their start (the caller applies
// the exact rules).
func (s *Store) Query(ctx context.Context, owner, slug string, start, end time.Time, withBody bool, fn func(Item) error) error {
	col, err := s.head(ctx, owner, slug)
	if err != nil {
		return err
	}
	// Open bounds as far-off instants, so that one statement, which walks
	// the span index (spanQuery), serves every query.
	lo, hi := start.UTC(), end.UTC()
	if start.IsZero() {
		lo = time.Date(1, 1, 31, 0, 0, 0, 0, time.UTC)
	}
	if end.IsZero() {
		hi = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	args := []any{col.id, hi, lo, lo.Add(-shortSpan)}
	if withBody {
		return scanItems(ctx, s.stmtQueryBody, args, itemWithBody, fn)
	}
	return scanItems(ctx, s.stmtQuery, args, itemFields, fn)
}

// Change is one entry of a collection's change log.
type Change struct {
	Href     string
	Revision int64
	Deleted  bool
	// ETag is the member's current ETag; "" when Deleted.
	ETag string
}

// Changes returns what changed in a collection after revision since, each
// href once with its latest change, in revision order, and the collection's
// current revision. RFC 6578 §3.2: an unknown or pruned revision is
// ErrPrecondition (the client starts over).
func (s *Store) Changes(ctx context.Context, owner, slug string, since int64) ([]Change, int64, error) {
	e, err := s.hotHead(ctx, owner, slug)
	if err != nil {
		return nil, 0, err
	}
	col := collectionHead{id: e.c.ID, revision: e.c.Revision, pruned: e.pruned}
	if since > col.revision || since < 0 {
		return nil, 0, fmt.Errorf("%w: unknown sync revision %d", ErrPrecondition, since)
	}
	if since == 0 {
		// An initial report lists what exists, not what was deleted.
		return s.currentMembers(s.db.WithContext(ctx), collectionRow{ID: col.id, Revision: col.revision})
	}
	if since < col.pruned {
		return nil, 0, fmt.Errorf("%w: sync revision %d is older than the kept changes (%d)", ErrPrecondition, since, col.pruned)
	}
	if out, ok := e.changes(since); ok {
		if out == nil {
			out = []Change{}
		}
		return out, col.revision, nil
	}
	out, err := s.changesAfter(ctx, col.id, since)
	if err != nil {
		return nil, 0, err
	}
	if out == nil {
		out = []Change{}
	}
	return out, col.revision, nil
}

// scanChange reads a row of stmtChanges.
func scanChange(rows *sql.Rows) (Change, error) {
	var (
		c    Change
		etag sql.NullString
	)
	if err := rows.Scan(&c.Href, &c.Revision, &c.Deleted, &etag); err != nil {
		return c, err
	}
	// A member that is gone is deleted, whatever its last change says
	// (the statement reads one state of both tables).
	c.ETag, c.Deleted = etag.String, c.Deleted || !etag.Valid
	if c.Deleted {
		c.ETag = ""
	}
	return c, nil
}

// currentMembers answers Changes from 0 once the log has been pruned: every
// item, with the revision at which it last changed.
func (s *Store) currentMembers(db *gorm.DB, col collectionRow) ([]Change, int64, error) {
	var rows []itemRow
	if err := db.Select("href", "revision", "etag").Where("collection_id = ?", col.ID).Order("revision").Find(&rows).Error; err != nil {
		return nil, 0, err
	}
	out := make([]Change, len(rows))
	for i, r := range rows {
		out[i] = Change{Href: r.Href, Revision: r.Revision, ETag: r.ETag}
	}
	return out, col.Revision, nil
}

// PruneChanges shortens the change log: entries superseded by a later
// change of the same href go at once (they never change an answer), and
// tombstones older than before go too. A sync token from before the newest
// dropped tombstone becomes too old, and its client starts over.
func (s *Store) PruneChanges(ctx context.Context, before time.Time) error {
	db := s.db.WithContext(ctx)
	var cols []collectionRow
	if err := db.Find(&cols).Error; err != nil {
		return err
	}
	const superseded = "revision < (SELECT MAX(c2.revision) FROM changes c2 WHERE c2.collection_id = changes.collection_id AND c2.href = changes.href)"
	for _, col := range cols {
		pruned := false
		err := db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Where("collection_id = ? AND "+superseded, col.ID).Delete(&changeRow{}).Error; err != nil {
				return err
			}
			var maxRev int64
			if err := tx.Model(&changeRow{}).Select("COALESCE(MAX(revision), 0)").
				Where("collection_id = ? AND deleted AND at < ?", col.ID, before).Row().Scan(&maxRev); err != nil {
				return err
			}
			if maxRev <= col.Pruned {
				return nil
			}
			if err := tx.Where("collection_id = ? AND deleted AND revision <= ?", col.ID, maxRev).Delete(&changeRow{}).Error; err != nil {
				return err
			}
			pruned = true
			return tx.Model(&collectionRow{}).Where("id = ?", col.ID).Update("pruned", maxRev).Error
		})
		if pruned {
			s.hot.forget(col.ID) // its pruned revision changed (or the change rolled back)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Props are a collection's client-set display properties; nil fields stay.
type Props struct {
	DisplayName *string
	Color       *string
	Order       *int
}

// SetProps stores display properties a client set on a collection
// (PROPPATCH). They stay in the gateway, and advance the revision so that
// clients see the collection changed.
func (s *Store) SetProps(ctx context.Context, owner, slug string, p Props) error {
	err := s.clientWrite(ctx, func(tx *gorm.DB) error {
		col, err := s.collection(tx, owner, slug)
		if err != nil {
			return err
		}
		up := map[string]any{"revision": gorm.Expr("revision + 1")}
		if p.DisplayName != nil {
			up["display_name"] = *p.DisplayName
		}
		if p.Color != nil {
			up["color"] = *p.Color
		}
		if p.Order != nil {
			up["order"] = *p.Order
		}
		s.hot.noteWrite(col.ID, col.Revision+1)
		return tx.Model(&collectionRow{}).Where("id = ?", col.ID).Updates(up).Error
	})
	if err == nil {
		s.afterClientWrite(ctx, owner, slug)
	}
	return err
}

// bump advances a collection's revision and logs the change of href. The
// revision is noted as pending in the hot state before the transaction
// commits (hot.go).
func (s *Store) bump(tx *gorm.DB, collectionID int64, href string, deleted bool) (int64, error) {
	if err := tx.Model(&collectionRow{}).Where("id = ?", collectionID).UpdateColumn("revision", gorm.Expr("revision + 1")).Error; err != nil {
		return 0, err
	}
	var rev int64
	if err := tx.Model(&collectionRow{}).Where("id = ?", collectionID).Pluck("revision", &rev).Error; err != nil {
		return 0, err
	}
	s.hot.noteWrite(collectionID, rev)
	return rev, tx.Create(&changeRow{CollectionID: collectionID, Revision: rev, Href: href, Deleted: deleted, At: time.Now().UTC()}).Error
}

// clientWrite runs a client's write (PUT, DELETE, PROPPATCH) in one
// transaction, one such write at a time. SQLite lets one writer in at a
// time anyway; queueing here instead of in SQLite's busy handler means that
// concurrent clients wait in line without holding a connection each (with
// its page cache: the memory of 32 concurrent PUTs) and without the busy
// handler's growing sleeps (their p99). A request that goes away stops
// waiting.
func (s *Store) clientWrite(ctx context.Context, fn func(tx *gorm.DB) error) error {
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writer }()
	return s.db.WithContext(ctx).Transaction(fn)
}

// afterClientWrite brings the hot state of a collection a client wrote to
// up to date, so that the client's next request (typically a
// sync-collection report) is answered from memory. A failure is harmless:
// the next read refreshes it.
func (s *Store) afterClientWrite(ctx context.Context, owner, slug string) {
	if _, err := s.refreshHot(ctx, owner, slug); err != nil {
		s.log.Debug("hot state not refreshed after a write", "collection", owner+"/"+slug, "err", err)
	}
}

// validHref reports whether name can be a resource name in a collection.
func validHref(name string) bool {
	return name != "" && len(name) <= 255 && !strings.ContainsAny(name, "/\x00") && name != "." && name != ".."
}

// Put stores a client's object at href in a collection of owner: checks
// the preconditions, turns the body into changed columns and, in one
// transaction, writes the mirror, the change log and the outbox
// (invariant 3). It returns the new ETag and whether the object was
// created.
func (s *Store) Put(ctx context.Context, owner, slug, href string, body []byte, cond Conditions) (string, bool, error) {
	if !validHref(href) {
		return "", false, fmt.Errorf("%w: resource name %q", ErrInvalid, href)
	}
	db := s.db.WithContext(ctx)
	col, err := s.collection(db, owner, slug)
	if err != nil {
		return "", false, err
	}
	cd, err := codecFor(crmclient.Kind(col.Kind))
	if err != nil {
		return "", false, err
	}
	obj, err := cd.parse(body)
	if err != nil {
		return "", false, err
	}
	uid, cols := obj.uid, obj.cols
	etag := etagOf(body)
	now := s.now().UTC()
	created := false
	err = s.clientWrite(ctx, func(tx *gorm.DB) error {
		var cur itemRow
		err := tx.Where("collection_id = ? AND href = ?", col.ID, href).Take(&cur).Error
		exists := err == nil
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		if err := cond.check(cur.ETag); err != nil {
			return err
		}
		var other int64
		if err := tx.Model(&itemRow{}).Where("collection_id = ? AND uid = ? AND href <> ?", col.ID, uid, href).Count(&other).Error; err != nil {
			return err
		}
		if other > 0 {
			return fmt.Errorf("%w: UID %q is used by another resource of the collection", ErrConflict, uid)
		}
		if exists && cur.UID != uid {
			return fmt.Errorf("%w: the UID of %s cannot change", ErrConflict, href)
		}
		rev, err := s.bump(tx, col.ID, href, false)
		if err != nil {
			return err
		}
		if !exists {
			created = true
			item := itemRow{CollectionID: col.ID, Href: href, UID: uid, ETag: etag, Body: body, Revision: rev, Start: obj.start, End: obj.end}
			if err := tx.Create(&item).Error; err != nil {
				return err
			}
			crmID := uuid.NewString() // chosen before the first try: a retried create is idempotent
			if err := tx.Create(&idmapRow{ItemID: item.ID, CRMKind: string(obj.kind), CRMID: crmID}).Error; err != nil {
				return err
			}
			empty, err := EncodeSnapshot(obj.kind, crmID, nil)
			if err != nil {
				return err
			}
			if err := tx.Create(&snapshotRow{ItemID: item.ID, XML: empty}).Error; err != nil {
				return err
			}
			return s.enqueue(tx, item.ID, col, obj.kind, opCreate, crmID, nonEmpty(cols), now)
		}
		prev, err := cd.parse(cur.Body)
		if err != nil {
			return err
		}
		var idm idmapRow
		if err := tx.Where("item_id = ?", cur.ID).Take(&idm).Error; err != nil {
			return err
		}
		if err := tx.Model(&itemRow{}).Where("id = ?", cur.ID).Updates(map[string]any{"etag": etag, "body": body, "revision": rev, "start": obj.start, "end": obj.end}).Error; err != nil {
			return err
		}
		if string(obj.kind) != idm.CRMKind {
			// The object changed kind in the CRM's terms (a client made an
			// appointment repeat, or a series single): the old record goes
			// and a new one of the other kind is made, as one change.
			return s.rekind(tx, cur.ID, col, idm, obj, now)
		}
		changed := Diff(prev.cols, cols)
		if len(changed) == 0 {
			return nil // only properties the CRM has no column for changed
		}
		return s.enqueue(tx, cur.ID, col, obj.kind, opUpdate, idm.CRMID, changed, now)
	})
	if err != nil {
		return "", false, err
	}
	s.afterClientWrite(ctx, owner, slug)
	s.log.Info("client change accepted", "user", owner, "collection", slug, "href", href, "created", created)
	if obj.approx != "" {
		// Issue 6: a rule the CRM cannot represent is kept unchanged for
		// the client; the CRM gets the nearest pattern, and this says so.
		s.log.Warn("the CRM gets an approximation of this object", "user", owner, "collection", slug, "href", href, "approximation", obj.approx)
	}
	return etag, created, nil
}

// rekind replaces the CRM record behind an item by one of another kind:
// pending changes of the old record are dropped, its delete and the new
// record's create (with a newly chosen id) are queued in that order.
func (s *Store) rekind(tx *gorm.DB, itemID int64, col collectionRow, old idmapRow, obj object, now time.Time) error {
	if err := tx.Where("item_id = ? AND state = ?", itemID, statePending).Delete(&outboxRow{}).Error; err != nil {
		return err
	}
	if err := s.enqueue(tx, itemID, col, crmclient.Kind(old.CRMKind), opDelete, old.CRMID, nil, now); err != nil {
		return err
	}
	newID := uuid.NewString()
	if err := tx.Model(&idmapRow{}).Where("item_id = ?", itemID).Updates(map[string]any{
		"crm_kind": string(obj.kind), "crm_id": newID, "crm_etag": ""}).Error; err != nil {
		return err
	}
	empty, err := EncodeSnapshot(obj.kind, newID, nil)
	if err != nil {
		return err
	}
	if err := tx.Model(&snapshotRow{}).Where("item_id = ?", itemID).Update("xml", empty).Error; err != nil {
		return err
	}
	s.log.Info("object changed kind; the CRM record is replaced", "collection", col.Slug, "from", old.CRMKind, "to", obj.kind)
	return s.enqueue(tx, itemID, col, obj.kind, opCreate, newID, nonEmpty(obj.cols), now)
}

func nonEmpty(cols crmclient.Columns) crmclient.Columns {
	out := crmclient.Columns{}
	for k, v := range cols {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

func (s *Store) enqueue(tx *gorm.DB, itemID int64, col collectionRow, kind crmclient.Kind, op, crmID string, cols crmclient.Columns, at time.Time) error {
	x, err := EncodeSnapshot(kind, crmID, cols)
	if err != nil {
		return err
	}
	return tx.Create(&outboxRow{ItemID: itemID, CollectionID: col.ID, Op: op, CRMKind: string(kind), CRMID: crmID, ActAs: col.Owner,
		Columns: x, AcceptedAt: at, State: statePending, NextAttempt: at}).Error
}

// Delete removes a client's object. The CRM record is deleted by the
// pusher; pending changes of the object are dropped.
func (s *Store) Delete(ctx context.Context, owner, slug, href string, cond Conditions) error {
	db := s.db.WithContext(ctx)
	col, err := s.collection(db, owner, slug)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	err = s.clientWrite(ctx, func(tx *gorm.DB) error {
		var cur itemRow
		err := tx.Where("collection_id = ? AND href = ?", col.ID, href).Take(&cur).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("%w: %s/%s/%s", ErrNotFound, owner, slug, href)
		}
		if err != nil {
			return err
		}
		if err := cond.check(cur.ETag); err != nil {
			return err
		}
		var idm idmapRow
		if err := tx.Where("item_id = ?", cur.ID).Take(&idm).Error; err != nil {
			return err
		}
		if _, err := s.bump(tx, col.ID, href, true); err != nil {
			return err
		}
		if err := removeItem(tx, cur.ID); err != nil {
			return err
		}
		if err := tx.Where("item_id = ? AND state = ?", cur.ID, statePending).Delete(&outboxRow{}).Error; err != nil {
			return err
		}
		// Enqueued even when the create is still pending: it may have
		// reached the CRM with its answer lost, or be on its way now. A
		// delete of a record the CRM never made is a harmless 404.
		return s.enqueue(tx, cur.ID, col, crmclient.Kind(idm.CRMKind), opDelete, idm.CRMID, nil, now)
	})
	if err == nil {
		s.afterClientWrite(ctx, owner, slug)
	}
	return err
}

func removeItem(tx *gorm.DB, itemID int64) error {
	for _, m := range []any{&idmapRow{}, &snapshotRow{}} {
		if err := tx.Where("item_id = ?", itemID).Delete(m).Error; err != nil {
			return err
		}
	}
	return tx.Where("id = ?", itemID).Delete(&itemRow{}).Error
}
