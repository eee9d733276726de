package democrm

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
)

func TestBearerTokenRequired(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	env := newEnv(t, Options{Now: clock.Now, AccessTokenLifetime: 10 * time.Minute})
	for _, tc := range []struct {
		name, auth string
	}{
		{"none", ""},
		{"garbage", "Bearer not-a-token"},
		{"empty bearer", "Bearer "},
		{"basic", "Basic Y3JtZGF2LXRlc3Q6dGVzdC1zZWNyZXQ="},
		{"bearer without space", "Bearer" + env.token},
	} {
		a := env.call("GET", "contacts", map[string]string{"Authorization": tc.auth}, nil)
		if a.status != http.StatusUnauthorized || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %q, want 401 with a Bearer challenge", tc.name, a.status, a.header.Get("WWW-Authenticate"))
		}
	}
	// Every method and path is behind the token, including unknown ones.
	for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
		a := env.call(m, "Account", map[string]string{"Authorization": ""}, nil)
		mustStatus(t, m+" without a token", a, http.StatusUnauthorized)
	}

	mustStatus(t, "fresh token", env.call("GET", "contacts", nil, nil), http.StatusOK)
	clock.Advance(10*time.Minute - time.Second)
	mustStatus(t, "token about to expire", env.call("GET", "contacts", nil, nil), http.StatusOK)
	clock.Advance(time.Second)
	mustStatus(t, "expired token", env.call("GET", "contacts", nil, nil), http.StatusUnauthorized)
	env.token = env.getToken(testClientID, testClientSecret)
	mustStatus(t, "new token", env.call("GET", "contacts", nil, nil), http.StatusOK)
}

func TestTokenEndpointRefusals(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Options{})
	for _, tc := range []struct {
		name   string
		form   string
		status int
		code   string
	}{
		{"wrong secret", "grant_type=client_credentials&client_id=crmdav-test&client_secret=wrong", 401, "invalid_client"},
		{"no secret", "grant_type=client_credentials&client_id=crmdav-test", 401, "invalid_client"},
		{"unknown client", "grant_type=client_credentials&client_id=nobody&client_secret=x", 400, "unauthorized_client"},
		{"wrong grant", "grant_type=password&client_id=crmdav-test&client_secret=test-secret", 400, "unsupported_grant_type"},
	} {
		a := env.call("POST", TokenPath, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": ""}, tc.form)
		if a.status != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, a.status, tc.status, a.body)
			continue
		}
		m := a.json(t)
		if m["error"] != tc.code || m["access_token"] != nil {
			t.Errorf("%s: %s, want error %s", tc.name, a.body, tc.code)
		}
	}
	// RFC 6749 §2.3.1: the secret may come as HTTP Basic instead.
	req, _ := http.NewRequest("POST", env.srv.URL+TokenPath, strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testClientID, testClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("basic auth: %d", resp.StatusCode)
	}
}

func TestImpersonationOfUnknownUser(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Options{})
	for _, h := range []map[string]string{
		{"CallerObjectId": "0a0b0c0d-0000-4000-8000-000000000001"},
		{"CallerObjectId": "not-a-guid"},
		{"MSCRMCallerID": "0a0b0c0d-0000-4000-8000-000000000001"},
		{"CallerObjectId": env.alice.ID}, // a systemuserid is not an object id
	} {
		for _, m := range []string{"GET", "POST"} {
			a := env.call(m, "contacts", h, map[string]any{"lastname": "x"})
			if m == "GET" {
				a = env.call(m, "contacts", h, nil)
			}
			mustStatus(t, m+" as unknown user", a, http.StatusForbidden)
		}
	}
	// Nothing was created by the refused requests.
	a := env.call("GET", "contacts?$select=lastname", nil, nil)
	if v := a.json(t)["value"].([]any); len(v) != 0 {
		t.Errorf("refused creates left %d contacts", len(v))
	}
}

func TestDisabledUserIsRefused(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Options{})
	a := env.call("PATCH", "systemusers("+env.bob.ID+")", nil, map[string]any{"isdisabled": true})
	mustStatus(t, "disable bob", a, http.StatusNoContent)
	a = env.call("GET", "contacts", as(env.bob), nil)
	mustStatus(t, "disabled bob", a, http.StatusForbidden)
}

func TestChangeTrackingNeedsOrganizationRead(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Options{})
	env.create(nil, map[string]any{"lastname": "Tracked"})
	prefer := map[string]string{"Prefer": "odata.track-changes", "CallerObjectId": env.alice.ObjectID}
	a := env.call("GET", "contacts?$select=fullname", prefer, nil)
	mustStatus(t, "change tracking as alice", a, http.StatusForbidden)
	if code, msg := a.errorCode(t); code != "0x80040220" || !strings.Contains(msg, env.alice.ID) {
		t.Errorf("change tracking as alice: %s %q", code, msg)
	}
	// A delta link obtained by the application is refused to a user too.
	a = env.call("GET", "contacts?$select=fullname", map[string]string{"Prefer": "odata.track-changes"}, nil)
	mustStatus(t, "change tracking as the application", a, http.StatusOK)
	delta := a.json(t)["@odata.deltaLink"].(string)
	a = env.call("GET", delta, as(env.alice), nil)
	mustStatus(t, "delta link as alice", a, http.StatusForbidden)

	// An application with user-level read only is refused as well.
	if err := env.crm.AddClient(Client{ID: "sales-app", Secret: "s", UserLevelRead: true}); err != nil {
		t.Fatal(err)
	}
	env.token = env.getToken("sales-app", "s")
	a = env.call("GET", "contacts?$select=fullname", map[string]string{"Prefer": "odata.track-changes"}, nil)
	mustStatus(t, "change tracking with user-level read", a, http.StatusForbidden)
	if code, _ := a.errorCode(t); code != "0x80040220" {
		t.Errorf("user-level read: code %s", code)
	}
	a = env.call("GET", delta, nil, nil)
	mustStatus(t, "delta link with user-level read", a, http.StatusForbidden)
}

func TestUsersTouchOnlyTheirRecords(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Options{})
	id := env.create(as(env.alice), map[string]any{"lastname": "Alice's"})
	mine := env.create(as(env.bob), map[string]any{"lastname": "Bob's"})

	refused := func(what string, a answer) {
		t.Helper()
		mustStatus(t, what, a, http.StatusForbidden)
		if code, _ := a.errorCode(t); code != "0x80040220" {
			t.Errorf("%s: code %s", what, code)
		}
	}
	refused("bob reads alice's", env.call("GET", "contacts("+id+")", as(env.bob), nil))
	refused("bob updates alice's", env.call("PATCH", "contacts("+id+")", as(env.bob), map[string]any{"lastname": "Bob was here"}))
	refused("bob updates alice's with If-Match", env.call("PATCH", "contacts("+id+")", map[string]string{"CallerObjectId": env.bob.ObjectID, "If-Match": "*"}, map[string]any{"lastname": "x"}))
	refused("bob deletes alice's", env.call("DELETE", "contacts("+id+")", as(env.bob), nil))
	refused("bob gives himself alice's", env.call("PATCH", "contacts("+id+")", as(env.bob),
		map[string]any{"ownerid@odata.bind": "/systemusers(" + env.bob.ID + ")"}))
	refused("bob creates for alice", env.call("POST", "contacts", as(env.bob),
		map[string]any{"lastname": "x", "ownerid@odata.bind": "/systemusers(" + env.alice.ID + ")"}))
	refused("bob writes a user", env.call("PATCH", "systemusers("+env.alice.ID+")", as(env.bob), map[string]any{"isdisabled": true}))

	list := func(u crmclient.User) []string {
		t.Helper()
		a := env.call("GET", "contacts?$select=lastname", as(u), nil)
		mustStatus(t, "list", a, http.StatusOK)
		var ids []string
		for _, v := range a.json(t)["value"].([]any) {
			ids = append(ids, v.(map[string]any)["contactid"].(string))
		}
		return ids
	}
	if got := list(env.bob); len(got) != 1 || got[0] != mine {
		t.Errorf("bob lists %v, want only %s", got, mine)
	}
	// Filtering on another user's id does not reveal it either.
	a := env.call("GET", "contacts?$select=lastname&$filter=contactid eq "+id, as(env.bob), nil)
	if v := a.json(t)["value"].([]any); len(v) != 0 {
		t.Errorf("bob finds alice's contact through $filter: %s", a.body)
	}

	// Still alice's, unchanged.
	a = env.call("GET", "contacts("+id+")?$select=lastname,_ownerid_value", as(env.alice), nil)
	mustStatus(t, "alice reads hers", a, http.StatusOK)
	if m := a.json(t); m["lastname"] != "Alice's" || m["_ownerid_value"] != env.alice.ID {
		t.Errorf("alice's contact changed: %s", a.body)
	}

	// Shared with bob (GrantAccess), it becomes readable and writable.
	if err := env.crm.Share(crmclient.Kind("contact"), strings.ToUpper(id), env.bob.ID); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, "bob reads shared", env.call("GET", "contacts("+id+")", as(env.bob), nil), http.StatusOK)
	mustStatus(t, "bob updates shared", env.call("PATCH", "contacts("+id+")", as(env.bob), map[string]any{"jobtitle": "Shared"}), http.StatusNoContent)
	if got := list(env.bob); len(got) != 2 {
		t.Errorf("bob lists %v after sharing, want 2", got)
	}
	a = env.call("GET", "contacts("+id+")?$select=jobtitle,_ownerid_value,_modifiedby_value", as(env.alice), nil)
	if m := a.json(t); m["jobtitle"] != "Shared" || m["_ownerid_value"] != env.alice.ID || m["_modifiedby_value"] != env.bob.ID {
		t.Errorf("after bob's update: %s", a.body)
	}
	// Sharing gives no one else anything.
	carol, err := env.crm.AddUser("carol@crmdav.demo", "Carol", "Test")
	if err != nil {
		t.Fatal(err)
	}
	refused("carol reads shared with bob", env.call("GET", "contacts("+id+")", as(carol), nil))
	mustStatus(t, "bob deletes shared", env.call("DELETE", "contacts("+id+")", as(env.bob), nil), http.StatusNoContent)
}

func TestActivityPartiesAreWrittenThroughTheirActivity(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Options{})
	body := map[string]any{"participationtypemask": 5, "addressused": "x@example.com"}
	a := env.call("POST", "activityparties", nil, body)
	mustStatus(t, "POST activityparties", a, http.StatusMethodNotAllowed)

	contact := env.create(nil, map[string]any{"lastname": "Attendee"})
	a = env.call("POST", "appointments", nil, map[string]any{
		"subject": "Meeting", "scheduledstart": "2026-05-01T15:00:00Z", "scheduledend": "2026-05-01T16:00:00Z",
		"appointment_activity_parties": []any{
			map[string]any{"partyid_systemuser@odata.bind": "/systemusers(" + env.alice.ID + ")", "participationtypemask": 7},
			map[string]any{"partyid_contact@odata.bind": "/contacts(" + contact + ")", "participationtypemask": 5},
		},
	})
	mustStatus(t, "create appointment", a, http.StatusNoContent)
	a = env.call("GET", "activityparties?$select=participationtypemask,_partyid_value", nil, nil)
	values := a.json(t)["value"].([]any)
	if len(values) != 2 {
		t.Fatalf("parties: %s", a.body)
	}
	pid := values[0].(map[string]any)["activitypartyid"].(string)
	mustStatus(t, "PATCH activityparty", env.call("PATCH", "activityparties("+pid+")", nil, body), http.StatusMethodNotAllowed)
	mustStatus(t, "DELETE activityparty", env.call("DELETE", "activityparties("+pid+")", nil, nil), http.StatusMethodNotAllowed)
	a = env.call("GET", "activityparties?$select=participationtypemask", map[string]string{"Prefer": "odata.track-changes"}, nil)
	mustStatus(t, "track activityparties", a, http.StatusBadRequest)
}

func TestServiceProtectionLimit(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	env := newEnv(t, Options{Now: clock.Now, Throttle: Throttle{Requests: 3, Window: 10 * time.Second}})
	for i := 0; i < 3; i++ {
		mustStatus(t, "within the limit", env.call("GET", "contacts", nil, nil), http.StatusOK)
		clock.Advance(time.Second)
	}
	a := env.call("GET", "contacts", nil, nil)
	mustStatus(t, "over the limit", a, http.StatusTooManyRequests)
	// The oldest request leaves the window 10 s after it came, 7 s from now.
	if ra := a.header.Get("Retry-After"); ra != "7" {
		t.Errorf("Retry-After %q, want 7", ra)
	}
	if code, msg := a.errorCode(t); code != "0x80072322" || msg != "Number of requests exceeded the limit of 3 over time window of 10 seconds." {
		t.Errorf("429: %s %q", code, msg)
	}
	clock.Advance(7 * time.Second)
	mustStatus(t, "after Retry-After", env.call("GET", "contacts", nil, nil), http.StatusOK)
}

func TestInjectedFaults(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Options{})
	env.crm.FailNext(1)
	a := env.call("GET", "contacts", nil, nil)
	mustStatus(t, "FailNext", a, http.StatusServiceUnavailable)
	mustStatus(t, "after FailNext", env.call("GET", "contacts", nil, nil), http.StatusOK)

	// A lost answer: the create happens, the client sees a broken connection.
	env.crm.LoseNextAnswers(1)
	req, _ := http.NewRequest("POST", env.base()+"contacts", strings.NewReader(`{"contactid":"11111111-2222-4333-8444-555555555555","lastname":"Lost"}`))
	req.Header.Set("Authorization", "Bearer "+env.token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("lost answer: got %d", resp.StatusCode)
	}
	a = env.call("POST", "contacts", nil, map[string]any{"contactid": "11111111-2222-4333-8444-555555555555", "lastname": "Lost"})
	mustStatus(t, "retried create", a, http.StatusPreconditionFailed)
	if code, _ := a.errorCode(t); code != "0x80040237" {
		t.Errorf("retried create: code %s", code)
	}
}

// TestMaxLength: a text longer than its column's MaxLength is refused
// ("A validation error occurred." with the attribute, entity and limit).
func TestMaxLength(t *testing.T) {
	env := newEnv(t, Options{})
	long := strings.Repeat("x", 101)
	a := env.call("POST", "contacts", nil, map[string]any{"lastname": "Ok", "jobtitle": long})
	code, msg := a.errorCode(t)
	if a.status != 400 || code != "0x80044331" || !strings.Contains(msg, "'jobtitle'") || !strings.Contains(msg, "'100'") {
		t.Errorf("101 characters in jobtitle: %d %s", a.status, a.body)
	}
	mustStatus(t, "100 characters", env.call("POST", "contacts", nil, map[string]any{"lastname": "Ok", "jobtitle": long[:100]}), 204)
}
