package server

import (
	"golang.org/x/crypto/bcrypt"

	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/syncstate"
)

// R7: a password changed (or a user removed) with "crmdav user" while the
// server runs keeps working for up to 5 minutes: the auth cache is never
// invalidated and does not check the stored hash.
func TestRegressionOldPasswordStillAccepted(t *testing.T) {
	ctx := context.Background()
	st, err := syncstate.Open(t.TempDir(), syncstate.Options{PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.AddUser(ctx, "alice", "old password!", crmclient.User{ID: "u1", ObjectID: "o1", DomainName: "alice@x"}); err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Store: st, Syncer: syncstate.NewSyncer(st, nil, syncstate.SyncOptions{})})
	h := srv.Handler()
	do := func(pw string) int {
		r := httptest.NewRequest("PROPFIND", "/", nil)
		r.Header.Set("Depth", "0")
		r.SetBasicAuth("alice", pw)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if c := do("old password!"); c == http.StatusUnauthorized {
		t.Fatalf("first login %d", c)
	}
	// The administrator revokes the leaked password (another process,
	// "crmdav user" works while the server runs).
	if err := st.SetPassword(ctx, "alice", "new password!"); err != nil {
		t.Fatal(err)
	}
	if c := do("old password!"); c != http.StatusUnauthorized {
		t.Errorf("revoked password still accepted: %d", c)
	}
	if err := st.RemoveUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if c := do("old password!"); c != http.StatusUnauthorized {
		t.Errorf("removed user still authenticated: %d", c)
	}
}
