// Package syncstate is the gateway's state and its synchronization engine:
// the mirror of DAV objects, the ID map, the XML snapshots of the last
// synchronized columns, the outbox, the change log and the delta cursors,
// kept with gorm (SQLite by default); the per-column three-way merge; the
// poller and the pusher. See DESIGN.md, "How data flows" and "State".
package syncstate
