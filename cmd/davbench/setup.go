package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/crmdav/crmdav/crmclient/dataverse"
	"github.com/crmdav/crmdav/crmclient/democrm"
	"github.com/crmdav/crmdav/syncstate"
)

// The benchmark's user, address book and calendar.
const (
	benchUser     = "alice" // democrm.Seed's first user
	benchBook     = "contacts"
	benchCalendar = "appointments"
	crmClientID   = "davbench"
)

// benchNow is the date the demo data is spread around (the calendar's
// events over a year before and after it), fixed so that every run queries
// the same data; the calendar-query asks for its month.
var benchNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// seriesShare is the part of the calendar's events that are recurring
// series: one in 20.
const seriesShare = 20

// splitEvents is how many single appointments and recurring masters make
// events calendar objects: about 5% series, at least one when there are
// two events or more.
func splitEvents(events int) (singles, series int) {
	series = events / seriesShare
	if series == 0 && events > 1 {
		series = 1
	}
	return events - series, series
}

// item is one card of the address book as the poll left it.
type item struct {
	href string // escaped absolute path
	body []byte
	etag string
}

// fixture is the state every run starts from.
type fixture struct {
	dir      string // temporary; removed by close
	crm      *democrm.Server
	crmHTTP  *http.Server
	crmURL   string
	secret   string
	password string
	book     string // escaped path of the address book, with a final slash
	items    []item
	// calendar is the escaped path of the calendar, with a final slash;
	// "" without events. events is how many objects it holds.
	calendar string
	events   int
}

func randomSecret() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newFixture starts the embedded CRM on 127.0.0.1 with one user, n
// contacts and events more appointments (single ones and recurring
// series), makes the gateway's state with that user, and polls once
// through the Dataverse adapter, as the gateway does.
func newFixture(ctx context.Context, n, events int, progress io.Writer) (_ *fixture, err error) {
	dir, err := os.MkdirTemp("", "davbench-")
	if err != nil {
		return nil, err
	}
	f := &fixture{dir: dir, secret: randomSecret(), password: randomSecret()}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	crmDir, stateDir := filepath.Join(dir, "crm"), filepath.Join(dir, "state")
	for _, d := range []string{crmDir, stateDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	if f.crm, err = democrm.Open(democrm.Options{Dir: crmDir}); err != nil {
		return nil, err
	}
	if err := f.crm.AddClient(democrm.Client{ID: crmClientID, Secret: f.secret}); err != nil {
		return nil, err
	}
	singles, series := splitEvents(events)
	users, err := f.crm.Seed(democrm.Demo{Users: 1, Contacts: n, Appointments: singles, Series: series, Now: benchNow, Seed: 1})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f.crmURL = "http://" + ln.Addr().String()
	f.crmHTTP = &http.Server{Handler: f.crm.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go f.crmHTTP.Serve(ln)
	fmt.Fprintf(progress, "davbench: embedded CRM seeded with %d contacts and %d more appointments (%d recurring series) in %s\n",
		n, events, series, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	client, err := dataverse.New(dataverse.Config{URL: f.crmURL, TokenURL: f.crmURL + democrm.TokenPath,
		ClientID: crmClientID, ClientSecret: f.secret})
	if err != nil {
		return nil, err
	}
	st, err := syncstate.Open(stateDir, syncstate.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if _, err := st.AddUser(ctx, benchUser, f.password, users[0]); err != nil {
		return nil, err
	}
	syncer := syncstate.NewSyncer(st, client, syncstate.SyncOptions{PushDelay: time.Hour, PollInterval: time.Hour})
	if err := syncer.Poll(ctx); err != nil {
		return nil, err
	}
	f.book = (&url.URL{Path: "/dav/" + benchUser + "/" + benchBook + "/"}).EscapedPath()
	err = st.Items(ctx, benchUser, benchBook, true, func(it syncstate.Item) error {
		href := (&url.URL{Path: "/dav/" + benchUser + "/" + benchBook + "/" + it.Href}).EscapedPath()
		f.items = append(f.items, item{href: href, body: it.Body, etag: it.ETag})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(f.items) != n {
		return nil, fmt.Errorf("the address book holds %d cards after the poll, want %d", len(f.items), n)
	}
	if events > 0 {
		// The demo's own appointments are there too.
		err = st.Items(ctx, benchUser, benchCalendar, false, func(syncstate.Item) error {
			f.events++
			return nil
		})
		if err != nil {
			return nil, err
		}
		if f.events < events {
			return nil, fmt.Errorf("the calendar holds %d events after the poll, want at least %d", f.events, events)
		}
		f.calendar = (&url.URL{Path: "/dav/" + benchUser + "/" + benchCalendar + "/"}).EscapedPath()
	}
	fmt.Fprintf(progress, "davbench: gateway state polled (%d cards, %d calendar objects) in %s\n", n, f.events, time.Since(start).Round(time.Millisecond))
	return f, st.Close()
}

func (f *fixture) stateDir() string { return filepath.Join(f.dir, "state") }

func (f *fixture) close() {
	if f.crmHTTP != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		f.crmHTTP.Shutdown(ctx)
		cancel()
	}
	if f.crm != nil {
		f.crm.Close()
	}
	os.RemoveAll(f.dir)
}

// startServer runs the gateway child on the fixture's state.
func (f *fixture) startServer(cpuprofile string, stderr io.Writer) (*child, error) {
	args := []string{"-state", f.stateDir(), "-crm-url", f.crmURL, "-client-id", crmClientID}
	if cpuprofile != "" {
		abs, err := filepath.Abs(cpuprofile)
		if err != nil {
			return nil, err
		}
		args = append(args, "-cpuprofile", abs)
	}
	return startChild("server", args, []string{secretEnv + "=" + f.secret}, stderr)
}

// startFloor runs the floor child with recs.
func (f *fixture) startFloor(recs map[string]*recording, stderr io.Writer) (*child, error) {
	path := filepath.Join(f.dir, "recordings")
	if err := writeRecordings(path, recs); err != nil {
		return nil, err
	}
	return startChild("floor", []string{"-recordings", path}, nil, stderr)
}

// machine describes where the benchmark ran.
type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemoryKiB int64  `json:"memory_kib"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
}

func readMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &m.MemoryKiB)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}
