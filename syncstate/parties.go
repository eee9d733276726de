package syncstate

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/mapping"
)

// The organizer and attendees of an appointment (Dataverse activity
// parties, "ActivityParty table": participationtypemask 7 organizer, 5
// required and 6 optional attendee), and the sender and recipients of an
// e-mail (1 sender, 2 to, 3 cc; the e-mail journal is read-only, so they
// only go from the CRM to the client), are one pseudo-column of the item,
// partiesColumn, so that the snapshot, diff, outbox and merge treat the
// list as one unit: changed on both sides, the later writer's list wins
// whole. Its value is the list as a calendar object can hold it, one line
// per party, "<mask> <address>" with the address in lower case, sorted:
//
//	5 anna@example.com
//	7 alice@crmdav.demo
//
// The client's side is its ORGANIZER and ATTENDEEs with mailto: addresses.
// The CRM's side is its parties of those roles, each with its addressused,
// or, when the CRM keeps none, the e-mail of the record it names. Writing,
// each address is resolved to a CRM user (internalemailaddress or sign-in
// name) or else a contact (emailaddress1–3); an address that resolves to
// nothing is written as an unresolved party (addressused only), so it stays
// in the CRM and in the client's object alike. Parties of other roles, and
// parties the CRM has without any address, are not the client's to change
// and are kept as they are.
const partiesColumn = "activity_parties"

// pseudoMark, in a snapshot, says that the item's pseudo-columns (its
// parties and exceptions) are synchronized. An item last synchronized
// before they were has client parties and exceptions in its object that
// the CRM never got and its snapshot lacks; upgrade queues them once, as a
// client change accepted long ago (so that any CRM change since wins), and
// marks the snapshot. Without it, the merge would take the CRM's empty
// list for the client's and drop the attendees from the object.
const pseudoMark = "crmdav:pseudo-columns"

// upgrade brings an item synchronized before pseudo-columns existed into
// line (see pseudoMark); a create still pending is left alone (it carries
// them).
func (y *Syncer) upgrade(tx *gorm.DB, s *itemState) error {
	if !hasParties(s.kind()) || s.idm.CRMETag == "" {
		return nil
	}
	if _, ok := s.snapshot[pseudoMark]; ok {
		return nil
	}
	queue := crmclient.Columns{}
	for k, v := range s.mirror {
		if (k == partiesColumn || isExcColumn(k)) && v != "" {
			if _, synced := s.snapshot[k]; !synced {
				queue[k] = v
			}
		}
	}
	s.snapshot[pseudoMark] = "1"
	if err := saveSnapshot(tx, s.item.ID, s.snapshot); err != nil {
		return err
	}
	if len(queue) == 0 || s.kind() == crmclient.Email {
		return nil // e-mails are read-only for clients
	}
	y.log.Info("queued the parties and exceptions of an item synchronized before they were", "href", s.item.Href, "columns", len(queue))
	return y.st.enqueue(tx, s.item.ID, s.col, s.kind(), opUpdate, s.idm.CRMID, queue, time.Unix(0, 0).UTC())
}

// hasParties reports whether the parties of records of kind k are
// synchronized.
func hasParties(k crmclient.Kind) bool {
	return k == crmclient.Appointment || k == crmclient.RecurringAppointment || k == crmclient.Email
}

func mappedRole(k crmclient.Kind, r crmclient.Role) bool {
	for _, m := range mapping.PartyRoles(k) {
		if m == r {
			return true
		}
	}
	return false
}

// encodeParties is the value of a party list; parties without an address
// or of other roles are not in it.
func encodeParties(k crmclient.Kind, ps []crmclient.Party) string {
	lines := make([]string, 0, len(ps))
	seen := map[string]bool{}
	for _, p := range ps {
		a := strings.ToLower(strings.TrimSpace(p.Address))
		if a == "" || !mappedRole(k, p.Role) {
			continue
		}
		l := strconv.Itoa(int(p.Role)) + " " + a
		if !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func decodeParties(v string) []crmclient.Party {
	out := []crmclient.Party{}
	for _, l := range strings.Split(v, "\n") {
		role, addr, ok := strings.Cut(l, " ")
		n, err := strconv.Atoi(role)
		if !ok || err != nil || addr == "" {
			continue
		}
		out = append(out, crmclient.Party{Role: crmclient.Role(n), Address: addr})
	}
	return out
}

// partyValue is the CRM's side of partiesColumn for rec; false when the
// kind has no synchronized parties or rec was read without them.
func partyValue(rec crmclient.Record) (string, bool) {
	if !hasParties(rec.Kind) || rec.Parties == nil {
		return "", false
	}
	return encodeParties(rec.Kind, rec.Parties), true
}

// crmColumns are the columns of rec the item of codec cd holds: the
// mapped ones and, when rec was read with its parties, partiesColumn.
func crmColumns(cd codec, rec crmclient.Record) crmclient.Columns {
	cols := only(rec.Columns, cd.columns(rec.Kind))
	if v, ok := partyValue(rec); ok {
		cols[partiesColumn] = v
	}
	return cols
}

// partyCache remembers what addresses resolved to (and that some resolved
// to nothing) for a while, so that a round looks each address up at most
// once and repeated rounds not at all; it holds at most max entries.
type partyCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[string]cachedParty
}

type cachedParty struct {
	kind, id string // "" when the address resolved to nothing
	at       time.Time
}

func newPartyCache() *partyCache {
	return &partyCache{ttl: 15 * time.Minute, max: 10000, entries: map[string]cachedParty{}}
}

func (c *partyCache) get(addr string, now time.Time) (cachedParty, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[addr]
	if !ok || now.Sub(e.at) > c.ttl {
		return cachedParty{}, false
	}
	return e, true
}

func (c *partyCache) put(addr string, e cachedParty) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Full: drop the oldest half.
		type kv struct {
			k string
			t time.Time
		}
		all := make([]kv, 0, len(c.entries))
		for k, v := range c.entries {
			all = append(all, kv{k, v.at})
		}
		sort.Slice(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
		for _, x := range all[:len(all)/2] {
			delete(c.entries, x.k)
		}
	}
	c.entries[addr] = e
}

// resolve finds the CRM record behind each address (lower case): users
// first (a colleague is a user, whatever contacts share the address), then
// contacts, in batched requests, through the cache.
func (y *Syncer) resolve(ctx context.Context, addrs []string) (map[string]cachedParty, error) {
	now := time.Now()
	out := map[string]cachedParty{}
	var todo []string
	for _, a := range addrs {
		if e, ok := y.parties.get(a, now); ok {
			out[a] = e
		} else if _, dup := out[a]; !dup {
			out[a] = cachedParty{}
			todo = append(todo, a)
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	found := map[string]cachedParty{}
	for start := 0; start < len(todo); start += 50 {
		users, err := y.crm.FindUsers(ctx, todo[start:min(start+50, len(todo))]...)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			for _, a := range []string{u.Email, u.DomainName} {
				if a = strings.ToLower(a); a != "" {
					if _, ok := found[a]; !ok {
						found[a] = cachedParty{kind: "systemuser", id: u.ID}
					}
				}
			}
		}
	}
	var rest []string
	for _, a := range todo {
		if _, ok := found[a]; !ok {
			rest = append(rest, a)
		}
	}
	if len(rest) > 0 {
		contacts, err := y.crm.FindContacts(ctx, rest...)
		if err != nil {
			return nil, err
		}
		sort.Slice(contacts, func(i, j int) bool { return contacts[i].ID < contacts[j].ID })
		for _, c := range contacts {
			for _, col := range []string{"emailaddress1", "emailaddress2", "emailaddress3"} {
				if a := strings.ToLower(c.Columns[col]); a != "" {
					if _, ok := found[a]; !ok {
						found[a] = cachedParty{kind: "contact", id: c.ID}
					}
				}
			}
		}
	}
	for _, a := range todo {
		e := found[a]
		e.at = now
		y.parties.put(a, e)
		out[a] = e
	}
	return out, nil
}

// partiesToWrite turns a party list value into the parties to write: each
// resolved where it can be, and the CRM's parties that are not the
// client's to change (other roles, no address) kept from current.
func (y *Syncer) partiesToWrite(ctx context.Context, k crmclient.Kind, value string, current []crmclient.Party) ([]crmclient.Party, error) {
	want := decodeParties(value)
	addrs := make([]string, len(want))
	for i, p := range want {
		addrs[i] = p.Address
	}
	res, err := y.resolve(ctx, addrs)
	if err != nil {
		return nil, err
	}
	out := make([]crmclient.Party, 0, len(want)+len(current))
	for _, p := range current {
		if !mappedRole(k, p.Role) || strings.TrimSpace(p.Address) == "" {
			out = append(out, p)
		}
	}
	for _, p := range want {
		r := res[p.Address]
		out = append(out, crmclient.Party{Role: p.Role, Address: p.Address, PartyKind: r.kind, PartyID: r.id})
	}
	return out, nil
}

// fillAddresses gives the parties of recs that the CRM keeps without
// addressused the e-mail of the record they name, looked up in one request
// per kind of record.
func (y *Syncer) fillAddresses(ctx context.Context, recs []crmclient.Record) error {
	want := map[string]map[string]bool{}
	for _, r := range recs {
		for _, p := range r.Parties {
			if strings.TrimSpace(p.Address) == "" && p.PartyID != "" && (p.PartyKind == "contact" || p.PartyKind == "systemuser") {
				if want[p.PartyKind] == nil {
					want[p.PartyKind] = map[string]bool{}
				}
				want[p.PartyKind][p.PartyID] = true
			}
		}
	}
	found := map[string]string{}
	for kind, set := range want {
		ids := make([]string, 0, len(set))
		for id := range set {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		got, err := y.crm.Addresses(ctx, kind, ids)
		if err != nil {
			return err
		}
		for id, a := range got {
			found[kind+"/"+id] = a
		}
	}
	if len(found) == 0 {
		return nil
	}
	for i := range recs {
		for j, p := range recs[i].Parties {
			if strings.TrimSpace(p.Address) == "" {
				if a, ok := found[p.PartyKind+"/"+p.PartyID]; ok {
					recs[i].Parties[j].Address = a
				}
			}
		}
	}
	return nil
}
