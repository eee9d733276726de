// Package crmclient is the CRM as the gateway sees it: records of a few kinds,
// their columns, activity parties, change feeds, and the operations the sync
// needs. Adapters for real CRMs live in sub-packages (crmclient/dataverse);
// crmclient/democrm is an embedded CRM that speaks the Dataverse Web API for
// tests and the demo.
//
// crmclient imports no other package of this module.
package crmclient

import (
	"context"
	"time"
)

// Kind is a CRM record type, named by its Dataverse logical name.
type Kind string

// The kinds the gateway synchronizes.
const (
	Contact              Kind = "contact"
	Appointment          Kind = "appointment"
	RecurringAppointment Kind = "recurringappointmentmaster"
	Task                 Kind = "task"
	PhoneCall            Kind = "phonecall"
	Letter               Kind = "letter"
	Fax                  Kind = "fax"
	Email                Kind = "email"
)

// Kinds lists every kind, contacts first.
func Kinds() []Kind {
	return []Kind{Contact, Appointment, RecurringAppointment, Task, PhoneCall, Letter, Fax, Email}
}

// IsActivity reports whether records of kind k are activities, which have
// activity parties and share the activityid primary key.
func (k Kind) IsActivity() bool {
	switch k {
	case Appointment, RecurringAppointment, Task, PhoneCall, Letter, Fax, Email:
		return true
	}
	return false
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return k == Contact || k.IsActivity() }

// Columns holds a record's column values by logical column name, each encoded
// as a string so that snapshots, diffs and merges treat every column alike:
//
//   - text and memo: the text itself;
//   - whole numbers, choices (option sets), state and status codes: decimal, "3";
//   - decimal, floating point and money: decimal, "12.5";
//   - yes/no: "true" or "false";
//   - date and time: RFC 3339 in UTC with seconds, "2026-11-25T09:30:00Z";
//   - date only: "2026-11-25";
//   - lookups (read only here): the referenced id, under the Web API name
//     "_<column>_value";
//   - an activity's regarding (the polymorphic lookup regardingobjectid),
//     read and written: "<logical name>:<id>" under RegardingColumn,
//     "contact:0b8c2f1e-…"; adapters read it from the lookup and its
//     Microsoft.Dynamics.CRM.lookuplogicalname annotation and write it
//     through the lookup's typed navigation property.
//
// The empty string is null: sending it clears the column. A column absent from
// the map is not given (not read, or not to be written).
type Columns map[string]string

// RegardingColumn is the column of an activity's regarding record (see Columns).
const RegardingColumn = "regardingobjectid"

// Clone returns a copy of c.
func (c Columns) Clone() Columns {
	if c == nil {
		return nil
	}
	out := make(Columns, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

// Record is one CRM row as the gateway sees it.
type Record struct {
	Kind       Kind
	ID         string // primary key, a lower-case GUID
	Columns    Columns
	ModifiedOn time.Time
	// ETag is the row version as the CRM quotes it (Dataverse: W/"<versionnumber>").
	// It changes on every write and is passed back unchanged in If-Match.
	ETag  string
	Owner string // id of the owning CRM user
	// Parties are the activity parties of an activity; nil when not read.
	Parties []Party
}

// Role is the part a party plays in an activity: Dataverse's
// activityparty.participationtypemask.
type Role int

// Participation types (Dataverse activityparty.participationtypemask).
const (
	Sender           Role = 1
	ToRecipient      Role = 2
	CCRecipient      Role = 3
	BCCRecipient     Role = 4
	RequiredAttendee Role = 5
	OptionalAttendee Role = 6
	Organizer        Role = 7
	Regarding        Role = 8
	OwnerRole        Role = 9
	Resource         Role = 10
	Customer         Role = 11
)

// Party is one activity party.
type Party struct {
	Role Role
	// PartyKind and PartyID name the CRM record taking part ("contact" or
	// "systemuser"); both are empty for an e-mail address that resolved to no
	// record, which is then kept in Address only.
	PartyKind string
	PartyID   string
	Address   string // the e-mail address used, if any
}

// User is a CRM user (Dataverse systemuser).
type User struct {
	ID string // systemuserid
	// ObjectID is the user's directory object id (Dataverse
	// azureactivedirectoryobjectid); writes act as the user through it.
	ObjectID   string
	DomainName string // sign-in name, alice@example.com
	FullName   string
	Email      string
	Disabled   bool
}

// ChangeSet is what changed for one kind since a delta token.
type ChangeSet struct {
	Changed []Record // without Parties: a change feed cannot expand them
	Deleted []string // ids
	// Token asks for the changes after this set; it is opaque to callers.
	Token string
}

// Version names one record and its row version, as a reconcile lists them.
type Version struct {
	ID   string
	ETag string
}

// CRM is the set of operations the gateway needs from a CRM. Reads of the
// change feeds run as the gateway's application identity; every write runs as
// the CRM user given, so the CRM enforces that user's privileges and audits
// the change under their name.
type CRM interface {
	// Changes returns the changes of one kind across the whole CRM since
	// token ("" for the initial full read). It fails with ErrTokenExpired
	// when the CRM no longer knows the token; the caller then starts over
	// with "" and reconciles.
	Changes(ctx context.Context, kind Kind, token string) (ChangeSet, error)
	// Parties returns the activity parties of many activities of one kind,
	// by activity id, in as few requests as the CRM allows.
	Parties(ctx context.Context, kind Kind, ids []string) (map[string][]Party, error)

	// Get reads one record as user as; the zero User reads as the
	// application (organization-wide read, like the change feeds).
	Get(ctx context.Context, as User, kind Kind, id string) (Record, error)
	// Create makes rec with the id the caller chose. It is idempotent: when
	// a record with that id exists already (an earlier try went through)
	// it returns that record and no error.
	Create(ctx context.Context, as User, rec Record) (Record, error)
	// Update writes only the given columns (and, when parties is not nil,
	// replaces the activity parties) if the record's version is still etag;
	// otherwise it fails with ErrPrecondition.
	Update(ctx context.Context, as User, kind Kind, id, etag string, cols Columns, parties []Party) (Record, error)
	// Delete removes the record if its version is still etag ("" for any);
	// ErrPrecondition otherwise.
	Delete(ctx context.Context, as User, kind Kind, id, etag string) error

	// List returns the ids and versions of the records of kind that belong
	// to the user with id userID: owned by them, or, for activities, with
	// them as a party. Appointments that are instances of a recurring
	// series are not listed (they belong to the series). It reads without
	// change tracking.
	List(ctx context.Context, kind Kind, userID string) ([]Version, error)
	// Instances returns the appointments of a recurring series (seriesid
	// = seriesID): its instances (instancetypecode 2) and exceptions (3),
	// each with originalstartdate, as the CRM has expanded them. A deleted
	// instance is absent.
	Instances(ctx context.Context, as User, seriesID string) ([]Record, error)
	// SearchContacts finds contacts visible to as whose name, e-mail or
	// company contains text.
	SearchContacts(ctx context.Context, as User, text string, limit int) ([]Record, error)
	// FindUsers looks up CRM users by e-mail address or sign-in name; a
	// name starting with "@" matches every user of that domain.
	FindUsers(ctx context.Context, names ...string) ([]User, error)
	// FindContacts looks up contacts by any of their three e-mail
	// addresses, across the organization, in few requests.
	FindContacts(ctx context.Context, addresses ...string) ([]Record, error)
	// Addresses returns the e-mail address of each party record named by
	// id ("contact": emailaddress1; "systemuser": internalemailaddress),
	// for parties the CRM keeps without addressused.
	Addresses(ctx context.Context, partyKind string, ids []string) (map[string]string, error)
}
