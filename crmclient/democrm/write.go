package democrm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// change is a validated write body.
type change struct {
	fields  map[string]any // read name → value
	owner   string         // from ownerid@odata.bind
	parties []partyIn      // nil when the body has no parties collection
	hasKey  string         // the primary key, when the body gives it
}

type partyIn struct {
	mask    int64
	address string
	kind    string // contact or systemuser; "" for an unresolved address
	id      string
}

// parseBody validates a create or update body against the entity's
// metadata, as Dataverse does before touching anything.
func (s *Server) parseBody(e *entity, body []byte) (*change, *apiError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var in map[string]any
	if err := dec.Decode(&in); err != nil || dec.More() || in == nil {
		return nil, errBadRequest("Invalid JSON. A JSON object was expected in the request body.")
	}
	ch := &change{fields: map[string]any{}}
	for k, v := range in {
		if strings.HasPrefix(k, "@odata.") {
			continue
		}
		if nav, ok := strings.CutSuffix(k, "@odata.bind"); ok {
			if err := s.bind(e, ch, nav, v); err != nil {
				return nil, err
			}
			continue
		}
		if k == e.partiesNav && e.partiesNav != "" {
			ps, err := s.parseParties(e, v)
			if err != nil {
				return nil, err
			}
			ch.parties = ps
			continue
		}
		a := e.attrs[k]
		if a == nil || a.typ == tLookup || a.typ == tOwner {
			return nil, errInvalidProperty(e, k)
		}
		if a.readOnly {
			return nil, errPayload(e, "The property '%s' is read-only and cannot be set.", k)
		}
		val, err := convert(e, a, v)
		if err != nil {
			return nil, err
		}
		if k == e.key {
			ch.hasKey, _ = val.(string)
			continue
		}
		ch.fields[k] = val
	}
	return ch, nil
}

// convert checks a JSON value against an attribute type and returns it in
// the form the row keeps.
func convert(e *entity, a *attribute, v any) (any, *apiError) {
	if v == nil {
		return nil, nil
	}
	bad := func(edm string) *apiError {
		return errPayload(e, "Cannot convert the literal '%v' to the expected type '%s'.", v, edm)
	}
	switch a.typ {
	case tString, tMemo:
		s, ok := v.(string)
		if !ok {
			return nil, bad("Edm.String")
		}
		if n := utf8.RuneCountInString(s); n > a.maxLength() {
			// Dataverse checks MaxLength on every write.
			return nil, &apiError{http.StatusBadRequest, "0x80044331", fmt.Sprintf("A validation error occurred.  The length of the '%s' attribute of the '%s' entity exceeded the maximum allowed length of '%d'.", a.name, e.name, a.maxLength()), nil}
		}
		return s, nil
	case tInteger, tPicklist, tState, tStatus, tBigInt:
		n, ok := v.(json.Number)
		if !ok {
			return nil, bad("Edm.Int32")
		}
		i, err := n.Int64()
		if err != nil || i > math.MaxInt32 || i < math.MinInt32 {
			return nil, bad("Edm.Int32")
		}
		return json.Number(fmt.Sprint(i)), nil
	case tDecimal, tDouble, tMoney:
		n, ok := v.(json.Number)
		if !ok {
			return nil, bad("Edm.Decimal")
		}
		if _, err := n.Float64(); err != nil {
			return nil, bad("Edm.Decimal")
		}
		return n, nil
	case tBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, bad("Edm.Boolean")
		}
		return b, nil
	case tDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, bad("Edm.DateTimeOffset")
		}
		if a.dateOnly {
			if t, err := time.Parse("2006-01-02", s); err == nil {
				return t.Format("2006-01-02"), nil
			}
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				return t.UTC().Format("2006-01-02"), nil
			}
			return nil, bad("Edm.Date")
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, bad("Edm.DateTimeOffset")
		}
		return t.UTC().Truncate(time.Second).Format(time.RFC3339), nil
	case tUniqueID:
		s, ok := v.(string)
		if !ok || !isGUID(s) {
			return nil, bad("Edm.Guid")
		}
		return strings.ToLower(s), nil
	}
	return nil, bad("Edm.String")
}

// parseRef parses "/contacts(guid)" or "contacts(guid)" or an absolute URL
// ending so.
func parseRef(v any) (set, id string, ok bool) {
	s, isStr := v.(string)
	if !isStr {
		return "", "", false
	}
	if i := strings.Index(s, APIPath); i >= 0 {
		s = s[i+len(APIPath):]
	}
	s = strings.TrimPrefix(s, "/")
	set, key, hasKey, err := splitSegment(s)
	if err != nil || !hasKey {
		return "", "", false
	}
	return set, key, true
}

func (s *Server) bind(e *entity, ch *change, nav string, v any) *apiError {
	for _, a := range e.attrs {
		target, ok := a.targets[nav]
		if !ok || (a.readOnly && a.typ != tOwner) {
			continue
		}
		if v == nil {
			// "Associate and disassociate table rows using the Web API":
			// a single-valued navigation property set to null disassociates.
			if a.typ == tOwner {
				return errPayload(e, "Cannot set the property '%s' to null.", nav)
			}
			ch.fields[a.readName()] = nil
			switch a.name {
			case "regardingobjectid":
				ch.fields["regardingobjecttypecode"] = nil
			case "parentcustomerid":
				ch.fields["parentcustomeridtype"] = nil
			}
			return nil
		}
		set, id, ok := parseRef(v)
		if !ok || set != target || !isGUID(id) {
			return errPayload(e, "The URI '%v' is not valid for the navigation property '%s'.", v, nav)
		}
		id = strings.ToLower(id)
		te := s.schema.bySet[set]
		if _, err := s.st.get(te, id); errors.Is(err, errNoRow) {
			return errNotFound(te, id)
		} else if err != nil {
			return internal(err)
		}
		if a.typ == tOwner {
			ch.owner = id
			return nil
		}
		ch.fields[a.readName()] = id
		switch a.name {
		case "regardingobjectid":
			ch.fields["regardingobjecttypecode"] = te.name
		case "parentcustomerid":
			ch.fields["parentcustomeridtype"] = te.name
		}
		return nil
	}
	// "Troubleshoot Dataverse Web API client errors": an undeclared
	// navigation property in @odata.bind.
	return errPayload(e, "An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.", nav)
}

func (s *Server) parseParties(e *entity, v any) ([]partyIn, *apiError) {
	list, ok := v.([]any)
	if !ok {
		return nil, errPayload(e, "A collection was expected for the navigation property '%s'.", e.partiesNav)
	}
	pe := s.schema.byName["activityparty"]
	out := make([]partyIn, 0, len(list))
	for _, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, errPayload(e, "An object was expected in '%s'.", e.partiesNav)
		}
		var p partyIn
		for k, v := range obj {
			switch k {
			case "participationtypemask":
				n, ok := v.(json.Number)
				i, err := n.Int64()
				if !ok || err != nil || i < 1 || i > 13 {
					return nil, errPayload(pe, "Cannot convert the literal '%v' to the expected type 'Edm.Int32'.", v)
				}
				p.mask = i
			case "addressused":
				a, ok := v.(string)
				if !ok {
					return nil, errPayload(pe, "Cannot convert the literal '%v' to the expected type 'Edm.String'.", v)
				}
				p.address = a
			case "partyid_contact@odata.bind", "partyid_systemuser@odata.bind":
				set, id, ok := parseRef(v)
				want := strings.TrimSuffix(strings.TrimPrefix(k, "partyid_"), "@odata.bind")
				te := s.schema.byName[want]
				if !ok || set != te.set {
					return nil, errPayload(pe, "The URI '%v' is not valid for the navigation property 'partyid_%s'.", v, want)
				}
				if _, err := s.st.get(te, id); errors.Is(err, errNoRow) {
					return nil, errNotFound(te, id)
				} else if err != nil {
					return nil, internal(err)
				}
				p.kind, p.id = want, id
			default:
				return nil, errInvalidProperty(pe, k)
			}
		}
		if p.mask == 0 {
			return nil, errPayload(pe, "The property 'participationtypemask' is required.")
		}
		if p.id == "" && p.address == "" {
			return nil, errPayload(pe, "An activity party needs a partyid or an addressused.")
		}
		out = append(out, p)
	}
	return out, nil
}

// apply writes a validated change into row rw.
func (s *Server) apply(rw *row, ch *change, c *caller, now time.Time) {
	fs := rw.fields()
	for k, v := range ch.fields {
		fs[k] = v
	}
	if ch.owner != "" {
		rw.owner = ch.owner
	}
	fs["_modifiedby_value"] = c.userID()
	rw.modified = now
	switch rw.entity.name {
	case "contact", "systemuser":
		first, _ := fs["firstname"].(string)
		last, _ := fs["lastname"].(string)
		if full := strings.TrimSpace(first + " " + last); full != "" {
			fs["fullname"] = full
		} else {
			fs["fullname"] = nil
		}
	}
}

// writeParties replaces the parties of activity rw.
func (s *Server) writeParties(tx *gorm.DB, rw *row, parties []partyIn, now time.Time) error {
	if err := tx.Where("entity = ? AND ref = ?", "activityparty", rw.id).Delete(&rowModel{}).Error; err != nil {
		return err
	}
	pe := s.schema.byName["activityparty"]
	for _, p := range parties {
		pr := &row{entity: pe, id: uuid.NewString(), created: now, modified: now, data: map[string]any{
			"_activityid_value":     rw.id,
			"participationtypemask": json.Number(fmt.Sprint(p.mask)),
			"addressused":           nilIfEmpty(p.address),
			"_partyid_value":        nilIfEmpty(p.id),
			"partyobjecttypecode":   nilIfEmpty(p.kind),
		}}
		if err := s.st.put(tx, pr); err != nil {
			return err
		}
	}
	return nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// writable refuses writes to tables that the Web API does not write
// directly.
func writable(c *caller, e *entity) *apiError {
	switch e.name {
	case "activityparty":
		return &apiError{http.StatusMethodNotAllowed, "0x80040216", "The 'Create', 'Update' and 'Delete' messages are not supported on entity 'activityparty'; write parties through their activity.", nil}
	case "systemuser":
		if c.user != nil {
			return errPrivilege(c.userID(), "prvWriteUser", e)
		}
	}
	return nil
}

// create answers POST on an entity set ("Create a table row using the Web
// API"). A body that gives a primary key that exists gets 412
// DuplicateRecord, which is what makes a retried create safe.
func (s *Server) create(w http.ResponseWriter, r *http.Request, c *caller, e *entity, body []byte) *apiError {
	if err := writable(c, e); err != nil {
		return err
	}
	ch, aerr := s.parseBody(e, body)
	if aerr != nil {
		return aerr
	}
	id := ch.hasKey
	if id == "" {
		id = uuid.NewString()
	}
	return s.insert(w, r, c, e, id, ch, http.StatusCreated)
}

func (s *Server) insert(w http.ResponseWriter, r *http.Request, c *caller, e *entity, id string, ch *change, okStatus int) *apiError {
	if ch.owner != "" && ch.owner != c.userID() && c.user != nil {
		return errPrivilege(c.userID(), privilegeName("Assign", e), e)
	}
	now := s.now()
	rw := &row{entity: e, id: id, owner: c.userID(), created: now, modified: now, data: map[string]any{}}
	fs := rw.fields()
	for _, a := range e.attrs {
		if a.def != nil {
			fs[a.readName()] = a.def
		}
	}
	fs["_createdby_value"] = c.userID()
	s.apply(rw, ch, c, now)
	err := s.st.write(func(tx *gorm.DB) error {
		taken, err := s.st.exists(tx, e, id)
		if err != nil {
			return err
		}
		if taken {
			return errDuplicate()
		}
		if err := s.st.put(tx, rw); err != nil {
			return err
		}
		if e.activity && ch.parties != nil {
			if err := s.writeParties(tx, rw, ch.parties, now); err != nil {
				return err
			}
		}
		if e.name == seriesEntity {
			return s.expand(tx, rw, now)
		}
		return nil
	})
	if err != nil {
		return asAPIError(err)
	}
	return s.written(w, r, rw, okStatus)
}

func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return internal(err)
}

// written answers a successful write: 204 with OData-EntityId, or the
// record with Prefer: return=representation (201 for a create, 200 for an
// update).
func (s *Server) written(w http.ResponseWriter, r *http.Request, rw *row, status int) *apiError {
	p := parsePrefer(r.Header)
	if p.representation {
		q, err := s.parseQuery(r, rw.entity)
		if err != nil {
			return err
		}
		p.applied = append(p.applied, "return=representation")
		return s.writeEntity(w, r, status, rw, q, p, "")
	}
	w.Header().Set("OData-Version", "4.0")
	w.Header().Set("OData-EntityId", baseURL(r)+rw.entity.set+"("+rw.id+")")
	w.Header().Set("ETag", rw.etag())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// update answers PATCH on a record: an update, or an upsert when the record
// does not exist ("Use upsert to create or update a record"). If-Match
// prevents the create and makes the update conditional on the ETag;
// If-None-Match: * prevents the update.
func (s *Server) update(w http.ResponseWriter, r *http.Request, c *caller, e *entity, id string, body []byte) *apiError {
	if err := writable(c, e); err != nil {
		return err
	}
	ch, aerr := s.parseBody(e, body)
	if aerr != nil {
		return aerr
	}
	if ch.hasKey != "" && ch.hasKey != id {
		return errBadRequest("The primary key in the body does not match the one in the URL.")
	}
	ifMatch := r.Header.Get("If-Match")
	ifNoneMatch := r.Header.Get("If-None-Match")
	current, err := s.st.get(e, id)
	if errors.Is(err, errNoRow) {
		if ifMatch != "" {
			return errNotFound(e, id)
		}
		return s.insert(w, r, c, e, id, ch, http.StatusOK)
	}
	if err != nil {
		return internal(err)
	}
	// Access first, so that a refusal does not tell whether the record
	// exists.
	if ok, err := s.canWrite(c, current); err != nil {
		return internal(err)
	} else if !ok {
		return errAccess(c.userID(), e, id, privilegeName("Write", e))
	}
	if ifNoneMatch == "*" {
		return errDuplicate()
	}
	if ch.owner != "" && ch.owner != current.owner && c.user != nil && c.userID() != current.owner {
		return errPrivilege(c.userID(), privilegeName("Assign", e), e)
	}
	var rw *row
	err = s.st.write(func(tx *gorm.DB) error {
		var m rowModel
		if err := tx.Where("entity = ? AND id = ?", e.name, id).Take(&m).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return errNotFound(e, id)
		} else if err != nil {
			return err
		}
		cur, err := s.st.decode(&m)
		if err != nil {
			return err
		}
		if ifMatch != "" && ifMatch != "*" && ifMatch != cur.etag() {
			return errVersionMismatch()
		}
		now := s.now()
		old := maps.Clone(cur.fields())
		s.apply(cur, ch, c, now)
		beforeUpdate(cur, ch)
		if err := s.st.put(tx, cur); err != nil {
			return err
		}
		if e.activity && ch.parties != nil {
			if err := s.writeParties(tx, cur, ch.parties, now); err != nil {
				return err
			}
		}
		if err := s.afterUpdate(tx, cur, old, ch, now); err != nil {
			return err
		}
		rw = cur
		return nil
	})
	if err != nil {
		return asAPIError(err)
	}
	return s.written(w, r, rw, http.StatusOK)
}

// delete answers DELETE on a record, conditional on If-Match when given.
func (s *Server) delete(w http.ResponseWriter, r *http.Request, c *caller, e *entity, id string) *apiError {
	if err := writable(c, e); err != nil {
		return err
	}
	current, err := s.st.get(e, id)
	if errors.Is(err, errNoRow) {
		return errNotFound(e, id)
	}
	if err != nil {
		return internal(err)
	}
	if ok, err := s.canWrite(c, current); err != nil {
		return internal(err)
	} else if !ok {
		return errAccess(c.userID(), e, id, privilegeName("Delete", e))
	}
	ifMatch := r.Header.Get("If-Match")
	err = s.st.write(func(tx *gorm.DB) error {
		var m rowModel
		if err := tx.Where("entity = ? AND id = ?", e.name, id).Take(&m).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return errNotFound(e, id)
		} else if err != nil {
			return err
		}
		if ifMatch != "" && ifMatch != "*" && ifMatch != fmt.Sprintf(`W/"%d"`, m.Version) {
			return errVersionMismatch()
		}
		if err := s.beforeDelete(tx, e, &m, s.now()); err != nil {
			return err
		}
		if err := s.st.remove(tx, e, id, s.now()); err != nil {
			return err
		}
		if err := tx.Where("entity = ? AND id = ?", e.name, id).Delete(&shareModel{}).Error; err != nil {
			return err
		}
		return tx.Where("entity = ? AND ref = ?", "activityparty", id).Delete(&rowModel{}).Error
	})
	if err != nil {
		return asAPIError(err)
	}
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
