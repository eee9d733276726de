package democrm

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
)

// Test application credentials. crmtest cannot be used here: it imports
// this package.
const (
	testClientID     = "crmdav-test"
	testClientSecret = "test-secret"
)

// testEnv is an embedded CRM served over real HTTP, with an access token of
// the test application and two users.
type testEnv struct {
	t     testing.TB
	crm   *Server
	srv   *httptest.Server
	token string
	alice crmclient.User
	bob   crmclient.User
}

// manualClock is an injectable Options.Now.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newEnv(t testing.TB, opts Options) *testEnv {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	crm, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { crm.Close() })
	if err := crm.AddClient(Client{ID: testClientID, Secret: testClientSecret}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(crm.Handler())
	t.Cleanup(srv.Close)
	env := &testEnv{t: t, crm: crm, srv: srv}
	if env.alice, err = crm.AddUser("alice@crmdav.demo", "Alice", "Test"); err != nil {
		t.Fatal(err)
	}
	if env.bob, err = crm.AddUser("bob@crmdav.demo", "Bob", "Test"); err != nil {
		t.Fatal(err)
	}
	env.token = env.getToken(testClientID, testClientSecret)
	return env
}

// base is the Web API root as clients address it.
func (env *testEnv) base() string { return env.srv.URL + APIPath }

// getToken runs the client credentials grant over HTTP.
func (env *testEnv) getToken(id, secret string) string {
	env.t.Helper()
	form := url.Values{"client_id": {id}, "client_secret": {secret}, "grant_type": {"client_credentials"},
		"scope": {env.srv.URL + "/.default"}}
	resp, err := http.PostForm(env.srv.URL+TokenPath, form)
	if err != nil {
		env.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		env.t.Fatalf("token: status %d, err %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// answer is an HTTP response read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value, failing the test if it is
// not JSON.
func (a answer) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", a.status, err, a.body)
	}
	return m
}

// errorCode returns the code and message of an OData error answer.
func (a answer) errorCode(t testing.TB) (string, string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("answer %d is not an OData error: %v: %s", a.status, err, a.body)
	}
	return e.Error.Code, e.Error.Message
}

// call sends a request. uri is relative to the Web API root unless it is
// absolute (a next or delta link) or starts with "/". Header "Authorization"
// defaults to the environment's bearer token; give it as "" to send none.
func (env *testEnv) call(method, uri string, header map[string]string, body any) answer {
	env.t.Helper()
	switch {
	case strings.HasPrefix(uri, "http://"), strings.HasPrefix(uri, "https://"):
	case strings.HasPrefix(uri, "/"):
		uri = env.srv.URL + uri
	default:
		uri = env.base() + uri
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			env.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, escapeSpaces(uri), rd)
	if err != nil {
		env.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("OData-Version", "4.0")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	req.Header.Set("Authorization", "Bearer "+env.token)
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		env.t.Fatalf("%s %s: %v", method, uri, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		env.t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// as is the header that makes a request act as user u.
func as(u crmclient.User) map[string]string { return map[string]string{"CallerObjectId": u.ObjectID} }

// create makes a contact and returns its id.
func (env *testEnv) create(header map[string]string, body map[string]any) string {
	env.t.Helper()
	a := env.call("POST", "contacts", header, body)
	if a.status != http.StatusNoContent {
		env.t.Fatalf("create: %d %s", a.status, a.body)
	}
	loc := a.header.Get("OData-EntityId")
	open := strings.LastIndexByte(loc, '(')
	if open < 0 || !strings.HasSuffix(loc, ")") {
		env.t.Fatalf("create: OData-EntityId %q", loc)
	}
	return loc[open+1 : len(loc)-1]
}

// mustStatus fails the test unless a has the status.
func mustStatus(t testing.TB, what string, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, a.status, status, a.body)
	}
}

// escapeSpaces lets tests write OData query options as the documentation
// does, with spaces ("$filter=lastname eq 'x'").
func escapeSpaces(uri string) string { return strings.ReplaceAll(uri, " ", "%20") }
