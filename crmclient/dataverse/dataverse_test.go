package dataverse_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/crmtest"
	"github.com/crmdav/crmdav/crmclient/dataverse"
	"github.com/crmdav/crmdav/crmclient/democrm"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func newContact(t *testing.T, env *crmtest.Env, as crmclient.User, first, last string) crmclient.Record {
	t.Helper()
	rec, err := env.Client.Create(ctx(t), as, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(),
		Columns: crmclient.Columns{"firstname": first, "lastname": last, "emailaddress1": strings.ToLower(first) + "@example.com"}})
	if err != nil {
		t.Fatalf("create %s %s: %v", first, last, err)
	}
	return rec
}

func TestCreateGetUpdateDelete(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	alice := env.Users[0]
	rec := newContact(t, env, alice, "Ada", "Lovelace")
	if rec.Owner != alice.ID {
		t.Errorf("owner = %s, want alice %s", rec.Owner, alice.ID)
	}
	if rec.Columns["fullname"] != "Ada Lovelace" || rec.Columns["donotemail"] != "false" {
		t.Errorf("columns = %v", rec.Columns)
	}
	if !strings.HasPrefix(rec.ETag, `W/"`) {
		t.Errorf("etag = %q", rec.ETag)
	}
	got, err := env.Client.Get(ctx(t), alice, crmclient.Contact, rec.ID)
	if err != nil || got.ETag != rec.ETag || got.Columns["emailaddress1"] != "ada@example.com" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	upd, err := env.Client.Update(ctx(t), alice, crmclient.Contact, rec.ID, rec.ETag, crmclient.Columns{"jobtitle": "Analyst", "birthdate": "1815-12-10"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if upd.ETag == rec.ETag || upd.Columns["jobtitle"] != "Analyst" || upd.Columns["birthdate"] != "1815-12-10" || upd.Columns["lastname"] != "Lovelace" {
		t.Errorf("after update: %+v", upd)
	}
	// The old ETag is stale now: 412, nothing written.
	_, err = env.Client.Update(ctx(t), alice, crmclient.Contact, rec.ID, rec.ETag, crmclient.Columns{"jobtitle": "Stale"}, nil)
	var ce *crmclient.Error
	if !errors.Is(err, crmclient.ErrPrecondition) || !errors.As(err, &ce) || ce.Status != 412 || ce.Code != "0x80060882" {
		t.Fatalf("stale update: %v", err)
	}
	if !strings.Contains(err.Error(), rec.ID) || !strings.Contains(err.Error(), "contact") {
		t.Errorf("error does not name the record: %v", err)
	}
	if err := env.Client.Delete(ctx(t), alice, crmclient.Contact, rec.ID, rec.ETag); !errors.Is(err, crmclient.ErrPrecondition) {
		t.Fatalf("stale delete: %v", err)
	}
	if err := env.Client.Delete(ctx(t), alice, crmclient.Contact, rec.ID, upd.ETag); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.Get(ctx(t), alice, crmclient.Contact, rec.ID); !errors.Is(err, crmclient.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	// An update never creates through upsert.
	if _, err := env.Client.Update(ctx(t), alice, crmclient.Contact, rec.ID, "", crmclient.Columns{"jobtitle": "x"}, nil); !errors.Is(err, crmclient.ErrNotFound) {
		t.Fatalf("update of a deleted record: %v", err)
	}
}

func TestUpdateSendsOnlyGivenColumns(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	alice := env.Users[0]
	rec := newContact(t, env, alice, "Grace", "Hopper")
	env.CRM.RecordRequests(true)
	if _, err := env.Client.Update(ctx(t), alice, crmclient.Contact, rec.ID, rec.ETag,
		crmclient.Columns{"jobtitle": "Rear Admiral", "telephone1": "+1 555 0100", "donotemail": "true", "gendercode": "2"}, nil); err != nil {
		t.Fatal(err)
	}
	var patch *democrm.Request
	for _, r := range env.CRM.Requests() {
		if r.Method == http.MethodPatch {
			patch = &r
		}
	}
	if patch == nil {
		t.Fatal("no PATCH sent")
	}
	var body map[string]any
	if err := json.Unmarshal(patch.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"jobtitle": "Rear Admiral", "telephone1": "+1 555 0100", "donotemail": true, "gendercode": float64(2)}
	if fmt.Sprint(body) != fmt.Sprint(want) {
		t.Errorf("PATCH body = %s, want exactly %v", patch.Body, want)
	}
	if got := patch.Header.Get("If-Match"); got != rec.ETag {
		t.Errorf("If-Match = %q, want %q", got, rec.ETag)
	}
	if got := patch.Header.Get("CallerObjectId"); got != alice.ObjectID {
		t.Errorf("CallerObjectId = %q, want alice's %q", got, alice.ObjectID)
	}
}

func TestUsersTouchOnlyTheirRecords(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	alice, bob := env.Users[0], env.Users[1]
	rec := newContact(t, env, alice, "Alan", "Turing")
	if _, err := env.Client.Get(ctx(t), bob, crmclient.Contact, rec.ID); !errors.Is(err, crmclient.ErrForbidden) {
		t.Errorf("bob reads alice's contact: %v", err)
	}
	if _, err := env.Client.Update(ctx(t), bob, crmclient.Contact, rec.ID, rec.ETag, crmclient.Columns{"jobtitle": "x"}, nil); !errors.Is(err, crmclient.ErrForbidden) {
		t.Errorf("bob updates alice's contact: %v", err)
	}
	if err := env.Client.Delete(ctx(t), bob, crmclient.Contact, rec.ID, ""); !errors.Is(err, crmclient.ErrForbidden) {
		t.Errorf("bob deletes alice's contact: %v", err)
	}
	found, err := env.Client.SearchContacts(ctx(t), bob, "turing", 10)
	if err != nil || len(found) != 0 {
		t.Errorf("bob finds alice's contact: %v %v", found, err)
	}
	// Shared with bob, he may.
	if err := env.CRM.Share(crmclient.Contact, rec.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.Update(ctx(t), bob, crmclient.Contact, rec.ID, rec.ETag, crmclient.Columns{"jobtitle": "Mathematician"}, nil); err != nil {
		t.Errorf("bob updates a shared contact: %v", err)
	}
	found, err = env.Client.SearchContacts(ctx(t), bob, "TURING", 10)
	if err != nil || len(found) != 1 || found[0].Columns["jobtitle"] != "Mathematician" {
		t.Errorf("search = %v, %v", found, err)
	}
	// Still alice's: the write ran as bob but did not take the record.
	got, _ := env.Client.Get(ctx(t), alice, crmclient.Contact, rec.ID)
	if got.Owner != alice.ID || got.Columns["_modifiedby_value"] != bob.ID {
		t.Errorf("owner %s modified by %s", got.Owner, got.Columns["_modifiedby_value"])
	}
}

func TestRetriedCreateMakesOneRecord(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	alice := env.Users[0]
	newContact(t, env, alice, "Warm", "Metadata") // the adapter has read the column types
	id := uuid.NewString()
	// The CRM commits the create but the answer is lost: the adapter
	// retries, gets 412 DuplicateRecord and returns the record.
	env.CRM.LoseNextAnswers(1)
	env.CRM.RecordRequests(true)
	rec, err := env.Client.Create(ctx(t), alice, crmclient.Record{Kind: crmclient.Contact, ID: id, Columns: crmclient.Columns{"lastname": "Once"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != id || rec.Columns["lastname"] != "Once" {
		t.Errorf("create returned %+v", rec)
	}
	posts := 0
	for _, r := range env.CRM.Requests() {
		if r.Method == http.MethodPost {
			posts++
		}
	}
	if posts != 2 {
		t.Errorf("%d POSTs, want 2 (the lost one and its retry)", posts)
	}
	// And a create called again later is idempotent too.
	if _, err := env.Client.Create(ctx(t), alice, crmclient.Record{Kind: crmclient.Contact, ID: id, Columns: crmclient.Columns{"lastname": "Once"}}); err != nil {
		t.Fatal(err)
	}
	list, err := env.Client.List(ctx(t), crmclient.Contact, alice.ID)
	if err != nil || len(list) != 2 {
		t.Errorf("list = %v, %v; want the warm-up record and the one created", list, err)
	}
}

func TestPagingAcrossPages(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{Adapter: dataverse.Config{PageSize: 4}})
	alice := env.Users[0]
	for i := range 11 {
		newContact(t, env, alice, fmt.Sprintf("P%02d", i), "Page")
	}
	env.CRM.RecordRequests(true)
	list, err := env.Client.List(ctx(t), crmclient.Contact, alice.ID)
	if err != nil || len(list) != 11 {
		t.Fatalf("list: %d, %v", len(list), err)
	}
	if n := len(env.CRM.Requests()); n != 3 {
		t.Errorf("%d requests for 11 records in pages of 4, want 3", n)
	}
	env.CRM.RecordRequests(true)
	cs, err := env.Client.Changes(ctx(t), crmclient.Contact, "")
	if err != nil || len(cs.Changed) != 11 || cs.Token == "" {
		t.Fatalf("changes: %d, %q, %v", len(cs.Changed), cs.Token, err)
	}
	reqs := env.CRM.Requests()
	if len(reqs) < 3 {
		t.Errorf("%d requests for the initial change feed, want at least 3 pages", len(reqs))
	}
	for _, r := range reqs {
		if !strings.Contains(r.Header.Get("Prefer"), "odata.maxpagesize=4") {
			t.Errorf("page request without the page size: %s", r.Header.Get("Prefer"))
		}
	}
	seen := map[string]bool{}
	for _, r := range cs.Changed {
		if seen[r.ID] {
			t.Errorf("%s twice", r.ID)
		}
		seen[r.ID] = true
	}
}

// TestOneDeltaPerKind runs creates, updates and deletes by several users in
// every kind and reads each kind's feed once as the application.
func TestOneDeltaPerKind(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{Adapter: dataverse.Config{PageSize: 3}})
	tokens := map[crmclient.Kind]string{}
	for _, k := range crmclient.Kinds() {
		cs, err := env.Client.Changes(ctx(t), k, "")
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		tokens[k] = cs.Token
	}
	type want struct {
		owner   string
		subject string
	}
	wantChanged := map[crmclient.Kind]map[string]want{}
	wantDeleted := map[crmclient.Kind][]string{}
	for _, k := range crmclient.Kinds() {
		wantChanged[k] = map[string]want{}
		for i, u := range env.Users {
			col := "subject"
			if k == crmclient.Contact {
				col = "lastname"
			}
			keep, err := env.Client.Create(ctx(t), u, crmclient.Record{Kind: k, ID: uuid.NewString(), Columns: crmclient.Columns{col: fmt.Sprintf("%s %d", k, i)}})
			if err != nil {
				t.Fatalf("create %s as %s: %v", k, u.DomainName, err)
			}
			upd, err := env.Client.Update(ctx(t), u, k, keep.ID, keep.ETag, crmclient.Columns{col: fmt.Sprintf("%s %d v2", k, i)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantChanged[k][upd.ID] = want{u.ID, fmt.Sprintf("%s %d v2", k, i)}
			gone, err := env.Client.Create(ctx(t), u, crmclient.Record{Kind: k, ID: uuid.NewString(), Columns: crmclient.Columns{col: "gone"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := env.Client.Delete(ctx(t), u, k, gone.ID, gone.ETag); err != nil {
				t.Fatal(err)
			}
			wantDeleted[k] = append(wantDeleted[k], gone.ID)
		}
	}
	for _, k := range crmclient.Kinds() {
		cs, err := env.Client.Changes(ctx(t), k, tokens[k])
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if len(cs.Changed) != len(wantChanged[k]) {
			t.Errorf("%s: %d changed, want %d", k, len(cs.Changed), len(wantChanged[k]))
		}
		for _, r := range cs.Changed {
			w, ok := wantChanged[k][r.ID]
			col := "subject"
			if k == crmclient.Contact {
				col = "lastname"
			}
			if !ok || r.Owner != w.owner || r.Columns[col] != w.subject || r.Kind != k || r.ETag == "" {
				t.Errorf("%s: changed %s owner %s %s=%q, want %+v", k, r.ID, r.Owner, col, r.Columns[col], w)
			}
		}
		sort.Strings(cs.Deleted)
		sort.Strings(wantDeleted[k])
		if !slices.Equal(cs.Deleted, wantDeleted[k]) {
			t.Errorf("%s: deleted %v, want %v", k, cs.Deleted, wantDeleted[k])
		}
		// Nothing new: an empty delta and a usable token.
		again, err := env.Client.Changes(ctx(t), k, cs.Token)
		if err != nil || len(again.Changed)+len(again.Deleted) != 0 {
			t.Errorf("%s: idle delta = %+v, %v", k, again, err)
		}
	}
}

func TestExpiredDeltaToken(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	env := crmtest.Start(t, crmtest.Options{CRM: democrm.Options{Now: now, ChangeTrackingExpiry: 24 * time.Hour}})
	cs, err := env.Client.Changes(ctx(t), crmclient.Contact, "")
	if err != nil {
		t.Fatal(err)
	}
	offset.Store(int64(25 * time.Hour))
	_, err = env.Client.Changes(ctx(t), crmclient.Task, cs.Token)
	var ce *crmclient.Error
	if !errors.Is(err, crmclient.ErrTokenExpired) || !errors.As(err, &ce) || ce.Code != "0x80044352" {
		t.Fatalf("expired token: %v", err)
	}
	if crmclient.Retryable(err) {
		t.Error("an expired token is not worth retrying")
	}
}

func TestChangeTrackingNeedsOrganizationRead(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{Clients: []democrm.Client{{ID: "salesapp", Secret: "s", UserLevelRead: true}}})
	weak, err := dataverse.New(dataverse.Config{URL: env.Server.URL, TokenURL: env.Server.URL + democrm.TokenPath, ClientID: "salesapp", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = weak.Changes(ctx(t), crmclient.Contact, "")
	var ce *crmclient.Error
	if !errors.Is(err, crmclient.ErrForbidden) || !errors.As(err, &ce) || ce.Status != 403 || ce.Code != "0x80040220" {
		t.Fatalf("change tracking with user-level read: %v", err)
	}
}

func TestThrottlingHonoursRetryAfter(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	alice := env.Users[0]
	rec := newContact(t, env, alice, "Slow", "Down")
	env.CRM.RecordRequests(true)
	env.CRM.ThrottleNext(1, time.Second)
	start := time.Now()
	if _, err := env.Client.Get(ctx(t), alice, crmclient.Contact, rec.ID); err != nil {
		t.Fatal(err)
	}
	reqs := env.CRM.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want the throttled one and one retry", len(reqs))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
		t.Errorf("retried after %v, before Retry-After: 1 elapsed", gap)
	}
	// The hold applies to every request of the adapter, not only the retry.
	env.CRM.RecordRequests(true)
	env.CRM.ThrottleNext(1, time.Second)
	done := make(chan time.Time, 1)
	go func() {
		env.Client.Get(context.Background(), alice, crmclient.Contact, rec.ID)
		done <- time.Now()
	}()
	time.Sleep(200 * time.Millisecond)
	if _, err := env.Client.Get(ctx(t), alice, crmclient.Contact, rec.ID); err != nil {
		t.Fatal(err)
	}
	<-done
	reqs = env.CRM.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for _, r := range reqs[1:] {
		if r.At.Sub(reqs[0].At) < time.Second {
			t.Errorf("a request went out %v after the 429, before Retry-After elapsed", r.At.Sub(reqs[0].At))
		}
	}
	_ = start
}

func TestServiceProtectionLimit(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{CRM: democrm.Options{Throttle: democrm.Throttle{Requests: 3, Window: time.Second}}})
	alice := env.Users[0]
	start := time.Now()
	for range 5 {
		if _, err := env.Client.FindUsers(ctx(t), alice.DomainName); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("5 requests under a limit of 3 per second took %v", el)
	}
}

func TestUnavailableCRMIsRetried(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	alice := env.Users[0]
	rec := newContact(t, env, alice, "Flaky", "Network")
	env.CRM.FailNext(2)
	if _, err := env.Client.Get(ctx(t), alice, crmclient.Contact, rec.ID); err != nil {
		t.Fatalf("after two 503s: %v", err)
	}
	env.CRM.DropNext(2)
	if _, err := env.Client.Get(ctx(t), alice, crmclient.Contact, rec.ID); err != nil {
		t.Fatalf("after two dropped connections: %v", err)
	}
	env.CRM.FailNext(100)
	_, err := env.Client.Get(ctx(t), alice, crmclient.Contact, rec.ID)
	var ce *crmclient.Error
	if !errors.Is(err, crmclient.ErrUnavailable) || !crmclient.Retryable(err) || !errors.As(err, &ce) || ce.Status != 503 {
		t.Fatalf("after the attempts ran out: %v", err)
	}
	env.CRM.FailNext(0)
}

func TestRequestTimeout(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{Adapter: dataverse.Config{RequestTimeout: 100 * time.Millisecond, MaxAttempts: 2}})
	alice := env.Users[0]
	if _, err := env.Client.FindUsers(ctx(t), alice.DomainName); err != nil { // token first
		t.Fatal(err)
	}
	env.CRM.SetLatency(time.Second)
	start := time.Now()
	_, err := env.Client.FindUsers(ctx(t), alice.DomainName)
	if !errors.Is(err, crmclient.ErrUnavailable) {
		t.Fatalf("slow CRM: %v", err)
	}
	if el := time.Since(start); el > 800*time.Millisecond {
		t.Errorf("gave up after %v; two attempts of 100ms should", el)
	}
	env.CRM.SetLatency(0)
}

func TestWrongSecretIsRejected(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{Adapter: dataverse.Config{ClientSecret: "wrong", ClientID: crmtest.ClientID}})
	_, err := env.Client.FindUsers(ctx(t), "alice@crmdav.demo")
	var ce *crmclient.Error
	if !errors.Is(err, crmclient.ErrRejected) || crmclient.Retryable(err) || !errors.As(err, &ce) || ce.Status != 401 || ce.Code != "invalid_client" {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestUnknownColumnIsRejected(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	alice := env.Users[0]
	_, err := env.Client.Create(ctx(t), alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"nosuchcolumn": "x"}})
	var ce *crmclient.Error
	if !errors.Is(err, crmclient.ErrRejected) || !errors.As(err, &ce) || ce.Status != 400 || !strings.Contains(ce.Message, "nosuchcolumn") {
		t.Fatalf("unknown column: %v", err)
	}
	if list, _ := env.Client.List(ctx(t), crmclient.Contact, alice.ID); len(list) != 0 {
		t.Errorf("a refused create left %d records", len(list))
	}
	_, err = env.Client.Create(ctx(t), alice, crmclient.Record{Kind: crmclient.Task, ID: uuid.NewString(), Columns: crmclient.Columns{"percentcomplete": "half"}})
	if !errors.Is(err, crmclient.ErrRejected) {
		t.Fatalf("bad number: %v", err)
	}
}

func TestActivityParties(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	alice, bob := env.Users[0], env.Users[1]
	guest := newContact(t, env, alice, "Guest", "Contact")
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 100 {
		rec, err := env.Client.Create(ctx(t), alice, crmclient.Record{Kind: crmclient.Appointment, ID: uuid.NewString(),
			Columns: crmclient.Columns{"subject": fmt.Sprintf("Meeting %d", i), "scheduledstart": start.Add(time.Duration(i) * time.Hour).Format(time.RFC3339),
				"scheduledend": start.Add(time.Duration(i)*time.Hour + 30*time.Minute).Format(time.RFC3339)},
			Parties: []crmclient.Party{
				{Role: crmclient.Organizer, PartyKind: "systemuser", PartyID: alice.ID},
				{Role: crmclient.RequiredAttendee, PartyKind: "systemuser", PartyID: bob.ID},
				{Role: crmclient.RequiredAttendee, PartyKind: "contact", PartyID: guest.ID, Address: "guest@example.com"},
				{Role: crmclient.OptionalAttendee, Address: "stranger@example.org"},
			}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && (len(rec.Parties) != 4 || rec.Columns["scheduledstart"] != "2026-12-01T09:00:00Z") {
			t.Errorf("created appointment: %+v", rec)
		}
		ids = append(ids, rec.ID)
	}
	env.CRM.RecordRequests(true)
	parties, err := env.Client.Parties(ctx(t), crmclient.Appointment, ids)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(env.CRM.Requests()); n != 1 {
		t.Errorf("%d requests for the parties of 100 activities, want 1", n)
	}
	if len(parties) != 100 {
		t.Fatalf("parties of %d activities", len(parties))
	}
	ps := parties[ids[7]]
	sort.Slice(ps, func(i, j int) bool {
		return ps[i].Role > ps[j].Role || (ps[i].Role == ps[j].Role && ps[i].PartyKind < ps[j].PartyKind)
	})
	want := []crmclient.Party{
		{Role: crmclient.Organizer, PartyKind: "systemuser", PartyID: alice.ID},
		{Role: crmclient.OptionalAttendee, Address: "stranger@example.org"},
		{Role: crmclient.RequiredAttendee, PartyKind: "contact", PartyID: guest.ID, Address: "guest@example.com"},
		{Role: crmclient.RequiredAttendee, PartyKind: "systemuser", PartyID: bob.ID},
	}
	if !slices.Equal(ps, want) {
		t.Errorf("parties = %+v\nwant %+v", ps, want)
	}
	// Bob is an attendee: the appointments belong to his calendar too.
	list, err := env.Client.List(ctx(t), crmclient.Appointment, bob.ID)
	if err != nil || len(list) != 100 {
		t.Errorf("bob's appointments: %d, %v", len(list), err)
	}
	carol := env.Users[2]
	if list, _ := env.Client.List(ctx(t), crmclient.Appointment, carol.ID); len(list) != 0 {
		t.Errorf("carol has %d appointments, want none", len(list))
	}
	// Replacing the parties.
	rec, err := env.Client.Get(ctx(t), alice, crmclient.Appointment, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	upd, err := env.Client.Update(ctx(t), alice, crmclient.Appointment, rec.ID, rec.ETag, crmclient.Columns{},
		[]crmclient.Party{{Role: crmclient.Organizer, PartyKind: "systemuser", PartyID: alice.ID}})
	if err != nil || len(upd.Parties) != 1 {
		t.Fatalf("update parties: %+v, %v", upd.Parties, err)
	}
	if list, _ := env.Client.List(ctx(t), crmclient.Appointment, bob.ID); len(list) != 99 {
		t.Errorf("bob removed from one: %d appointments, want 99", len(list))
	}
}

func TestFindUsers(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	us, err := env.Client.FindUsers(ctx(t), "ALICE@crmdav.demo")
	if err != nil || len(us) != 1 || us[0].ID != env.Users[0].ID || us[0].ObjectID != env.Users[0].ObjectID {
		t.Fatalf("alice: %+v, %v", us, err)
	}
	us, err = env.Client.FindUsers(ctx(t), "@crmdav.demo")
	if err != nil || len(us) != 3 {
		t.Fatalf("domain: %+v, %v", us, err)
	}
	us, err = env.Client.FindUsers(ctx(t), "nobody@crmdav.demo", "it's@crmdav.demo")
	if err != nil || len(us) != 0 {
		t.Fatalf("nobody: %+v, %v", us, err)
	}
}

// TestGetAsApplication: the zero User reads as the application, which sees
// every user's records; no CallerObjectId is sent.
func TestGetAsApplication(t *testing.T) {
	env := crmtest.Start(t, crmtest.Options{})
	rec := newContact(t, env, env.Users[0], "App", "Read")
	env.CRM.RecordRequests(true)
	got, err := env.Client.Get(ctx(t), crmclient.User{}, crmclient.Contact, rec.ID)
	if err != nil || got.ID != rec.ID {
		t.Fatalf("get as the application: %+v, %v", got, err)
	}
	for _, r := range env.CRM.Requests() {
		if r.Header.Get("CallerObjectId") != "" {
			t.Errorf("a read as the application carried CallerObjectId %s", r.Header.Get("CallerObjectId"))
		}
	}
}
