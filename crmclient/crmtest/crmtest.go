// Package crmtest starts the embedded CRM on a loopback port for tests and
// connects the real Dataverse adapter to it, like net/http/httptest.
package crmtest

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/dataverse"
	"github.com/crmdav/crmdav/crmclient/democrm"
)

// Test application credentials.
const (
	ClientID     = "crmdav-test"
	ClientSecret = "test-secret"
)

// Env is a running embedded CRM and an adapter connected to it.
type Env struct {
	CRM    *democrm.Server
	Server *httptest.Server
	Client *dataverse.Client
	Users  []crmclient.User // alice, bob, carol
}

// Options tune Start.
type Options struct {
	CRM     democrm.Options  // Dir defaults to t.TempDir()
	Adapter dataverse.Config // URL and credentials are filled in
	Users   []string         // default alice, bob, carol
	Clients []democrm.Client // more application registrations
}

// Start opens the embedded CRM in a temporary directory, serves it over
// HTTP on 127.0.0.1, adds users and connects an adapter with short
// backoffs. Everything is closed when the test ends.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	if o.CRM.Dir == "" {
		o.CRM.Dir = t.TempDir()
	}
	crm, err := democrm.Open(o.CRM)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { crm.Close() })
	if err := crm.AddClient(democrm.Client{ID: ClientID, Secret: ClientSecret}); err != nil {
		t.Fatal(err)
	}
	for _, c := range o.Clients {
		if err := crm.AddClient(c); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(crm.Handler())
	t.Cleanup(srv.Close)

	if len(o.Users) == 0 {
		o.Users = []string{"alice", "bob", "carol"}
	}
	env := &Env{CRM: crm, Server: srv}
	for _, name := range o.Users {
		u, err := crm.AddUser(name+"@crmdav.demo", name, "Test")
		if err != nil {
			t.Fatal(err)
		}
		env.Users = append(env.Users, u)
	}
	cfg := o.Adapter
	cfg.URL = srv.URL
	cfg.TokenURL = srv.URL + democrm.TokenPath
	if cfg.ClientID == "" {
		cfg.ClientID, cfg.ClientSecret = ClientID, ClientSecret
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 100*time.Millisecond
	}
	env.Client, err = dataverse.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return env
}
