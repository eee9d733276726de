package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/crmdav/crmdav/crmclient/democrm"
)

// runDemoCRM serves the embedded CRM on its own, for a gateway (or the
// adapter's tests) to talk to over HTTP as to Dataverse.
func runDemoCRM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("democrm", stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "address to serve on")
	dir := fs.String("data", "./crmdav-democrm", "directory for the CRM's SQLite file")
	clientID := fs.String("client-id", "crmdav", "OAuth2 client id of the gateway's application registration")
	secret := fs.String("client-secret", "", "its client secret (default: generated and printed)")
	users := fs.Int("users", 3, "number of demo users (alice, bob, carol, …)")
	contacts := fs.Int("contacts", 20, "demo contacts per user")
	deltaExpiry := fs.Duration("change-tracking-expiry", 7*24*time.Hour, "how long a delta token stays valid")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *users < 1 || *contacts < 0 {
		return fmt.Errorf("%w: --users must be at least 1 and --contacts not negative", errUsage)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv, ln, err := startDemoCRM(*listen, *dir, democrm.Client{ID: *clientID, Secret: *secret},
		democrm.Demo{Users: *users, Contacts: *contacts}, *deltaExpiry, log)
	if err != nil {
		return err
	}
	defer srv.crm.Close()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "embedded CRM (Dataverse Web API v9.2)\n")
	fmt.Fprintf(stdout, "  Web API URL:   %s%s\n", base, democrm.APIPath)
	fmt.Fprintf(stdout, "  token URL:     %s%s\n", base, democrm.TokenPath)
	fmt.Fprintf(stdout, "  client id:     %s\n", srv.client.ID)
	if *secret == "" {
		fmt.Fprintf(stdout, "  client secret: %s\n", srv.client.Secret)
	}
	fmt.Fprintf(stdout, "  users:        ")
	for _, u := range srv.users {
		fmt.Fprintf(stdout, " %s", u.DomainName)
	}
	fmt.Fprintf(stdout, "\n  connect with:  crmdav serve --crm-url %s --crm-token-url %s%s --crm-client-id %s --crm-client-secret …\n",
		base, base, democrm.TokenPath, srv.client.ID)
	return srv.serve(ctx, ln)
}

// demoCRM is a running embedded CRM.
type demoCRM struct {
	crm    *democrm.Server
	client democrm.Client
	users  []democrmUser
	http   *http.Server
}

type democrmUser struct{ DomainName string }

// startDemoCRM opens the CRM in dir, registers the client, seeds demo data
// and listens on addr.
func startDemoCRM(addr, dir string, client democrm.Client, demo democrm.Demo, deltaExpiry time.Duration, log *slog.Logger) (*demoCRM, net.Listener, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	crm, err := democrm.Open(democrm.Options{Dir: dir, Logger: log, ChangeTrackingExpiry: deltaExpiry})
	if err != nil {
		return nil, nil, err
	}
	if client.Secret == "" {
		client.Secret = randomSecret()
	}
	if err := crm.AddClient(client); err != nil {
		crm.Close()
		return nil, nil, err
	}
	us, err := crm.Seed(demo)
	if err != nil {
		crm.Close()
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		crm.Close()
		return nil, nil, err
	}
	d := &demoCRM{crm: crm, client: client,
		http: &http.Server{Handler: crm.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	for _, u := range us {
		d.users = append(d.users, democrmUser{u.DomainName})
	}
	return d, ln, nil
}

// serve answers on ln until ctx is done, then shuts down gracefully.
func (d *demoCRM) serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- d.http.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.http.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
