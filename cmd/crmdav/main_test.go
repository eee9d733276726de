package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/dataverse"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBadCommandLines(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nosuchcommand"},
		{"democrm", "--nosuchflag"},
		{"democrm", "--users", "zero"},
		{"democrm", "--users", "0"},
		{"democrm", "extra-argument"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if strings.Contains(errOut.String(), "goroutine") || strings.Contains(errOut.String(), "panic") {
			t.Errorf("%q: stack trace: %s", args, errOut.String())
		}
	}
}

func TestDemoCRMBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"democrm", "--listen", ln.Addr().String(), "--data", t.TempDir(), "--contacts", "1"}, &out, &errOut)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if lines := strings.Count(strings.TrimSpace(errOut.String()), "\n"); lines != 0 || !strings.Contains(errOut.String(), "address already in use") {
		t.Errorf("want one line naming the busy address, got %q", errOut.String())
	}
}

// TestDemoCRMServes runs "crmdav democrm" and talks to it with the adapter,
// using what it printed.
func TestDemoCRMServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"democrm", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--users", "2", "--contacts", "4", "--client-id", "gw"}, &out, &errOut)
	}()
	var m []string
	re := regexp.MustCompile(`token URL:\s+(\S+)[\s\S]*client secret:\s+(\S+)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m = re.FindStringSubmatch(out.String()); m != nil {
			break
		}
	}
	if m == nil {
		t.Fatalf("no URLs printed; stdout %q stderr %q", out.String(), errOut.String())
	}
	tokenURL, secret := m[1], m[2]
	base := strings.TrimSuffix(tokenURL, "/oauth2/token")
	cl, err := dataverse.New(dataverse.Config{URL: base, TokenURL: tokenURL, ClientID: "gw", ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	users, err := cl.FindUsers(ctx, "@crmdav.demo")
	if err != nil || len(users) != 2 {
		t.Fatalf("users: %+v, %v", users, err)
	}
	cs, err := cl.Changes(ctx, crmclient.Contact, "")
	if err != nil || len(cs.Changed) != 8 {
		t.Fatalf("contacts: %d, %v", len(cs.Changed), err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after interrupt; stderr %q", code, errOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("democrm did not stop")
	}
}

// One crmdav serve at a time uses a state directory: a second one stops at
// once with a message that says why, and the lock goes with the first.
func TestServeLocksItsDirectory(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockServing(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"serve", "--data", dir, "--listen", "127.0.0.1:0"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "another crmdav serve is using "+dir) {
		t.Errorf("second serve: exit %d, stderr %q", code, errOut.String())
	}
	unlock()
	unlock2, err := lockServing(dir)
	if err != nil {
		t.Fatalf("after the first let go: %v", err)
	}
	unlock2()
}
