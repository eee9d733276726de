package democrm

import (
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// feedPage is one page of a change-tracking answer.
type feedPage struct {
	rows    map[string]string // id → fullname
	deleted []string
	next    string
	delta   string
}

func (env *testEnv) feedPage(uri string, pageSize int) feedPage {
	env.t.Helper()
	h := map[string]string{"Prefer": fmt.Sprintf("odata.track-changes,odata.maxpagesize=%d", pageSize)}
	a := env.call("GET", uri, h, nil)
	mustStatus(env.t, "change tracking page", a, http.StatusOK)
	m := a.json(env.t)
	p := feedPage{rows: map[string]string{}}
	p.next, _ = m["@odata.nextLink"].(string)
	p.delta, _ = m["@odata.deltaLink"].(string)
	if (p.next == "") == (p.delta == "") {
		env.t.Fatalf("a page needs a next link or a delta link, not both: %s", a.body)
	}
	for _, v := range m["value"].([]any) {
		o := v.(map[string]any)
		if o["reason"] == "deleted" {
			if !strings.HasSuffix(o["@odata.context"].(string), "$metadata#contacts/$deletedEntity") {
				env.t.Errorf("deleted entry %v", o)
			}
			p.deleted = append(p.deleted, o["id"].(string))
			continue
		}
		name, _ := o["fullname"].(string)
		p.rows[o["contactid"].(string)] = name
	}
	if len(p.rows)+len(p.deleted) > pageSize {
		env.t.Fatalf("page of %d entries, max %d", len(p.rows)+len(p.deleted), pageSize)
	}
	return p
}

// TestChangeTrackingLosesNoChange reads the change feed in pages of three
// while contacts are created, updated and deleted between the pages. Every
// contact written during an answer must be in the next answer (unless it
// is written again while that one is read), and after a final quiet delta
// the client's copy must equal the CRM's.
func TestChangeTrackingLosesNoChange(t *testing.T) {
	t.Parallel()
	for seed := int64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			testChangeTrackingLosesNoChange(t, seed)
		})
	}
}

func testChangeTrackingLosesNoChange(t *testing.T, seed int64) {
	env := newEnv(t, Options{})
	rnd := rand.New(rand.NewSource(seed))
	live := map[string]string{} // the CRM's contacts: id → fullname
	n := 0
	write := func() string {
		n++
		ids := make([]string, 0, len(live))
		for id := range live {
			ids = append(ids, id)
		}
		switch op := rnd.Intn(4); {
		case op == 0 || len(ids) < 3:
			name := fmt.Sprintf("Created %d", n)
			id := env.create(nil, map[string]any{"lastname": name})
			live[id] = name
			return id
		case op == 3:
			id := ids[rnd.Intn(len(ids))]
			mustStatus(t, "delete", env.call("DELETE", "contacts("+id+")", nil, nil), http.StatusNoContent)
			delete(live, id)
			return id
		default:
			id := ids[rnd.Intn(len(ids))]
			name := fmt.Sprintf("Updated %d", n)
			mustStatus(t, "update", env.call("PATCH", "contacts("+id+")", map[string]string{"If-Match": "*"}, map[string]any{"lastname": name}), http.StatusNoContent)
			live[id] = name
			return id
		}
	}
	for i := 0; i < 15; i++ {
		name := fmt.Sprint("Initial ", i)
		live[env.create(nil, map[string]any{"lastname": name})] = name
	}
	for i := 0; i < 10; i++ {
		write()
	}

	mirror := map[string]string{}
	// answer reads one change-tracking answer to its delta link, writing
	// between pages when busy; it returns the delta link, what the answer
	// held and what was written while it was read.
	answer := func(uri string, busy bool) (string, map[string]bool, map[string]bool) {
		seen, written := map[string]bool{}, map[string]bool{}
		pages := 0
		pageNo := 1
		for {
			p := env.feedPage(uri, 3)
			pages++
			for id, name := range p.rows {
				mirror[id] = name
				seen[id] = true
			}
			for _, id := range p.deleted {
				delete(mirror, id)
				seen[id] = true
			}
			if p.delta != "" {
				if busy && pages < 3 {
					t.Fatalf("%s: only %d pages", uri, pages)
				}
				return p.delta, seen, written
			}
			pageNo++
			checkCookie(t, p.next, pageNo)
			if busy {
				for j := 0; j < 2; j++ {
					written[write()] = true
				}
			}
			uri = p.next
		}
	}
	delta, _, written := answer("contacts?$select=fullname", true)
	for round := 0; round < 3; round++ {
		for i := 0; i < 12; i++ { // changes before the delta is read
			written[write()] = true
		}
		var seen, next map[string]bool
		delta, seen, next = answer(delta, round < 2)
		for id := range written {
			// A contact written again while the answer was read moves
			// to the answer after: its earlier version is gone.
			if !seen[id] && !next[id] {
				t.Errorf("round %d: contact %s written after the delta token is not in the next delta", round, id)
			}
		}
		written = next
	}
	if len(written) != 0 {
		t.Fatal("the last round must be quiet")
	}
	if fmt.Sprint(mirror) != fmt.Sprint(live) {
		t.Errorf("client copy %v\nCRM %v", mirror, live)
	}
	// The CRM agrees with the test's own bookkeeping.
	a := env.call("GET", "contacts?$select=fullname", nil, nil)
	if got := len(a.json(t)["value"].([]any)); got != len(live) {
		t.Errorf("CRM holds %d contacts, want %d", got, len(live))
	}
}

// checkCookie checks that a next link carries a paging cookie for page
// number page, whose inner cookie names the page before ("Page results
// using OData").
func checkCookie(t *testing.T, next string, page int) {
	t.Helper()
	u, err := url.Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	tok := u.Query().Get("$skiptoken")
	m := regexp.MustCompile(`^<cookie pagenumber="(\d+)" pagingcookie="([^"]+)" istracking="(True|False)" />$`).FindStringSubmatch(tok)
	if m == nil {
		t.Fatalf("$skiptoken %q is not a paging cookie", tok)
	}
	inner, err := url.QueryUnescape(m[2])
	if err != nil {
		t.Fatal(err)
	}
	if m[1] != fmt.Sprint(page) || !strings.HasPrefix(inner, fmt.Sprintf(`<cookie page="%d">`, page-1)) {
		t.Errorf("next link for page %d: pagenumber %s, inner %s", page, m[1], inner)
	}
}

func TestPagingFollowsCookies(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Options{})
	for i := 0; i < 7; i++ {
		env.create(nil, map[string]any{"lastname": fmt.Sprint("Paged ", i)})
	}
	seen := map[string]bool{}
	uri := "contacts?$select=fullname&$filter=startswith(lastname,'Paged')"
	for page := 1; ; page++ {
		a := env.call("GET", uri, map[string]string{"Prefer": "odata.maxpagesize=3"}, nil)
		mustStatus(t, "page", a, http.StatusOK)
		m := a.json(t)
		for _, v := range m["value"].([]any) {
			id := v.(map[string]any)["contactid"].(string)
			if seen[id] {
				t.Errorf("contact %s on two pages", id)
			}
			seen[id] = true
		}
		next, _ := m["@odata.nextLink"].(string)
		if next == "" {
			break
		}
		checkCookie(t, next, page+1)
		uri = next
	}
	if len(seen) != 7 {
		t.Errorf("read %d contacts, want 7", len(seen))
	}
	// "$top is ignored" with odata.maxpagesize; honoured without.
	a := env.call("GET", "contacts?$top=2", nil, nil)
	if v := a.json(t)["value"].([]any); len(v) != 2 || a.json(t)["@odata.nextLink"] != nil {
		t.Errorf("$top=2: %s", a.body)
	}
	a = env.call("GET", "contacts?$select=fullname&$orderby=lastname desc", map[string]string{"Prefer": "odata.maxpagesize=4"}, nil)
	v := a.json(t)["value"].([]any)
	if len(v) != 4 || v[0].(map[string]any)["fullname"] != "Paged 6" {
		t.Errorf("$orderby desc: %s", a.body)
	}
}

func TestDeletedThenRecreated(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Options{})
	const id = "5f3c1b2a-0000-4000-8000-00000000abcd"
	env.create(nil, map[string]any{"contactid": id, "lastname": "First life"})
	a := env.call("GET", "contacts?$select=lastname", map[string]string{"Prefer": "odata.track-changes"}, nil)
	delta := a.json(t)["@odata.deltaLink"].(string)

	mustStatus(t, "delete", env.call("DELETE", "contacts("+id+")", nil, nil), http.StatusNoContent)
	mustStatus(t, "GET deleted", env.call("GET", "contacts("+id+")", nil, nil), http.StatusNotFound)
	a = env.call("GET", delta, nil, nil)
	m := a.json(t)
	v := m["value"].([]any)
	if len(v) != 1 || v[0].(map[string]any)["id"] != id || v[0].(map[string]any)["reason"] != "deleted" {
		t.Fatalf("delta after delete: %s", a.body)
	}

	// The same id comes back (a create with a client-chosen key).
	env.create(nil, map[string]any{"contactid": strings.ToUpper(id), "lastname": "Second life"})
	a = env.call("GET", delta, nil, nil)
	v = a.json(t)["value"].([]any)
	if len(v) != 1 || v[0].(map[string]any)["contactid"] != id || v[0].(map[string]any)["lastname"] != "Second life" {
		t.Fatalf("delta after recreate: the record must be changed, not deleted: %s", a.body)
	}
	a = env.call("GET", m["@odata.deltaLink"].(string), nil, nil)
	v = a.json(t)["value"].([]any)
	if len(v) != 1 || v[0].(map[string]any)["contactid"] != id {
		t.Fatalf("delta since the delete: %s", a.body)
	}
	// Creating it once more is a duplicate.
	a = env.call("POST", "contacts", nil, map[string]any{"contactid": id, "lastname": "Third"})
	mustStatus(t, "duplicate create", a, http.StatusPreconditionFailed)
	// An upsert on a deleted id creates it again.
	mustStatus(t, "delete again", env.call("DELETE", "contacts("+id+")", nil, nil), http.StatusNoContent)
	mustStatus(t, "upsert", env.call("PATCH", "contacts("+id+")", nil, map[string]any{"lastname": "Upserted"}), http.StatusNoContent)
	a = env.call("GET", "contacts("+id+")?$select=lastname", nil, nil)
	if a.json(t)["lastname"] != "Upserted" {
		t.Errorf("after upsert: %s", a.body)
	}
}

func TestExpiredDeltaToken(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	env := newEnv(t, Options{Now: clock.Now, AccessTokenLifetime: 30 * 24 * time.Hour})
	a := env.call("GET", "contacts?$select=fullname", map[string]string{"Prefer": "odata.track-changes"}, nil)
	delta := a.json(t)["@odata.deltaLink"].(string)
	u, _ := url.Parse(delta)
	if tok := u.Query().Get("$deltatoken"); !strings.HasSuffix(tok, "!03/01/2026 09:00:00") {
		t.Errorf("$deltatoken %q does not carry the time it was issued", tok)
	}
	clock.Advance(7 * 24 * time.Hour)
	mustStatus(t, "a week old", env.call("GET", delta, nil, nil), http.StatusOK)
	clock.Advance(time.Second)
	a = env.call("GET", delta, nil, nil)
	mustStatus(t, "older than a week", a, http.StatusBadRequest)
	if code, msg := a.errorCode(t); code != "0x80044352" || msg != "Version stamp associated with the client has expired. Please perform a full sync." {
		t.Errorf("expired: %s %q", code, msg)
	}
	for _, bad := range []string{"abc", "12", "-1!03/01/2026 09:00:00", "5!2026-03-01"} {
		a = env.call("GET", "contacts?$deltatoken="+url.QueryEscape(bad), nil, nil)
		mustStatus(t, "bad token "+bad, a, http.StatusBadRequest)
	}
}
