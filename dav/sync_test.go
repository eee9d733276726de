package dav

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// syncBody is a sync-collection request (RFC 6578 §3.2); limit 0 for
// none, negative for a malformed one; props "" for getetag.
func syncBody(token string, limit int, props string) string {
	if props == "" {
		props = "<D:getetag/>"
	}
	l := ""
	switch {
	case limit > 0:
		l = fmt.Sprintf("<D:limit><D:nresults>%d</D:nresults></D:limit>", limit)
	case limit < 0:
		l = "<D:limit><D:nresults>many</D:nresults></D:limit>"
	}
	return `<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:sync-token>` + xmlEsc(token) + `</D:sync-token><D:sync-level>1</D:sync-level>` + l + `
  <D:prop>` + props + `</D:prop>
</D:sync-collection>`
}

// syncResult is a sync-collection answer: member names by what happened.
type syncResult struct {
	changed   map[string]string // name → getetag
	deleted   []string
	truncated bool
	token     string
}

func (f *fixture) sync(book, token string, limit int) syncResult {
	f.t.Helper()
	a := f.do("alice", "REPORT", book, syncBody(token, limit, ""), "Depth", "0", "Content-Type", "application/xml")
	ms := parseMS(f.t, a)
	res := syncResult{changed: map[string]string{}, token: ms.SyncToken}
	if res.token == "" {
		f.t.Fatalf("no sync-token in %s", a.body)
	}
	for _, r := range ms.Responses {
		switch {
		case r.Href == book:
			if !strings.Contains(r.Status, " 507 ") || !strings.Contains(r.Error.Inner, "number-of-matches-within-limits") {
				f.t.Fatalf("collection response %+v", r)
			}
			res.truncated = true
		case strings.Contains(r.Status, " 404 "):
			if len(r.PropStats) != 0 {
				f.t.Fatalf("RFC 6578 §3.5.2: a deleted member has no propstat: %+v", r)
			}
			res.deleted = append(res.deleted, strings.TrimPrefix(r.Href, book))
		default:
			res.changed[strings.TrimPrefix(r.Href, book)] = okText(f.t, r, "getetag")
		}
	}
	return res
}

func names(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func wantSync(t *testing.T, what string, got syncResult, changed, deleted []string) {
	t.Helper()
	slices.Sort(got.deleted)
	if fmt.Sprint(names(got.changed)) != fmt.Sprint(changed) || fmt.Sprint(got.deleted) != fmt.Sprint(deleted) || got.truncated {
		t.Fatalf("%s: changed %v deleted %v truncated %v; want changed %v deleted %v", what, names(got.changed), got.deleted, got.truncated, changed, deleted)
	}
}

// TestSyncChecklist follows Radicale's sync-token checklist
// (radicale/tests/test_base.py, test_sync_*) over HTTP.
func TestSyncChecklist(t *testing.T) {
	t.Run("objects read", func(t *testing.T) { syncChecklist(t, false) })
	t.Run("ETags from the change log", func(t *testing.T) { syncChecklist(t, true) })
}

func syncChecklist(t *testing.T, logETags bool) {
	f := newFixture(t, Options{})
	f.st.logETags = logETags
	book := "/dav/alice/contacts/"
	etagA := f.mustPut(book+"a.vcf", card("a", "Ann"))
	f.mustPut(book+"b.vcf", card("b", "Bob"))

	// Initial: every member with its ETag.
	s0 := f.sync(book, "", 0)
	wantSync(t, "initial", s0, []string{"a.vcf", "b.vcf"}, nil)
	if s0.changed["a.vcf"] != etagA {
		t.Fatalf("initial getetag %q, PUT gave %q", s0.changed["a.vcf"], etagA)
	}
	if !strings.HasPrefix(s0.token, "http://crmdav.invalid/sync/") {
		t.Fatalf("token %q", s0.token)
	}

	// Same token twice, nothing changed: nothing reported, same token.
	for i := 0; i < 2; i++ {
		s := f.sync(book, s0.token, 0)
		wantSync(t, "unchanged", s, nil, nil)
		if s.token != s0.token {
			t.Fatalf("token moved without a change: %q → %q", s0.token, s.token)
		}
	}

	// After an add.
	etagC := f.mustPut(book+"c.vcf", card("c", "Carol"))
	s1 := f.sync(book, s0.token, 0)
	wantSync(t, "after add", s1, []string{"c.vcf"}, nil)
	if s1.changed["c.vcf"] != etagC || s1.token == s0.token {
		t.Fatalf("after add: %+v", s1)
	}

	// After a change.
	etagA2 := f.mustPut(book+"a.vcf", card("a", "Ann Smith"))
	s2 := f.sync(book, s1.token, 0)
	wantSync(t, "after change", s2, []string{"a.vcf"}, nil)
	if s2.changed["a.vcf"] != etagA2 {
		t.Fatalf("after change getetag %q, want %q", s2.changed["a.vcf"], etagA2)
	}

	// After a delete: a 404 member without propstat.
	if a := f.do("alice", http.MethodDelete, book+"b.vcf", ""); a.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d", a.status)
	}
	s3 := f.sync(book, s2.token, 0)
	wantSync(t, "after delete", s3, nil, []string{"b.vcf"})

	// A change then a delete of the same member after the token: once, 404.
	f.mustPut(book+"c.vcf", card("c", "Carol Jones"))
	f.do("alice", http.MethodDelete, book+"c.vcf", "")
	s4 := f.sync(book, s3.token, 0)
	wantSync(t, "change then delete", s4, nil, []string{"c.vcf"})

	// An old token still reports everything since it.
	wantSync(t, "from the first token", f.sync(book, s0.token, 0), []string{"a.vcf"}, []string{"b.vcf", "c.vcf"})

	// The collection's sync-token property is the latest token.
	ms := parseMS(t, f.do("alice", "PROPFIND", book, `<propfind xmlns="DAV:"><prop><sync-token/></prop></propfind>`, "Depth", "0"))
	if got := okText(t, ms.Responses[0], "sync-token"); got != s4.token {
		t.Fatalf("sync-token property %q, report gave %q", got, s4.token)
	}

	// Tokens that are not valid here: 403 DAV:valid-sync-token.
	f.st.colls["alice"] = append(f.st.colls["alice"], Collection{Slug: "team", Kind: AddressBook, Revision: 1})
	f.st.objs["alice"]["team"] = map[string][]byte{}
	ahead := strings.TrimSuffix(s4.token, fmt.Sprint(f.st.revision("alice", "contacts"))) + "999"
	for name, tok := range map[string]string{
		"garbage":              "garbage",
		"another collection":   f.sync("/dav/alice/team/", "", 0).token,
		"another user's":       syncToken("bob", "contacts", 1, ""),
		"ahead of the book":    ahead,
		"leading zero":         syncPrefix + collectionID("alice", "contacts") + "/01",
		"negative":             syncPrefix + collectionID("alice", "contacts") + "/-1",
		"bad continuation":     s0.token + "?after=",
		"empty after, extra":   s0.token + "?after=a&x=1",
		"not ours, same shape": "http://example.com/sync/" + collectionID("alice", "contacts") + "/1",
	} {
		a := f.do("alice", "REPORT", book, syncBody(tok, 0, ""), "Depth", "0")
		if a.status != http.StatusForbidden || !strings.Contains(a.body, "valid-sync-token") {
			t.Fatalf("%s token %q: %d %s", name, tok, a.status, a.body)
		}
	}

	// Too old: the store no longer keeps the changes since s0.
	f.st.forget("alice", "contacts")
	a := f.do("alice", "REPORT", book, syncBody(s0.token, 0, ""), "Depth", "0")
	if a.status != http.StatusForbidden || !strings.Contains(a.body, "valid-sync-token") {
		t.Fatalf("too-old token: %d %s", a.status, a.body)
	}
	// The client starts over, and carries on from the new token.
	s5 := f.sync(book, "", 0)
	wantSync(t, "restart", s5, []string{"a.vcf"}, nil)
	f.mustPut(book+"d.vcf", card("d", "Dan"))
	wantSync(t, "after restart", f.sync(book, s5.token, 0), []string{"d.vcf"}, nil)

	// With the ETags in the change log, a report of getetag reads no object.
	f.st.mu.Lock()
	gets := f.st.gets
	f.st.mu.Unlock()
	if logETags && gets != 0 {
		t.Fatalf("the change log had the ETags, yet %d objects were read", gets)
	}
	if !logETags && gets == 0 {
		t.Fatal("no object was read: the reports did not ask the store")
	}
}

// TestSyncLimit: DAV:limit truncates with a 507 for the collection and a
// token to continue from (RFC 6578 §3.6, §3.7); paging until done gives
// exactly what one answer would.
func TestSyncLimit(t *testing.T) {
	f := newFixture(t, Options{})
	book := "/dav/alice/contacts/"
	for i := range 5 {
		f.mustPut(fmt.Sprintf("%s%d.vcf", book, i), card(fmt.Sprint(i), "N"))
	}

	// Initial listing in pages of 2.
	seen := map[string]string{}
	tok, pages := "", 0
	for {
		s := f.sync(book, tok, 2)
		pages++
		if len(s.changed) > 2 || len(s.deleted) != 0 {
			t.Fatalf("page %d: %+v", pages, s)
		}
		for n, e := range s.changed {
			if _, dup := seen[n]; dup {
				t.Fatalf("%s listed twice", n)
			}
			seen[n] = e
		}
		tok = s.token
		if !s.truncated {
			break
		}
		if pages == 2 {
			// A change while the client pages: reported by the next sync.
			f.mustPut(book+"0.vcf", card("0", "Changed while paging"))
		}
		if pages > 5 {
			t.Fatal("initial paging does not end")
		}
	}
	if pages != 3 || len(seen) != 5 {
		t.Fatalf("%d pages, %d members", pages, len(seen))
	}
	wantSync(t, "after paging", f.sync(book, tok, 0), []string{"0.vcf"}, nil)
	tok = f.sync(book, tok, 0).token

	// Incremental: 7 changes in pages of 3.
	for i := range 5 {
		f.mustPut(fmt.Sprintf("%s%d.vcf", book, i), card(fmt.Sprint(i), "M"))
	}
	f.do("alice", http.MethodDelete, book+"3.vcf", "")
	f.mustPut(book+"5.vcf", card("5", "New"))
	all := f.sync(book, tok, 0)
	wantSync(t, "whole", all, []string{"0.vcf", "1.vcf", "2.vcf", "4.vcf", "5.vcf"}, []string{"3.vcf"})

	got := syncResult{changed: map[string]string{}}
	pages = 0
	for {
		s := f.sync(book, tok, 3)
		pages++
		if n := len(s.changed) + len(s.deleted); n > 3 || (s.truncated && n != 3) {
			t.Fatalf("page %d of %d: %+v", pages, n, s)
		}
		for n, e := range s.changed {
			got.changed[n] = e
		}
		got.deleted = append(got.deleted, s.deleted...)
		tok = s.token
		if !s.truncated {
			break
		}
	}
	if pages != 2 {
		t.Fatalf("%d pages for 6 changes in pages of 3", pages)
	}
	wantSync(t, "paged", got, names(all.changed), all.deleted)
	if tok != all.token {
		t.Fatalf("final token %q, one answer gave %q", tok, all.token)
	}
	wantSync(t, "done", f.sync(book, tok, 0), nil, nil)
}

// TestSyncProps: the props of a sync-collection request are answered for
// changed members, address-data included, and unknown ones are 404.
func TestSyncProps(t *testing.T) {
	f := newFixture(t, Options{})
	book := "/dav/alice/contacts/"
	body := card("a", "Ann")
	f.mustPut(book+"a.vcf", body)
	ms := parseMS(t, f.do("alice", "REPORT", book, syncBody("", 0, `<D:getetag/><C:address-data/><X:nope xmlns:X="urn:x"/>`), "Depth", "0"))
	r, _ := ms.find(book + "a.vcf")
	if got := okText(t, r, "address-data"); got != body {
		t.Fatalf("address-data %q", got)
	}
	if _, st, _ := r.prop("nope"); !strings.Contains(st, " 404 ") {
		t.Fatalf("unknown prop %q", st)
	}
}

// TestCTag: getctag and sync-token change exactly once per change, and
// not at all for a refused one.
func TestCTag(t *testing.T) {
	f := newFixture(t, Options{})
	book := "/dav/alice/contacts/"
	get := func() (string, string) {
		t.Helper()
		ms := parseMS(t, f.do("alice", "PROPFIND", book, `<propfind xmlns="DAV:" xmlns:CS="http://calendarserver.org/ns/"><prop><CS:getctag/><sync-token/></prop></propfind>`, "Depth", "0"))
		return okText(t, ms.Responses[0], "getctag"), okText(t, ms.Responses[0], "sync-token")
	}
	rev := f.st.revision("alice", "contacts")
	step := func(what string, delta int64, do func() answer) {
		t.Helper()
		before, tok := get()
		a := do()
		after, tok2 := get()
		if fmt.Sprint(rev) != before {
			t.Fatalf("%s: getctag %q before, revision %d", what, before, rev)
		}
		rev += delta
		if after != fmt.Sprint(rev) || (delta == 0) != (tok == tok2) || (delta == 0) != (before == after) {
			t.Fatalf("%s (%d): getctag %q → %q, token %q → %q", what, a.status, before, after, tok, tok2)
		}
	}
	p := book + "a.vcf"
	var etag string
	step("create", 1, func() answer { a := f.put("alice", p, card("a", "Ann")); etag = a.header.Get("ETag"); return a })
	step("update", 1, func() answer { return f.put("alice", p, card("a", "Ann 2"), "If-Match", etag) })
	step("stale update", 0, func() answer { return f.put("alice", p, card("a", "Ann 3"), "If-Match", etag) })
	step("read", 0, func() answer { return f.do("alice", http.MethodGet, p, "") })
	step("proppatch", 1, func() answer {
		return f.do("alice", "PROPPATCH", book, proppatch(`<D:displayname>X</D:displayname>`, ""))
	})
	step("refused proppatch", 0, func() answer {
		return f.do("alice", "PROPPATCH", book, proppatch(`<D:displayname>Y</D:displayname><CS:getctag>9</CS:getctag>`, ""))
	})
	step("delete", 1, func() answer { return f.do("alice", http.MethodDelete, p, "") })
	step("delete again", 0, func() answer { return f.do("alice", http.MethodDelete, p, "") })
}
