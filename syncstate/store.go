package syncstate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/crmdav/crmdav/crmclient"
)

// Errors of the store; wrapped with detail, tested with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrPrecondition = errors.New("precondition failed") // If-Match / If-None-Match
	ErrConflict     = errors.New("conflict")            // e.g. a UID already used by another resource
	ErrInvalid      = errors.New("invalid object")      // the body is not a valid object of the collection
	ErrExists       = errors.New("exists")
)

// Store is the gateway's state in one SQLite file (WAL) through gorm.
type Store struct {
	db *gorm.DB
	// Prepared statements of the read paths clients hit most.
	stmtGet, stmtList, stmtListBody     *sql.Stmt
	stmtChanges, stmtGetMany            *sql.Stmt
	stmtQuery, stmtQueryBody, stmtStamp *sql.Stmt
	stmtCollectionFull, stmtObjects     *sql.Stmt
	stmtObjectsBody                     *sql.Stmt
	listings                            *listings       // collections' (href, ETag) lists, see listing.go
	hot                                 *hotCollections // collections' heads and latest changes, see hot.go
	bodies                              *bodyCache      // recently read bodies by ETag, see bodies.go
	users                               *usersMarker    // changes of users by any process, see marker.go
	writer                              chan struct{}   // one client write at a time (clientWrite)
	log                                 *slog.Logger
	now                                 func() time.Time
	cost                                int    // bcrypt cost of new password hashes
	dummy                               []byte // a hash to compare against for unknown users
}

// pageCacheKiB is the page cache of each database connection.
const pageCacheKiB = 512

// Options tune Open.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time // time.Now when nil
	// PasswordCost is the bcrypt cost of app-password hashes
	// (bcrypt.DefaultCost); tests lower it.
	PasswordCost int
	// BodyCacheBytes bounds the bodies kept for multigets
	// (DefaultBodyCacheBytes when 0; negative keeps none).
	BodyCacheBytes int
}

// Open opens (creating and migrating) the state database crmdav.db in dir.
func Open(dir string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PasswordCost == 0 {
		o.PasswordCost = bcrypt.DefaultCost
	}
	if o.BodyCacheBytes == 0 {
		o.BodyCacheBytes = DefaultBodyCacheBytes
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("not a password"), o.PasswordCost)
	if err != nil {
		return nil, fmt.Errorf("syncstate: password cost %d: %w", o.PasswordCost, err)
	}
	path := filepath.Join(dir, "crmdav.db")
	// WAL lets readers run beside the one writer; synchronous=FULL makes a
	// commit durable before a client gets its answer (invariant 3). Each
	// connection gets a page cache of 512 KiB instead of SQLite's 2 MiB:
	// the kernel's page cache already holds the file once for all of them,
	// and a burst of concurrent requests opens a connection each, whose
	// caches add up in the server's memory (davbench: peak RSS 1.7x the
	// floor's with 2 MiB, 1.2x with 512 KiB, the same latencies).
	dsn := "file:" + path + "?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate&_cache_size=" + strconv.Itoa(-pageCacheKiB)
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard, SkipDefaultTransaction: true, PrepareStmt: true})
	if err != nil {
		return nil, fmt.Errorf("syncstate: open %s: %w", path, err)
	}
	if err := db.AutoMigrate(&userRow{}, &collectionRow{}, &itemRow{}, &idmapRow{}, &snapshotRow{},
		&outboxRow{}, &changeRow{}, &cursorRow{}); err != nil {
		return nil, fmt.Errorf("syncstate: migrate %s: %w", path, err)
	}
	if err := migrateSpanIndex(db); err != nil {
		return nil, fmt.Errorf("syncstate: migrate %s: %w", path, err)
	}
	if err := ensureCollections(db); err != nil {
		return nil, fmt.Errorf("syncstate: migrate %s: %w", path, err)
	}
	st := &Store{db: db, log: o.Logger, now: o.Now, cost: o.PasswordCost, dummy: dummy, listings: newListings(defaultListingEntries),
		hot: newHotCollections(), bodies: newBodyCache(max(o.BodyCacheBytes, 0)), users: newUsersMarker(filepath.Join(dir, markerFile)), writer: make(chan struct{}, 1)}
	if f, err := os.OpenFile(st.users.path, os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	} else {
		o.Logger.Warn("cannot create the users marker: users and collections are read from the database every time", "err", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&st.stmtGet, `SELECT i.href, i.uid, i.etag, i.body, i.revision FROM items i JOIN collections c ON c.id = i.collection_id
			WHERE c.owner = ? AND c.slug = ? AND i.href = ?`},
		{&st.stmtList, `SELECT href, uid, etag, revision FROM items WHERE collection_id = ? ORDER BY href`},
		{&st.stmtListBody, `SELECT href, uid, etag, revision, body FROM items WHERE collection_id = ? ORDER BY href`},
		{&st.stmtQuery, spanQuery("href, uid, etag, revision")},
		{&st.stmtQueryBody, spanQuery("href, uid, etag, revision, body")},
		{&st.stmtStamp, `SELECT password_hash FROM users WHERE name = ?`},
		// One chunk of a collection's (href, ETag) listing, read as one
		// string that SQLite builds from the covering idx_item_listing: a
		// row per item through go-sqlite3 costs several cgo calls, a
		// chunk a handful. Entries are ETag (a quoted string) then href,
		// separated by '/', which no href holds (see splitObjectNames).
		{&st.stmtObjects, `SELECT group_concat(etag || href, '/'), max(href), count(*)
			FROM (SELECT href, etag FROM items INDEXED BY idx_item_listing WHERE collection_id = ? AND href > ? ORDER BY href LIMIT ?)`},
		{&st.stmtObjectsBody, `SELECT href, etag, body FROM items WHERE collection_id = ? ORDER BY href`},
		{&st.stmtCollectionFull, `SELECT id, owner, slug, kind, revision, display_name, color, "order", pruned FROM collections WHERE owner = ? AND slug = ?`},
		// The latest change of each href after a revision: one range scan
		// of the primary key (collection_id, revision). SQLite takes the
		// bare column deleted from the row of MAX(revision). The ETag of
		// each member comes from the covering idx_item_listing, so that a
		// report asking for getetag alone reads no item's row.
		{&st.stmtChanges, `SELECT c.href, MAX(c.revision), c.deleted, i.etag FROM changes c
			LEFT JOIN items i INDEXED BY idx_item_listing ON i.collection_id = c.collection_id AND i.href = c.href
			WHERE c.collection_id = ? AND c.revision > ? GROUP BY c.href ORDER BY 2`},
		// Items by href, in the order of a JSON array of hrefs: one lookup
		// of idx_item_href per href.
		{&st.stmtGetMany, `SELECT i.href, i.etag, i.body FROM json_each(?) n
			JOIN items i ON i.collection_id = ? AND i.href = n.value ORDER BY n.key`},
	} {
		if *p.stmt, err = sqlDB.Prepare(p.sql); err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("syncstate: prepare: %w", err)
		}
	}
	return st, nil
}

// Close closes the database.
func (s *Store) Close() error {
	for _, st := range []*sql.Stmt{s.stmtGet, s.stmtList, s.stmtListBody, s.stmtChanges, s.stmtGetMany,
		s.stmtQuery, s.stmtQueryBody, s.stmtStamp, s.stmtCollectionFull, s.stmtObjects, s.stmtObjectsBody} {
		st.Close()
	}
	s.bodies.close()
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// User is a gateway user.
type User struct {
	Name        string
	CRMUser     string // sign-in name in the CRM
	CRMUserID   string
	CRMObjectID string
	CreatedAt   time.Time
}

// crmUser is the CRM identity the gateway acts as for u.
func (u User) crmUser() crmclient.User {
	return crmclient.User{ID: u.CRMUserID, ObjectID: u.CRMObjectID, DomainName: u.CRMUser}
}

var userName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// AddUser adds a gateway user acting as CRM user crm (already looked up),
// stores the password as a bcrypt hash, and makes the user's collections.
func (s *Store) AddUser(ctx context.Context, name, password string, crm crmclient.User) (User, error) {
	if !userName.MatchString(name) {
		return User{}, fmt.Errorf("%w: user name %q: use lower-case letters, digits, '.', '_' or '-'", ErrInvalid, name)
	}
	if len(password) < 8 {
		return User{}, fmt.Errorf("%w: password shorter than 8 characters", ErrInvalid)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return User{}, err
	}
	row := userRow{Name: name, PasswordHash: string(hash), CRMUser: crm.DomainName, CRMUserID: crm.ID, CRMObjectID: crm.ObjectID, CreatedAt: s.now().UTC()}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&userRow{}).Where("name = ?", name).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: user %s", ErrExists, name)
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		for _, c := range defaultCollections {
			if err := tx.Create(&collectionRow{Owner: name, Slug: c.slug, Kind: string(c.kind), DisplayName: c.name}).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return row.user(), s.usersChanged()
}

func (r userRow) user() User {
	return User{Name: r.Name, CRMUser: r.CRMUser, CRMUserID: r.CRMUserID, CRMObjectID: r.CRMObjectID, CreatedAt: r.CreatedAt}
}

// defaultCollections are the collections every user has.
var defaultCollections = []struct {
	slug string
	kind crmclient.Kind
	name string
}{
	{"contacts", crmclient.Contact, "CRM contacts"},
	{"appointments", crmclient.Appointment, "CRM appointments"},
	{"tasks", crmclient.Task, "CRM tasks"},
	{"phone-calls", crmclient.PhoneCall, "CRM phone calls"},
	{"letters", crmclient.Letter, "CRM letters"},
	{"faxes", crmclient.Fax, "CRM faxes"},
	{"emails", crmclient.Email, "CRM e-mails"},
}

// ensureCollections gives every user the default collections they lack
// (users added before a kind was synchronized).
func ensureCollections(db *gorm.DB) error {
	var users []userRow
	if err := db.Find(&users).Error; err != nil {
		return err
	}
	for _, u := range users {
		for _, c := range defaultCollections {
			row := collectionRow{Owner: u.Name, Slug: c.slug, Kind: string(c.kind), DisplayName: c.name}
			if err := db.Where("owner = ? AND slug = ?", u.Name, c.slug).FirstOrCreate(&row).Error; err != nil {
				return err
			}
		}
	}
	return nil
}

// RemoveUser removes a user and everything the gateway keeps for them;
// their CRM records are not touched.
func (s *Store) RemoveUser(ctx context.Context, name string) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("name = ?", name).Delete(&userRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%w: user %s", ErrNotFound, name)
		}
		var ids []int64
		if err := tx.Model(&collectionRow{}).Where("owner = ?", name).Pluck("id", &ids).Error; err != nil {
			return err
		}
		items := tx.Model(&itemRow{}).Select("id").Where("collection_id IN ?", ids)
		for _, m := range []any{&idmapRow{}, &snapshotRow{}} {
			if err := tx.Where("item_id IN (?)", items).Delete(m).Error; err != nil {
				return err
			}
		}
		for _, m := range []any{&outboxRow{}, &changeRow{}, &itemRow{}} {
			if err := tx.Where("collection_id IN ?", ids).Delete(m).Error; err != nil {
				return err
			}
		}
		for _, id := range ids {
			s.listings.forget(id) // memory only: ids are never given again
		}
		return tx.Where("owner = ?", name).Delete(&collectionRow{}).Error
	})
	if err != nil {
		return err
	}
	return s.usersChanged()
}

// Users lists the gateway's users by name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	var rows []userRow
	if err := s.db.WithContext(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out, nil
}

// Authenticate checks a user's app password; it returns ErrNotFound for an
// unknown user or a wrong password alike.
func (s *Store) Authenticate(ctx context.Context, name, password string) (User, error) {
	var row userRow
	err := s.db.WithContext(ctx).Where("name = ?", name).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		// Spend the time a hash comparison takes, so that timing does not
		// tell which user names exist.
		_ = bcrypt.CompareHashAndPassword(s.dummy, []byte(password))
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(row.PasswordHash), []byte(password)) != nil {
		return User{}, ErrNotFound
	}
	return row.user(), nil
}

func (s *Store) user(tx *gorm.DB, name string) (User, error) {
	var row userRow
	err := tx.Where("name = ?", name).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return User{}, fmt.Errorf("%w: user %s", ErrNotFound, name)
	}
	return row.user(), err
}

// usersByCRMID maps CRM user ids to gateway user names.
func (s *Store) usersByCRMID(tx *gorm.DB) (map[string][]string, error) {
	var rows []userRow
	if err := tx.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, r := range rows {
		out[strings.ToLower(r.CRMUserID)] = append(out[strings.ToLower(r.CRMUserID)], r.Name)
	}
	return out, nil
}

// SetPassword replaces a user's app password.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	if len(password) < 8 {
		return fmt.Errorf("%w: password shorter than 8 characters", ErrInvalid)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return err
	}
	res := s.db.WithContext(ctx).Model(&userRow{}).Where("name = ?", name).Update("password_hash", string(hash))
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: user %s", ErrNotFound, name)
	}
	return s.usersChanged()
}

// UserAddress is the e-mail address of a user's CRM identity ("" when
// unknown): the calendar user address of their principal (RFC 6638 §2.4.1).
func (s *Store) UserAddress(ctx context.Context, name string) string {
	u, err := s.user(s.db.WithContext(ctx), name)
	if err != nil || !strings.Contains(u.CRMUser, "@") {
		return ""
	}
	return u.CRMUser
}

// longSpan is the expression of idx_item_when that sorts the items of a
// calendar in two: short spans (a known start and end at most 7 days apart:
// almost every event) and the others (recurrences, to-dos, unknown ends).
// SQLite keeps it up to date; a query uses the index only when it repeats
// the expression exactly. An end julianday cannot read is long: never
// missed, only read more often.
const longSpan = `coalesce(julianday("end") - julianday(start) > 7, 1)`

// shortSpan is the longest span longSpan calls short, with a margin.
const shortSpan = 8 * 24 * time.Hour

// migrateSpanIndex creates idx_item_when (collection_id, longSpan, start,
// end), which replaces idx_item_span (collection_id, start): a short item
// that overlaps [lo, hi) starts in [lo − shortSpan, hi), so a query reads a
// month's worth of the index and the few long items, not every item that
// starts before hi.
func migrateSpanIndex(db *gorm.DB) error {
	if err := db.Exec(`CREATE INDEX IF NOT EXISTS idx_item_when ON items(collection_id, ` + longSpan + `, start, "end")`).Error; err != nil {
		return err
	}
	return db.Exec(`DROP INDEX IF EXISTS idx_item_span`).Error
}

// spanQuery is the statement of Store.Query reading cols: ?1 collection,
// ?2 hi, ?3 lo, ?4 lo − shortSpan.
func spanQuery(cols string) string {
	return `SELECT ` + cols + ` FROM items INDEXED BY idx_item_when
			WHERE collection_id = ?1 AND ` + longSpan + ` = 0 AND start >= ?4 AND start < ?2 AND "end" > ?3
		UNION ALL SELECT ` + cols + ` FROM items INDEXED BY idx_item_when
			WHERE collection_id = ?1 AND ` + longSpan + ` = 1 AND (start IS NULL OR start < ?2) AND ("end" IS NULL OR "end" > ?3)`
}
