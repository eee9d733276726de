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
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/dataverse"
	"github.com/crmdav/crmdav/crmclient/democrm"
	"github.com/crmdav/crmdav/server"
	"github.com/crmdav/crmdav/syncstate"
)

// runServe runs the gateway: against the CRM named by the --crm-* flags,
// or, without them, against the embedded CRM with demo users.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve DAV on")
	dir := fs.String("data", "./crmdav-data", "directory for the gateway's state")
	crm := crmFlags(fs)
	pollInterval := fs.Duration("poll-interval", 30*time.Second, "time between polls of the CRM's change feeds")
	pushDelay := fs.Duration("push-delay", 2*time.Second, "how long a client change waits before it is pushed, so bursts coalesce")
	demoPassword := fs.String("demo-password", "", "with the embedded CRM: one app password for every demo user (default: generated)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("%w: --log-level %q", errUsage, *logLevel)
	}
	if *demoPassword != "" && len(*demoPassword) < 8 {
		return fmt.Errorf("%w: --demo-password must have at least 8 characters", errUsage)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	unlock, err := lockServing(*dir)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := syncstate.Open(*dir, syncstate.Options{Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()

	var client *dataverse.Client
	var demo []demoLogin
	if crm.url == "" {
		var stop func()
		client, demo, stop, err = startDemo(ctx, st, filepath.Join(*dir, "democrm"), *demoPassword, log)
		if err != nil {
			return err
		}
		defer stop()
	} else if client, err = crm.client(log); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	syncer := syncstate.NewSyncer(st, client, syncstate.SyncOptions{PushDelay: *pushDelay, PollInterval: *pollInterval, Logger: log})
	srv := server.New(server.Config{Store: st, Syncer: syncer, Logger: log})
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(stdout, "crmdav serving CalDAV and CardDAV at %s\n", url)
	if crm.url != "" {
		fmt.Fprintf(stdout, "  CRM: %s (add users with: crmdav user add NAME --crm-user EMAIL)\n", crm.url)
	} else {
		fmt.Fprintf(stdout, "  CRM: the embedded demo CRM (data in %s)\n", filepath.Join(*dir, "democrm"))
		fmt.Fprintf(stdout, "  add an account with the server URL %s and one of these logins:\n", url)
		for _, d := range demo {
			fmt.Fprintf(stdout, "    user %-8s password %s\n", d.user, d.password)
		}
	}
	return srv.Serve(ctx, ln)
}

type demoLogin struct{ user, password string }

// startDemo runs the embedded CRM on a loopback port in this process, seeds
// demo data, and gives each demo CRM user a gateway login.
func startDemo(ctx context.Context, st *syncstate.Store, dir, password string, log *slog.Logger) (*dataverse.Client, []demoLogin, func(), error) {
	secret := randomSecret()
	d, ln, err := startDemoCRM("127.0.0.1:0", dir, democrm.Client{ID: "crmdav-demo", Secret: secret},
		democrm.Demo{Users: 3, Contacts: 20}, 7*24*time.Hour, log.With("component", "democrm"))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("embedded CRM: %w", err)
	}
	crmCtx, stopCRM := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.serve(crmCtx, ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("embedded CRM stopped", "err", err)
		}
	}()
	stop := func() { stopCRM(); <-done; d.crm.Close() }
	base := "http://" + ln.Addr().String()
	client, err := dataverse.New(dataverse.Config{URL: base, TokenURL: base + democrm.TokenPath, ClientID: "crmdav-demo", ClientSecret: secret, Logger: log})
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	crmUsers, err := d.crm.Users()
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	existing, err := st.Users(ctx)
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	have := map[string]bool{}
	for _, u := range existing {
		have[u.Name] = true
	}
	var logins []demoLogin
	for _, cu := range crmUsers {
		name, _, _ := strings.Cut(cu.DomainName, "@")
		pw := password
		if pw == "" {
			pw = randomSecret()[:16]
		}
		if have[name] {
			err = st.SetPassword(ctx, name, pw)
		} else {
			_, err = st.AddUser(ctx, name, pw, cu)
		}
		if err != nil {
			stop()
			return nil, nil, nil, err
		}
		logins = append(logins, demoLogin{name, pw})
	}
	sort.Slice(logins, func(i, j int) bool { return logins[i].user < logins[j].user })
	return client, logins, stop, nil
}

var _ crmclient.CRM = (*dataverse.Client)(nil)

// lockServing makes sure one crmdav serve at a time uses a state
// directory: two would push the same changes to the CRM twice, and the
// server keeps collections' state in memory (syncstate/hot.go), which only
// other processes' changes of users reach. The lock is released when the
// process ends, however it ends.
func lockServing(dir string) (func(), error) {
	path := filepath.Join(dir, "serve.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another crmdav serve is using %s (%s is locked); stop it first, or give this one another --data", dir, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
