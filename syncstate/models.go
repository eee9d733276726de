package syncstate

import "time"

// The tables of DESIGN.md, "State". Names are the gorm defaults, fixed by
// TableName so that a rename of a Go type never renames a table.

// userRow is a gateway user: an app password (hash) and the CRM user the
// gateway acts as.
type userRow struct {
	Name         string `gorm:"primaryKey;size:64"`
	PasswordHash string `gorm:"not null"`
	CRMUser      string `gorm:"column:crm_user;not null"` // sign-in name in the CRM
	CRMUserID    string `gorm:"column:crm_user_id;size:36;index"`
	CRMObjectID  string `gorm:"column:crm_object_id;size:36"`
	CreatedAt    time.Time
}

func (userRow) TableName() string { return "users" }

// collectionRow is one DAV collection of a user. Revision is its sync
// revision: it advances by one with every change to the collection.
type collectionRow struct {
	ID       int64  `gorm:"primaryKey"`
	Owner    string `gorm:"size:64;not null;uniqueIndex:idx_collection_slug,priority:1"`
	Slug     string `gorm:"size:64;not null;uniqueIndex:idx_collection_slug,priority:2"`
	Kind     string `gorm:"size:32;not null"` // crmclient.Kind of its items
	Revision int64  `gorm:"not null"`
	// Pruned is the highest revision whose change-log entries may be gone:
	// a sync token at or below it is too old (RFC 6578 §3.2).
	Pruned      int64 `gorm:"not null;default:0"`
	DisplayName string
	Color       string
	Order       int
}

func (collectionRow) TableName() string { return "collections" }

// itemRow is the mirror of one DAV object: the body served to clients.
// idx_item_listing (collection_id, href, etag) covers a collection's
// listing (PROPFIND Depth 1, initial sync-collection): SQLite reads the
// index alone, not the table's pages with their bodies.
type itemRow struct {
	ID           int64  `gorm:"primaryKey"`
	CollectionID int64  `gorm:"not null;uniqueIndex:idx_item_href,priority:1;uniqueIndex:idx_item_uid,priority:1;index:idx_item_listing,priority:1"`
	Href         string `gorm:"size:255;not null;uniqueIndex:idx_item_href,priority:2;index:idx_item_listing,priority:2"` // resource name in the collection
	UID          string `gorm:"size:255;not null;uniqueIndex:idx_item_uid,priority:2"`
	ETag         string `gorm:"column:etag;size:80;not null;index:idx_item_listing,priority:3"` // quoted, strong
	Body         []byte `gorm:"not null"`
	Revision     int64  `gorm:"not null;index"`
	// Start and End are the time span a calendar object covers (UTC), for
	// calendar-query; NULL when unknown or unbounded. idx_item_when (see
	// spanIndex) indexes them.
	Start *time.Time
	End   *time.Time
}

func (itemRow) TableName() string { return "items" }

// idmapRow ties an item to its CRM record. One CRM record may back items
// in several users' collections.
type idmapRow struct {
	ItemID  int64  `gorm:"primaryKey"`
	CRMKind string `gorm:"column:crm_kind;size:32;not null;index:idx_idmap_crm,priority:1"`
	CRMID   string `gorm:"column:crm_id;size:36;not null;index:idx_idmap_crm,priority:2"`
	CRMETag string `gorm:"column:crm_etag"` // the CRM row version last synchronized; "" until created
}

func (idmapRow) TableName() string { return "idmap" }

// snapshotRow is the XML snapshot of the columns last synchronized for an
// item: the base of every three-way merge.
type snapshotRow struct {
	ItemID int64  `gorm:"primaryKey"`
	XML    []byte `gorm:"not null"`
}

func (snapshotRow) TableName() string { return "snapshots" }

// Outbox operations.
const (
	opCreate = "create"
	opUpdate = "update"
	opDelete = "delete"
)

// Outbox states.
const (
	statePending  = "pending"
	stateRejected = "rejected" // refused by the CRM for good; kept for status
)

// outboxRow is a client change accepted and not yet in the CRM.
type outboxRow struct {
	ID           int64     `gorm:"primaryKey"`
	ItemID       int64     `gorm:"not null;index"`
	CollectionID int64     `gorm:"not null"`
	Op           string    `gorm:"size:8;not null"`
	CRMKind      string    `gorm:"size:32;not null"`
	CRMID        string    `gorm:"size:36;not null"`
	ActAs        string    `gorm:"size:64;not null"` // gateway user whose CRM identity writes
	Columns      []byte    // snapshot XML of the changed columns
	AcceptedAt   time.Time `gorm:"not null"`
	State        string    `gorm:"size:10;not null;index:idx_outbox_due,priority:1"`
	NextAttempt  time.Time `gorm:"not null;index:idx_outbox_due,priority:2"`
	Attempts     int
	LastError    string
}

func (outboxRow) TableName() string { return "outbox" }

// changeRow is one entry of a collection's change log (RFC 6578): the
// revision at which href last changed, and whether it was deleted.
type changeRow struct {
	CollectionID int64  `gorm:"primaryKey"`
	Revision     int64  `gorm:"primaryKey"`
	Href         string `gorm:"size:255;not null"`
	Deleted      bool
	At           time.Time
}

func (changeRow) TableName() string { return "changes" }

// cursorRow keeps a position: a CRM delta token per kind, the time of the
// last reconcile per collection.
type cursorRow struct {
	Name      string `gorm:"primaryKey;size:128"`
	Value     string
	UpdatedAt time.Time
}

func (cursorRow) TableName() string { return "cursors" }
