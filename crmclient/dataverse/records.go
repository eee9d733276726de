package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/crmdav/crmdav/crmclient"
)

// page is one page of a collection answer; its entities are decoded one by
// one with scanObject.
type page struct {
	Value     []json.RawMessage `json:"value"`
	NextLink  string            `json:"@odata.nextLink"`
	DeltaLink string            `json:"@odata.deltaLink"`
}

// decodeRecord turns one entity of an answer into a Record. Expanded
// parties, when present, are decoded too.
func decodeRecord(k crmclient.Kind, raw []byte) (crmclient.Record, error) {
	rec := crmclient.Record{Kind: k, Columns: make(crmclient.Columns, 48)}
	key := primaryKey(k)
	nav := ""
	if k.IsActivity() {
		nav = partiesNav(k)
	}
	regardingKind := ""
	err := scanObject(raw, func(m *member) error {
		switch {
		case m.name == "@odata.etag":
			rec.ETag = m.str
		case m.name == regardingValue+lookupAnnotation:
			regardingKind = m.str
		case m.name == nav:
			var ps []json.RawMessage
			if err := json.Unmarshal(m.raw, &ps); err != nil {
				return err
			}
			rec.Parties = make([]crmclient.Party, 0, len(ps))
			for _, p := range ps {
				f, err := textMap(p)
				if err != nil {
					return err
				}
				rec.Parties = append(rec.Parties, decodeParty(f))
			}
		case strings.IndexByte(m.name, '@') >= 0:
			// annotations
		case m.name == key:
			rec.ID = strings.ToLower(m.str)
		case m.name == "_ownerid_value":
			rec.Owner = strings.ToLower(m.str)
		case m.name == "modifiedon":
			if t, err := time.Parse(time.RFC3339, m.str); err == nil {
				rec.ModifiedOn = t.UTC()
			}
		case m.name == "versionnumber":
		case !m.isStr && len(m.raw) > 0 && (m.raw[0] == '{' || m.raw[0] == '['):
			// other navigation properties
		default:
			rec.Columns[m.name] = m.text()
		}
		return nil
	})
	if err != nil {
		return rec, err
	}
	if rec.ID == "" {
		return rec, fmt.Errorf("answer has no %s", key)
	}
	if id, read := rec.Columns[regardingValue]; read && k.IsActivity() {
		if regardingKind == "" {
			regardingKind = rec.Columns["regardingobjecttypecode"]
		}
		rec.Columns[crmclient.RegardingColumn] = ""
		if id != "" && regardingKind != "" {
			rec.Columns[crmclient.RegardingColumn] = regardingKind + ":" + strings.ToLower(id)
		}
	}
	return rec, nil
}

// The regarding of an activity: the polymorphic lookup regardingobjectid,
// read as _regardingobjectid_value with the logical name of its table in
// the lookuplogicalname annotation (asked for through Prefer:
// odata.include-annotations), written through the typed navigation property
// regardingobjectid_<table>_<activity>@odata.bind and cleared by setting one
// of them to null ("Associate and disassociate table rows using the Web
// API": "To disassociate, set the value to null").
const (
	regardingValue   = "_regardingobjectid_value"
	lookupAnnotation = "@Microsoft.Dynamics.CRM.lookuplogicalname"
)

// regardingSets are the entity sets of the tables an activity may regard
// that the adapter writes: the standard tables that are activity-enabled
// in Dataverse. A regarding of another table is read, and refused on write.
var regardingSets = map[string]string{
	"account": "accounts", "contact": "contacts", "lead": "leads", "opportunity": "opportunities",
	"incident": "incidents", "campaign": "campaigns", "quote": "quotes", "salesorder": "salesorders",
	"invoice": "invoices", "contract": "contracts",
}

// regardingBind turns a crmclient.RegardingColumn value into the member of
// a PATCH or POST body that writes it.
func regardingBind(k crmclient.Kind, v string) (name string, value any, err error) {
	if v == "" {
		return "regardingobjectid_contact_" + string(k) + "@odata.bind", nil, nil
	}
	target, id, _ := strings.Cut(v, ":")
	set, ok := regardingSets[target]
	if _, perr := uuid.Parse(id); !ok || perr != nil || len(id) != 36 {
		return "", nil, fmt.Errorf("regarding %q is not <table>:<guid> of a table among %s", v, regardingTables())
	}
	return "regardingobjectid_" + target + "_" + string(k) + "@odata.bind", "/" + set + "(" + strings.ToLower(id) + ")", nil
}

func regardingTables() string {
	names := make([]string, 0, len(regardingSets))
	for n := range regardingSets {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// textMap decodes a flat entity into Columns-encoded strings by name,
// annotations included.
func textMap(raw []byte) (map[string]string, error) {
	out := map[string]string{}
	err := scanObject(raw, func(m *member) error {
		out[m.name] = m.text()
		return nil
	})
	return out, err
}

// encodeColumns writes cols as a JSON body, typed by the kind's metadata.
// Keys ending in @odata.bind pass through as references.
func (cl *Client) encodeColumns(ctx context.Context, k crmclient.Kind, cols crmclient.Columns, extra map[string]any) ([]byte, error) {
	types, err := cl.attributeTypes(ctx, k)
	if err != nil {
		return nil, err
	}
	body := make(map[string]any, len(cols)+len(extra))
	for name, v := range cols {
		if name == crmclient.RegardingColumn && k.IsActivity() {
			n, jv, err := regardingBind(k, v)
			if err != nil {
				return nil, &crmclient.Error{Op: "encode", Kind: k, Message: err.Error(), Err: crmclient.ErrRejected}
			}
			body[n] = jv
			continue
		}
		if strings.HasSuffix(name, "@odata.bind") {
			if v != "" {
				body[name] = v
			}
			continue
		}
		jv, err := typed(types[name], v)
		if err != nil {
			return nil, &crmclient.Error{Op: "encode", Kind: k, Message: fmt.Sprintf("column %s: %v", name, err), Err: crmclient.ErrRejected}
		}
		body[name] = jv
	}
	for name, v := range extra {
		body[name] = v
	}
	return json.Marshal(body)
}

// typed converts a Columns string to the JSON value of an attribute type.
// An unknown column is sent as text, for the CRM to refuse.
func typed(attrType, v string) (any, error) {
	if v == "" {
		return nil, nil
	}
	switch attrType {
	case "Integer", "BigInt", "Picklist", "State", "Status":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", v)
		}
		return n, nil
	case "Decimal", "Double", "Money":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return nil, fmt.Errorf("%q is not a number", v)
		}
		return json.Number(v), nil
	case "Boolean":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", v)
		}
		return b, nil
	}
	return v, nil
}

// attributeTypes reads (once) the AttributeType of each column of a kind
// from EntityDefinitions ("Query table definitions using the Web API").
func (cl *Client) attributeTypes(ctx context.Context, k crmclient.Kind) (map[string]string, error) {
	cl.metaMu.Lock()
	defer cl.metaMu.Unlock()
	if m, ok := cl.meta[k]; ok {
		return m, nil
	}
	_, _, body, err := cl.do(ctx, call{op: "metadata", kind: k, method: http.MethodGet,
		url: cl.api + "EntityDefinitions(LogicalName='" + string(k) + "')/Attributes?$select=LogicalName,AttributeType"})
	if err != nil {
		return nil, err
	}
	var ans struct {
		Value []struct {
			LogicalName   string
			AttributeType string
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, &crmclient.Error{Op: "metadata", Kind: k, Message: "bad answer: " + err.Error(), Err: crmclient.ErrUnavailable}
	}
	m := make(map[string]string, len(ans.Value))
	for _, a := range ans.Value {
		m[a.LogicalName] = a.AttributeType
	}
	cl.meta[k] = m
	return m, nil
}

// collect reads a collection, following @odata.nextLink, and calls fn for
// each entity; it returns the final delta link, if any.
func (cl *Client) collect(ctx context.Context, c call, fn func(raw []byte) error) (string, error) {
	if c.header == nil {
		c.header = http.Header{}
	}
	prefer := "odata.maxpagesize=" + strconv.Itoa(cl.cfg.PageSize)
	if p := c.header.Get("Prefer"); p != "" {
		prefer = p + "," + prefer
	}
	c.header.Set("Prefer", prefer)
	for {
		_, _, body, err := cl.do(ctx, c)
		if err != nil {
			return "", err
		}
		var p page
		if err := json.Unmarshal(body, &p); err != nil {
			return "", cl.fail(c, 0, "", "bad answer: "+err.Error(), crmclient.ErrUnavailable)
		}
		for _, m := range p.Value {
			if err := fn(m); err != nil {
				return "", err
			}
		}
		if p.NextLink == "" {
			return p.DeltaLink, nil
		}
		// "Don't change the @odata.nextLink URL value"; only follow it
		// to the same CRM, which gets our token.
		if !strings.HasPrefix(p.NextLink, cl.api) {
			return "", cl.fail(c, 0, "", "next link leaves the CRM: "+p.NextLink, crmclient.ErrUnavailable)
		}
		c.url = p.NextLink
	}
}

func (cl *Client) selectQuery(k crmclient.Kind) url.Values {
	v := url.Values{}
	if sel := cl.cfg.Select[k]; len(sel) > 0 {
		cols := []string{primaryKey(k), "versionnumber", "modifiedon", "_ownerid_value"}
		for _, n := range sel {
			if n == crmclient.RegardingColumn {
				n = regardingValue
			}
			cols = append(cols, n)
		}
		v.Set("$select", strings.Join(cols, ","))
	}
	return v
}

func (cl *Client) setURL(k crmclient.Kind, q url.Values) string {
	u := cl.api + entitySet(k)
	if len(q) > 0 {
		u += "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	}
	return u
}

// Changes reads the change feed of one kind as the application
// ("Use change tracking to synchronize data with external systems").
func (cl *Client) Changes(ctx context.Context, k crmclient.Kind, token string) (crmclient.ChangeSet, error) {
	if err := checkKind("changes", k); err != nil {
		return crmclient.ChangeSet{}, err
	}
	q := cl.selectQuery(k)
	c := call{op: "changes", kind: k, method: http.MethodGet, header: http.Header{}}
	if token == "" {
		c.header.Set("Prefer", "odata.track-changes")
	} else {
		q.Set("$deltatoken", token)
	}
	if k.IsActivity() {
		// The table of an activity's regarding is in an annotation.
		if p := c.header.Get("Prefer"); p != "" {
			c.header.Set("Prefer", p+","+annotationsPrefer)
		} else {
			c.header.Set("Prefer", annotationsPrefer)
		}
	}
	c.url = cl.setURL(k, q)
	var cs crmclient.ChangeSet
	delta, err := cl.collect(ctx, c, func(raw []byte) error {
		// "$deletedEntity" entries: {"@odata.context": "…/$deletedEntity", "id": …, "reason": "deleted"}
		if bytes.Contains(raw, []byte("$deletedEntity")) {
			f, err := textMap(raw)
			if err != nil {
				return cl.fail(c, 0, "", "bad record: "+err.Error(), crmclient.ErrUnavailable)
			}
			if f["reason"] == "deleted" && strings.HasSuffix(f["@odata.context"], "/$deletedEntity") {
				cs.Deleted = append(cs.Deleted, strings.ToLower(f["id"]))
				return nil
			}
		}
		rec, err := decodeRecord(k, raw)
		if err != nil {
			return cl.fail(c, 0, "", "bad record: "+err.Error(), crmclient.ErrUnavailable)
		}
		cs.Changed = append(cs.Changed, rec)
		return nil
	})
	if err != nil {
		return crmclient.ChangeSet{}, err
	}
	u, err := url.Parse(delta)
	if delta == "" || err != nil || u.Query().Get("$deltatoken") == "" {
		return crmclient.ChangeSet{}, cl.fail(c, 0, "", "change tracking answer without a delta link", crmclient.ErrUnavailable)
	}
	cs.Token = u.Query().Get("$deltatoken")
	return cs, nil
}

// maxFilterIDs bounds the ids in one $filter, keeping URLs far below
// Dataverse's 32 KiB limit.
const maxFilterIDs = 200

// Parties reads the activity parties of many activities with few requests.
func (cl *Client) Parties(ctx context.Context, k crmclient.Kind, ids []string) (map[string][]crmclient.Party, error) {
	if err := checkKind("parties", k); err != nil {
		return nil, err
	}
	out := make(map[string][]crmclient.Party, len(ids))
	for start := 0; start < len(ids); start += maxFilterIDs {
		chunk := ids[start:min(start+maxFilterIDs, len(ids))]
		conds := make([]string, len(chunk))
		for i, id := range chunk {
			conds[i] = "_activityid_value eq " + id
		}
		q := url.Values{}
		q.Set("$select", "_activityid_value,_partyid_value,participationtypemask,addressused")
		q.Set("$filter", strings.Join(conds, " or "))
		c := call{op: "parties", kind: k, method: http.MethodGet, url: cl.api + "activityparties?" + strings.ReplaceAll(q.Encode(), "+", "%20"),
			header: http.Header{"Prefer": {`odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"`}}}
		_, err := cl.collect(ctx, c, func(raw []byte) error {
			f, err := textMap(raw)
			if err != nil {
				return cl.fail(c, 0, "", "bad record: "+err.Error(), crmclient.ErrUnavailable)
			}
			act := strings.ToLower(f["_activityid_value"])
			out[act] = append(out[act], decodeParty(f))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func decodeParty(f map[string]string) crmclient.Party {
	mask, _ := strconv.Atoi(f["participationtypemask"])
	p := crmclient.Party{Role: crmclient.Role(mask), Address: f["addressused"]}
	if id := f["_partyid_value"]; id != "" {
		p.PartyID = strings.ToLower(id)
		p.PartyKind = f["_partyid_value@Microsoft.Dynamics.CRM.lookuplogicalname"]
	}
	return p
}

func encodeParties(ps []crmclient.Party) []map[string]any {
	out := make([]map[string]any, 0, len(ps))
	for _, p := range ps {
		m := map[string]any{"participationtypemask": int(p.Role)}
		if p.Address != "" {
			m["addressused"] = p.Address
		}
		if p.PartyID != "" {
			set := "contacts"
			if p.PartyKind == "systemuser" {
				set = "systemusers"
			}
			m["partyid_"+p.PartyKind+"@odata.bind"] = "/" + set + "(" + p.PartyID + ")"
		}
		out = append(out, m)
	}
	return out
}

func (cl *Client) recordURL(k crmclient.Kind, id string, q url.Values) string {
	u := cl.api + entitySet(k) + "(" + id + ")"
	if len(q) > 0 {
		u += "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	}
	return u
}

// readQuery is the query of a single-record read: the selected columns and,
// for activities, the parties.
func (cl *Client) readQuery(k crmclient.Kind) url.Values {
	q := cl.selectQuery(k)
	if k.IsActivity() {
		q.Set("$expand", partiesNav(k)+"($select=_partyid_value,participationtypemask,addressused)")
	}
	return q
}

func (cl *Client) decodeOne(c call, body []byte) (crmclient.Record, error) {
	rec, err := decodeRecord(c.kind, body)
	if err != nil {
		return rec, cl.fail(c, 0, "", "bad answer: "+err.Error(), crmclient.ErrUnavailable)
	}
	if c.kind.IsActivity() && rec.Parties == nil {
		rec.Parties = []crmclient.Party{}
	}
	return rec, nil
}

var annotationsPrefer = `odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"`

// Get reads one record as user as (the zero User: as the application);
// activities come with their parties.
func (cl *Client) Get(ctx context.Context, as crmclient.User, k crmclient.Kind, id string) (crmclient.Record, error) {
	if err := checkKind("get", k); err != nil {
		return crmclient.Record{}, err
	}
	c := call{op: "get", kind: k, id: id, method: http.MethodGet, url: cl.recordURL(k, id, cl.readQuery(k)),
		header: http.Header{"Prefer": {annotationsPrefer}}}
	if as != (crmclient.User{}) {
		c.as = &as
	}
	_, _, body, err := cl.do(ctx, c)
	if err != nil {
		return crmclient.Record{}, err
	}
	return cl.decodeOne(c, body)
}

// Create makes rec as user as with the id rec.ID. A POST that gives the
// primary key is refused with 412 DuplicateRecord when the record exists,
// so a retry after a lost answer finds the record instead of making a
// second one.
func (cl *Client) Create(ctx context.Context, as crmclient.User, rec crmclient.Record) (crmclient.Record, error) {
	if err := checkKind("create", rec.Kind); err != nil {
		return crmclient.Record{}, err
	}
	if rec.ID == "" {
		return crmclient.Record{}, &crmclient.Error{Op: "create", Kind: rec.Kind, Err: fmt.Errorf("%w: a create needs the id the caller chose", crmclient.ErrRejected)}
	}
	extra := map[string]any{primaryKey(rec.Kind): rec.ID}
	if rec.Owner != "" && rec.Owner != as.ID {
		extra["ownerid@odata.bind"] = "/systemusers(" + rec.Owner + ")"
	}
	if rec.Kind.IsActivity() && rec.Parties != nil {
		extra[partiesNav(rec.Kind)] = encodeParties(rec.Parties)
	}
	cols := rec.Columns
	if v, ok := cols[crmclient.RegardingColumn]; ok && v == "" {
		// A new record regards nothing already: no null bind to send.
		cols = cols.Clone()
		delete(cols, crmclient.RegardingColumn)
	}
	body, err := cl.encodeColumns(ctx, rec.Kind, cols, extra)
	if err != nil {
		return crmclient.Record{}, err
	}
	c := call{op: "create", kind: rec.Kind, id: rec.ID, method: http.MethodPost, url: cl.setURL(rec.Kind, cl.readQuery(rec.Kind)),
		body: body, as: &as, header: http.Header{"Prefer": {"return=representation", annotationsPrefer}}}
	_, _, ans, err := cl.do(ctx, c)
	if errors.Is(err, crmclient.ErrExists) {
		return cl.Get(ctx, as, rec.Kind, rec.ID)
	}
	if err != nil {
		return crmclient.Record{}, err
	}
	return cl.decodeOne(c, ans)
}

// Update writes only cols (and the parties, when not nil) if the record is
// still at version etag; a stale etag gives crmclient.ErrPrecondition.
func (cl *Client) Update(ctx context.Context, as crmclient.User, k crmclient.Kind, id, etag string, cols crmclient.Columns, parties []crmclient.Party) (crmclient.Record, error) {
	if err := checkKind("update", k); err != nil {
		return crmclient.Record{}, err
	}
	var extra map[string]any
	if k.IsActivity() && parties != nil {
		extra = map[string]any{partiesNav(k): encodeParties(parties)}
	}
	body, err := cl.encodeColumns(ctx, k, cols, extra)
	if err != nil {
		return crmclient.Record{}, err
	}
	if etag == "" {
		etag = "*" // update only; never create through upsert
	}
	c := call{op: "update", kind: k, id: id, method: http.MethodPatch, url: cl.recordURL(k, id, cl.readQuery(k)), body: body, as: &as,
		header: http.Header{"If-Match": {etag}, "Prefer": {"return=representation," + annotationsPrefer}}}
	_, _, ans, err := cl.do(ctx, c)
	if err != nil {
		return crmclient.Record{}, err
	}
	return cl.decodeOne(c, ans)
}

// Delete removes a record if it is still at version etag ("" for any).
func (cl *Client) Delete(ctx context.Context, as crmclient.User, k crmclient.Kind, id, etag string) error {
	if err := checkKind("delete", k); err != nil {
		return err
	}
	c := call{op: "delete", kind: k, id: id, method: http.MethodDelete, url: cl.recordURL(k, id, nil), as: &as}
	if etag != "" {
		c.header = http.Header{"If-Match": {etag}}
	}
	_, _, _, err := cl.do(ctx, c)
	return err
}

// List returns the ids and versions of the records of kind that belong to
// a user: owned, or, for activities, with the user as a party; appointments
// that are instances of a series are not listed. It reads as the
// application, without change tracking.
func (cl *Client) List(ctx context.Context, k crmclient.Kind, userID string) ([]crmclient.Version, error) {
	if err := checkKind("list", k); err != nil {
		return nil, err
	}
	key := primaryKey(k)
	filter := "_ownerid_value eq " + userID
	if k.IsActivity() {
		filter += " or " + partiesNav(k) + "/any(p:p/_partyid_value eq " + userID + ")"
	}
	if k == crmclient.Appointment {
		// The instances of a recurring series belong to their master
		// (Instances lists them).
		filter = "seriesid eq null and (" + filter + ")"
	}
	q := url.Values{"$select": {key + ",versionnumber"}, "$filter": {filter}}
	var out []crmclient.Version
	c := call{op: "list", kind: k, method: http.MethodGet, url: cl.setURL(k, q)}
	_, err := cl.collect(ctx, c, func(raw []byte) error {
		f, err := textMap(raw)
		if err != nil {
			return cl.fail(c, 0, "", "bad record: "+err.Error(), crmclient.ErrUnavailable)
		}
		out = append(out, crmclient.Version{ID: strings.ToLower(f[key]), ETag: f["@odata.etag"]})
		return nil
	})
	return out, err
}

// Instances returns the instances and exceptions of the recurring series
// seriesID: the appointments whose seriesid is it ("Create a recurring
// appointment series, instance, or exception"), read as user as.
func (cl *Client) Instances(ctx context.Context, as crmclient.User, seriesID string) ([]crmclient.Record, error) {
	if _, err := uuid.Parse(seriesID); err != nil {
		return nil, &crmclient.Error{Op: "instances", Kind: crmclient.Appointment, ID: seriesID, Message: "not a series id", Err: crmclient.ErrRejected}
	}
	q := cl.selectQuery(crmclient.Appointment)
	if q.Has("$select") {
		q.Set("$select", q.Get("$select")+",seriesid,originalstartdate,instancetypecode")
	}
	q.Set("$filter", "seriesid eq "+strings.ToLower(seriesID))
	c := call{op: "instances", kind: crmclient.Appointment, id: seriesID, method: http.MethodGet, url: cl.setURL(crmclient.Appointment, q)}
	if as != (crmclient.User{}) {
		c.as = &as
	}
	var out []crmclient.Record
	_, err := cl.collect(ctx, c, func(raw []byte) error {
		rec, err := decodeRecord(crmclient.Appointment, raw)
		if err != nil {
			return cl.fail(c, 0, "", "bad record: "+err.Error(), crmclient.ErrUnavailable)
		}
		out = append(out, rec)
		return nil
	})
	return out, err
}

// maxFilterAddresses bounds the addresses of one contact lookup (three
// conditions each).
const maxFilterAddresses = 60

// FindContacts looks contacts up by e-mail address (emailaddress1, 2 or 3,
// compared as Dataverse compares text, without case), reading as the
// application, a few dozen addresses per request.
func (cl *Client) FindContacts(ctx context.Context, addresses ...string) ([]crmclient.Record, error) {
	var out []crmclient.Record
	for start := 0; start < len(addresses); start += maxFilterAddresses {
		var conds []string
		for _, a := range addresses[start:min(start+maxFilterAddresses, len(addresses))] {
			for _, col := range []string{"emailaddress1", "emailaddress2", "emailaddress3"} {
				conds = append(conds, col+" eq "+quote(a))
			}
		}
		q := url.Values{"$select": {"contactid,emailaddress1,emailaddress2,emailaddress3,fullname"}, "$filter": {strings.Join(conds, " or ")}}
		c := call{op: "contacts by address", kind: crmclient.Contact, method: http.MethodGet, url: cl.setURL(crmclient.Contact, q)}
		_, err := cl.collect(ctx, c, func(raw []byte) error {
			rec, err := decodeRecord(crmclient.Contact, raw)
			if err != nil {
				return cl.fail(c, 0, "", "bad record: "+err.Error(), crmclient.ErrUnavailable)
			}
			out = append(out, rec)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Addresses returns the e-mail address of parties known by id only: of
// contacts (emailaddress1) or of users (internalemailaddress), by id,
// reading as the application, up to 200 ids per request. Records without
// an address are left out.
func (cl *Client) Addresses(ctx context.Context, partyKind string, ids []string) (map[string]string, error) {
	var set, key, col string
	switch partyKind {
	case "contact":
		set, key, col = "contacts", "contactid", "emailaddress1"
	case "systemuser":
		set, key, col = "systemusers", "systemuserid", "internalemailaddress"
	default:
		return nil, &crmclient.Error{Op: "addresses", Message: "no addresses for " + partyKind, Err: crmclient.ErrRejected}
	}
	out := map[string]string{}
	for start := 0; start < len(ids); start += maxFilterIDs {
		var conds []string
		for _, id := range ids[start:min(start+maxFilterIDs, len(ids))] {
			if _, err := uuid.Parse(id); err != nil {
				return nil, &crmclient.Error{Op: "addresses", ID: id, Message: "not an id", Err: crmclient.ErrRejected}
			}
			conds = append(conds, key+" eq "+id)
		}
		q := url.Values{"$select": {key + "," + col}, "$filter": {strings.Join(conds, " or ")}}
		c := call{op: "addresses", method: http.MethodGet, url: cl.api + set + "?" + strings.ReplaceAll(q.Encode(), "+", "%20")}
		_, err := cl.collect(ctx, c, func(raw []byte) error {
			f, err := textMap(raw)
			if err != nil {
				return cl.fail(c, 0, "", "bad record: "+err.Error(), crmclient.ErrUnavailable)
			}
			if f[col] != "" {
				out[strings.ToLower(f[key])] = f[col]
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// quote writes s as an OData string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// SearchContacts finds contacts visible to as by name, e-mail or job title.
func (cl *Client) SearchContacts(ctx context.Context, as crmclient.User, text string, limit int) ([]crmclient.Record, error) {
	if limit <= 0 || limit > 5000 {
		limit = 50
	}
	var conds []string
	for _, col := range []string{"fullname", "emailaddress1", "emailaddress2", "emailaddress3", "jobtitle"} {
		conds = append(conds, "contains("+col+","+quote(text)+")")
	}
	q := cl.selectQuery(crmclient.Contact)
	q.Set("$filter", strings.Join(conds, " or "))
	q.Set("$top", strconv.Itoa(limit))
	q.Set("$orderby", "fullname")
	c := call{op: "search", kind: crmclient.Contact, method: http.MethodGet, url: cl.setURL(crmclient.Contact, q), as: &as}
	_, _, body, err := cl.do(ctx, c)
	if err != nil {
		return nil, err
	}
	var p page
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, cl.fail(c, 0, "", "bad answer: "+err.Error(), crmclient.ErrUnavailable)
	}
	out := make([]crmclient.Record, 0, len(p.Value))
	for _, raw := range p.Value {
		rec, err := decodeRecord(crmclient.Contact, raw)
		if err != nil {
			return nil, cl.fail(c, 0, "", "bad record: "+err.Error(), crmclient.ErrUnavailable)
		}
		out = append(out, rec)
	}
	return out, nil
}

// FindUsers looks users up by sign-in name or primary e-mail; "@domain"
// matches every user of the domain. Application users are not people and
// are left out.
func (cl *Client) FindUsers(ctx context.Context, names ...string) ([]crmclient.User, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var conds []string
	for _, n := range names {
		if strings.HasPrefix(n, "@") {
			conds = append(conds, "endswith(domainname,"+quote(n)+")")
		} else {
			conds = append(conds, "domainname eq "+quote(n), "internalemailaddress eq "+quote(n))
		}
	}
	q := url.Values{
		"$select": {"systemuserid,domainname,fullname,internalemailaddress,azureactivedirectoryobjectid,isdisabled"},
		"$filter": {"applicationid eq null and (" + strings.Join(conds, " or ") + ")"},
	}
	var out []crmclient.User
	c := call{op: "users", method: http.MethodGet, url: cl.api + "systemusers?" + strings.ReplaceAll(q.Encode(), "+", "%20")}
	_, err := cl.collect(ctx, c, func(raw []byte) error {
		f, err := textMap(raw)
		if err != nil {
			return cl.fail(c, 0, "", "bad record: "+err.Error(), crmclient.ErrUnavailable)
		}
		out = append(out, crmclient.User{
			ID: strings.ToLower(f["systemuserid"]), ObjectID: strings.ToLower(f["azureactivedirectoryobjectid"]),
			DomainName: f["domainname"], FullName: f["fullname"], Email: f["internalemailaddress"],
			Disabled: f["isdisabled"] == "true",
		})
		return nil
	})
	return out, err
}
