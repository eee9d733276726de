package democrm

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

// rowModel is one record of any table. The columns a query can select on
// cheaply (owner, and for activity parties the activity and the party) are
// real SQL columns; the rest of the record is a JSON object in Data.
type rowModel struct {
	Entity   string    `gorm:"primaryKey;size:64;index:idx_rows_version,priority:1"`
	ID       string    `gorm:"primaryKey;size:36"`
	Owner    string    `gorm:"size:36;index"`
	Ref      string    `gorm:"size:36;index"` // activityparty: the activity; appointment: its seriesid
	Party    string    `gorm:"size:36;index"` // activityparty: the party
	Version  int64     `gorm:"index:idx_rows_version,priority:2"`
	Created  time.Time `gorm:"not null"`
	Modified time.Time `gorm:"not null"`
	Data     string    `gorm:"not null"` // JSON object of the non-system columns
}

func (rowModel) TableName() string { return "rows" }

// tombstoneModel remembers a deletion for change tracking.
type tombstoneModel struct {
	Entity  string    `gorm:"primaryKey;size:64;index:idx_tombstones_version,priority:1"`
	ID      string    `gorm:"primaryKey;size:36"`
	Version int64     `gorm:"index:idx_tombstones_version,priority:2"`
	At      time.Time `gorm:"not null"`
}

func (tombstoneModel) TableName() string { return "tombstones" }

// shareModel grants a user read and write access to a record they do not
// own (Dataverse GrantAccess / principalobjectaccess).
type shareModel struct {
	Entity string `gorm:"primaryKey;size:64"`
	ID     string `gorm:"primaryKey;size:36"`
	UserID string `gorm:"primaryKey;size:36;index"`
}

func (shareModel) TableName() string { return "shares" }

type counterModel struct {
	Name  string `gorm:"primaryKey"`
	Value int64
}

func (counterModel) TableName() string { return "counters" }

// row is a decoded rowModel.
type row struct {
	entity   *entity
	id       string
	owner    string
	version  int64
	created  time.Time
	modified time.Time
	raw      string         // Data as stored: a JSON object, keys sorted
	data     map[string]any // raw decoded, on first use
}

// fields returns the row's non-system columns by read name.
func (r *row) fields() map[string]any {
	if r.data == nil {
		r.data = map[string]any{}
		dec := json.NewDecoder(strings.NewReader(r.raw))
		dec.UseNumber()
		_ = dec.Decode(&r.data) // rows are written by put, always valid JSON
	}
	return r.data
}

func (r *row) etag() string { return fmt.Sprintf(`W/"%d"`, r.version) }

// store keeps the embedded CRM's tables in one SQLite file. Writes are
// serialized so that version numbers are committed in order, which change
// tracking relies on: a reader never sees version n+1 before version n.
type store struct {
	db     *gorm.DB
	schema *schema
	mu     sync.Mutex // serializes writers
}

func openStore(dir string, sc *schema) (*store, error) {
	path := filepath.Join(dir, "democrm.db")
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL&_foreign_keys=on"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
	})
	if err != nil {
		return nil, fmt.Errorf("democrm: open %s: %w", path, err)
	}
	if err := db.AutoMigrate(&rowModel{}, &tombstoneModel{}, &shareModel{}, &counterModel{}); err != nil {
		return nil, fmt.Errorf("democrm: migrate %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(4)
	return &store{db: db, schema: sc}, nil
}

func (st *store) close() error {
	sqlDB, err := st.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

var errNoRow = errors.New("no such row")

func (st *store) decode(m *rowModel) (*row, error) {
	e := st.schema.byName[m.Entity]
	if e == nil {
		return nil, fmt.Errorf("democrm: row of unknown entity %q", m.Entity)
	}
	return &row{entity: e, id: m.ID, owner: m.Owner, version: m.Version,
		created: m.Created, modified: m.Modified, raw: m.Data}, nil
}

func (st *store) get(e *entity, id string) (*row, error) {
	var m rowModel
	err := st.db.Where("entity = ? AND id = ?", e.name, id).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errNoRow
	}
	if err != nil {
		return nil, err
	}
	return st.decode(&m)
}

// exists reports whether id is taken within the entity, or, for activities,
// by any activity: activities share one primary key space (activitypointer).
func (st *store) exists(tx *gorm.DB, e *entity, id string) (bool, error) {
	q := tx.Model(&rowModel{}).Where("id = ?", id)
	if e.activity {
		var names []string
		for _, o := range st.schema.byName {
			if o.activity {
				names = append(names, o.name)
			}
		}
		q = q.Where("entity IN ?", names)
	} else {
		q = q.Where("entity = ?", e.name)
	}
	var n int64
	err := q.Count(&n).Error
	return n > 0, err
}

func nextVersion(tx *gorm.DB) (int64, error) {
	c := counterModel{Name: "version"}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&counterModel{Name: "version", Value: 1000}).Error; err != nil {
		return 0, err
	}
	if err := tx.Model(&c).Where("name = ?", "version").UpdateColumn("value", gorm.Expr("value + 1")).Error; err != nil {
		return 0, err
	}
	if err := tx.Where("name = ?", "version").Take(&c).Error; err != nil {
		return 0, err
	}
	return c.Value, nil
}

// write runs fn in a transaction, with writers serialized.
func (st *store) write(fn func(tx *gorm.DB) error) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.db.Transaction(fn)
}

func encodeData(data map[string]any) (string, error) {
	b, err := json.Marshal(data)
	return string(b), err
}

// put inserts or replaces a row, giving it the next version.
func (st *store) put(tx *gorm.DB, r *row) error {
	v, err := nextVersion(tx)
	if err != nil {
		return err
	}
	r.version = v
	fs := r.fields()
	for _, a := range r.entity.attrs {
		if n := a.readName(); !isSystem(r.entity, a) {
			if _, ok := fs[n]; !ok {
				fs[n] = nil
			}
		}
	}
	data, err := encodeData(fs)
	if err != nil {
		return err
	}
	m := rowModel{
		Entity: r.entity.name, ID: r.id, Owner: r.owner, Version: v,
		Created: r.created, Modified: r.modified, Data: data,
	}
	if r.entity.name == "activityparty" {
		m.Ref, _ = fs["_activityid_value"].(string)
		m.Party, _ = fs["_partyid_value"].(string)
	}
	if r.entity.name == "appointment" {
		m.Ref, _ = fs["seriesid"].(string)
	}
	r.raw = data
	if err := tx.Save(&m).Error; err != nil {
		return err
	}
	// A record that comes back under a deleted id is no longer deleted.
	return tx.Where("entity = ? AND id = ?", r.entity.name, r.id).Delete(&tombstoneModel{}).Error
}

// remove deletes a row and leaves a tombstone for change tracking.
func (st *store) remove(tx *gorm.DB, e *entity, id string, at time.Time) error {
	v, err := nextVersion(tx)
	if err != nil {
		return err
	}
	res := tx.Where("entity = ? AND id = ?", e.name, id).Delete(&rowModel{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return errNoRow
	}
	return tx.Save(&tombstoneModel{Entity: e.name, ID: id, Version: v, At: at}).Error
}

func (st *store) currentVersion() (int64, error) {
	var c counterModel
	err := st.db.Where("name = ?", "version").Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 1000, nil
	}
	return c.Value, err
}

func (st *store) sharedWith(e *entity, id, userID string) (bool, error) {
	var n int64
	err := st.db.Model(&shareModel{}).Where("entity = ? AND id = ? AND user_id = ?", e.name, id, userID).Count(&n).Error
	return n > 0, err
}

// isSystem reports whether a is kept in a SQL column of the row rather than
// in its Data.
func isSystem(e *entity, a *attribute) bool {
	switch a.name {
	case e.key, "createdon", "modifiedon", "versionnumber", "ownerid", "activitytypecode":
		return true
	}
	return false
}

// scan reads rows of e in id order after the id after, at most limit,
// restricted by an SQL condition.
func (st *store) scan(e *entity, after string, limit int, where string, args ...any) ([]*row, error) {
	q := st.db.Where("entity = ? AND id > ?", e.name, after)
	if where != "" {
		q = q.Where(where, args...)
	}
	var ms []rowModel
	if err := q.Order("id").Limit(limit).Find(&ms).Error; err != nil {
		return nil, err
	}
	return st.decodeAll(ms)
}

func (st *store) decodeAll(ms []rowModel) ([]*row, error) {
	out := make([]*row, len(ms))
	for i := range ms {
		r, err := st.decode(&ms[i])
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// scanAll returns every row of e that keep accepts.
func (st *store) scanAll(e *entity, keep func(*row) bool) ([]*row, error) {
	var out []*row
	after := ""
	for {
		rows, err := st.scan(e, after, 1000, "")
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if keep(r) {
				out = append(out, r)
			}
		}
		if len(rows) < 1000 {
			return out, nil
		}
		after = rows[len(rows)-1].id
	}
}

// changedSince reads rows of e with after < version <= upto in version
// order, at most limit.
func (st *store) changedSince(e *entity, after, upto int64, limit int) ([]*row, error) {
	var ms []rowModel
	err := st.db.Where("entity = ? AND version > ? AND version <= ?", e.name, after, upto).
		Order("version").Limit(limit).Find(&ms).Error
	if err != nil {
		return nil, err
	}
	return st.decodeAll(ms)
}

// deletedSince reads tombstones of e with after < version <= upto.
func (st *store) deletedSince(e *entity, after, upto int64, limit int) ([]tombstoneModel, error) {
	var ts []tombstoneModel
	err := st.db.Where("entity = ? AND version > ? AND version <= ?", e.name, after, upto).
		Order("version").Limit(limit).Find(&ts).Error
	return ts, err
}

// partiesOf returns the activity parties of an activity.
func (st *store) partiesOf(activityID string) ([]*row, error) {
	var ms []rowModel
	if err := st.db.Where("entity = ? AND ref = ?", "activityparty", activityID).Order("version").Find(&ms).Error; err != nil {
		return nil, err
	}
	return st.decodeAll(ms)
}
