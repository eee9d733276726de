package server_test

import (
	"golang.org/x/crypto/bcrypt"

	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/crmtest"
	"github.com/crmdav/crmdav/server"
	"github.com/crmdav/crmdav/syncstate"
)

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type fixture struct {
	env    *crmtest.Env
	st     *syncstate.Store
	syncer *syncstate.Syncer
	srv    *server.Server
	log    *logBuffer
	url    string
}

const password = "alice-app-password"

func setUp(t *testing.T, cfg server.Config, so syncstate.SyncOptions) *fixture {
	t.Helper()
	f := &fixture{env: crmtest.Start(t, crmtest.Options{}), log: &logBuffer{}}
	var err error
	if f.st, err = syncstate.Open(t.TempDir(), syncstate.Options{PasswordCost: bcrypt.MinCost}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	if _, err := f.st.AddUser(context.Background(), "alice", password, f.env.Users[0]); err != nil {
		t.Fatal(err)
	}
	if so.PushDelay == 0 {
		so.PushDelay = time.Hour
	}
	f.syncer = syncstate.NewSyncer(f.st, f.env.Client, so)
	cfg.Store, cfg.Syncer, cfg.Logger = f.st, f.syncer, slog.New(slog.NewTextHandler(f.log, nil))
	f.srv = server.New(cfg)
	ts := httptest.NewServer(f.srv.Handler())
	t.Cleanup(ts.Close)
	f.url = ts.URL
	return f
}

func (f *fixture) do(t *testing.T, method, path, user, pass string, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

const card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:http-1\r\nFN:Hedy Lamarr\r\nN:Lamarr;Hedy;;;\r\nTITLE:Inventor\r\nX-KEEP:me\r\nEND:VCARD\r\n"

func TestAuthentication(t *testing.T) {
	f := setUp(t, server.Config{}, syncstate.SyncOptions{})
	resp, _ := f.do(t, "PROPFIND", "/dav/alice/contacts/", "", "", "", "Depth", "0")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no credentials: %s %v", resp.Status, resp.Header)
	}
	resp, _ = f.do(t, "PROPFIND", "/dav/alice/contacts/", "alice", "wrong-password", "", "Depth", "0")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %s", resp.Status)
	}
	if !strings.Contains(f.log.String(), "authentication failed") || strings.Contains(f.log.String(), "wrong-password") {
		t.Errorf("log after a wrong password:\n%s", f.log.String())
	}
	resp, _ = f.do(t, "PUT", "/dav/alice/contacts/x.vcf", "alice", "wrong-password", card, "Content-Type", "text/vcard")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("PUT with a wrong password: %s", resp.Status)
	}
	if _, err := f.st.Get(context.Background(), "alice", "contacts", "x.vcf"); err == nil {
		t.Error("a PUT with a wrong password was stored")
	}
	for range 2 { // the second is answered from the cache
		resp, _ = f.do(t, "PROPFIND", "/dav/alice/contacts/", "alice", password, "", "Depth", "0")
		if resp.StatusCode != http.StatusMultiStatus {
			t.Errorf("right password: %s", resp.Status)
		}
	}
	resp, _ = f.do(t, "GET", "/healthz", "", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %s", resp.Status)
	}
}

// TestPutReachesCRM goes through every layer: an HTTP PUT, the outbox, a
// manual sync round, the CRM; and bad input that must reach nothing.
func TestPutReachesCRM(t *testing.T) {
	f := setUp(t, server.Config{}, syncstate.SyncOptions{})
	resp, body := f.do(t, "PUT", "/dav/alice/contacts/hedy.vcf", "alice", password, card, "Content-Type", "text/vcard; charset=utf-8", "If-None-Match", "*")
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(resp.Header.Get("ETag"), `"`) {
		t.Fatalf("PUT: %s %v %s", resp.Status, resp.Header, body)
	}
	etag := resp.Header.Get("ETag")
	resp, body = f.do(t, "PUT", "/dav/alice/contacts/bad.vcf", "alice", password, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Uid\r\nEND:VCARD\r\n", "Content-Type", "text/vcard")
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "valid-address-data") {
		t.Errorf("card without UID: %s %s", resp.Status, body)
	}
	f.env.CRM.RecordRequests(true)
	resp, body = f.do(t, "POST", "/sync", "alice", password, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /sync: %s %s", resp.Status, body)
	}
	posts := 0
	for _, r := range f.env.CRM.Requests() {
		if r.Method == http.MethodPost {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("%d creates in the CRM, want 1 (the bad card sends nothing)", posts)
	}
	list, err := f.env.Client.List(context.Background(), crmclient.Contact, f.env.Users[0].ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("CRM contacts: %v %v", list, err)
	}
	rec, _ := f.env.Client.Get(context.Background(), f.env.Users[0], crmclient.Contact, list[0].ID)
	if rec.Columns["lastname"] != "Lamarr" || rec.Columns["jobtitle"] != "Inventor" {
		t.Errorf("CRM record %v", rec.Columns)
	}
	resp, body = f.do(t, "GET", "/dav/alice/contacts/hedy.vcf", "alice", password, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != etag || !strings.Contains(body, "X-KEEP:me") {
		t.Errorf("GET after sync: %s %s (etag %s, was %s)", resp.Status, body, resp.Header.Get("ETag"), etag)
	}
	resp, _ = f.do(t, "DELETE", "/dav/alice/contacts/hedy.vcf", "alice", password, "", "If-Match", `"stale"`)
	if resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("DELETE with a stale If-Match: %s", resp.Status)
	}
}

func TestSyncTimeout(t *testing.T) {
	f := setUp(t, server.Config{SyncTimeout: 200 * time.Millisecond}, syncstate.SyncOptions{})
	f.env.CRM.SetLatency(time.Second)
	defer f.env.CRM.SetLatency(0)
	start := time.Now()
	resp, _ := f.do(t, "POST", "/sync", "alice", password, "")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("slow CRM: POST /sync %s, want 504", resp.Status)
	}
	if el := time.Since(start); el > 900*time.Millisecond {
		t.Errorf("POST /sync answered after %v", el)
	}
}

// TestShutdownFinishesThePush: an interrupt while a push is on its way to
// a slow CRM lets it finish; the change is in the CRM afterwards.
func TestShutdownFinishesThePush(t *testing.T) {
	f := setUp(t, server.Config{}, syncstate.SyncOptions{PushDelay: time.Millisecond, PollInterval: time.Hour})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	time.Sleep(300 * time.Millisecond) // the first poll
	f.env.CRM.SetLatency(800 * time.Millisecond)
	req, _ := http.NewRequest("PUT", base+"/dav/alice/contacts/hedy.vcf", strings.NewReader(card))
	req.SetBasicAuth("alice", password)
	req.Header.Set("Content-Type", "text/vcard")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %v %v", resp, err)
	}
	resp.Body.Close()
	time.Sleep(300 * time.Millisecond) // the push is waiting for the CRM
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return")
	}
	f.env.CRM.SetLatency(0)
	list, err := f.env.Client.List(context.Background(), crmclient.Contact, f.env.Users[0].ID)
	if err != nil || len(list) != 1 {
		t.Errorf("after shutdown the CRM has %d contacts (%v), want the one pushed", len(list), err)
	}
}

// TestFailedLoginsAreLimited: past 20 failed logins a minute, an address
// gets 429 without a password check, even with the right password.
func TestFailedLoginsAreLimited(t *testing.T) {
	f := setUp(t, server.Config{}, syncstate.SyncOptions{})
	for i := range 20 {
		if resp, _ := f.do(t, "PROPFIND", "/dav/alice/contacts/", "alice", "guess", "", "Depth", "0"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %s", i, resp.Status)
		}
	}
	resp, _ := f.do(t, "PROPFIND", "/dav/alice/contacts/", "alice", password, "", "Depth", "0")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("after 20 failures: %s %v", resp.Status, resp.Header)
	}
}
