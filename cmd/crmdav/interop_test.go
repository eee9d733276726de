package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/dataverse"
)

// The interop tests run the crmdav binary and real third-party clients
// from Debian against it, as users do. Under CI a missing client fails the
// test; elsewhere it is skipped.

// need returns the path of a client program, or stops the test.
func need(t *testing.T, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; .ci/run installs it", program)
		}
		t.Skipf("%s is not installed", program)
	}
	return p
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds crmdav once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crmdav-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "crmdav")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a running crmdav command whose output is watched.
type process struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out strings.Builder
}

func start(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary(t), args...)}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			t.Errorf("%s did not stop on interrupt", args[0])
		}
		pw.Close()
		if t.Failed() {
			t.Logf("output of crmdav %s:\n%s", args[0], p.output())
		}
	})
	return p
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// wait waits until the output matches re and returns the submatches.
func (p *process) wait(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := rx.FindStringSubmatch(p.output()); m != nil {
			return m
		}
	}
	t.Fatalf("no %q in the output:\n%s", re, p.output())
	return nil
}

// gateway is crmdav serve against a separate crmdav democrm, with user
// alice added through crmdav user add.
type gateway struct {
	url, user, password string
	dir                 string   // the gateway's --data
	crmArgs             []string // the --crm-* flags
	crm                 *dataverse.Client
	alice               crmclient.User
}

func startGateway(t *testing.T) *gateway {
	t.Helper()
	dir := t.TempDir()
	crmAddr := freePort(t)
	crmProc := start(t, "democrm", "--listen", crmAddr, "--data", filepath.Join(dir, "crm"), "--client-id", "gw", "--client-secret", "gw-secret", "--users", "2", "--contacts", "5")
	crmProc.wait(t, `token URL:`)
	base := "http://" + crmAddr
	crmArgs := []string{"--crm-url", base, "--crm-token-url", base + "/oauth2/token", "--crm-client-id", "gw", "--crm-client-secret", "gw-secret"}

	add := exec.Command(binary(t), append([]string{"user", "add", "alice", "--crm-user", "alice@crmdav.demo", "--password-stdin", "--data", filepath.Join(dir, "gw")}, crmArgs...)...)
	add.Stdin = strings.NewReader("alice-app-password\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("crmdav user add: %v\n%s", err, out)
	}
	addr := freePort(t)
	gw := start(t, append([]string{"serve", "--listen", addr, "--data", filepath.Join(dir, "gw"), "--push-delay", "100ms", "--poll-interval", "1h"}, crmArgs...)...)
	gw.wait(t, `serving CalDAV and CardDAV at`)
	client, err := dataverse.New(dataverse.Config{URL: base, TokenURL: base + "/oauth2/token", ClientID: "gw", ClientSecret: "gw-secret"})
	if err != nil {
		t.Fatal(err)
	}
	users, err := client.FindUsers(context.Background(), "alice@crmdav.demo")
	if err != nil || len(users) != 1 {
		t.Fatalf("alice in the CRM: %v %v", users, err)
	}
	g := &gateway{url: "http://" + addr + "/", user: "alice", password: "alice-app-password", crm: client, alice: users[0],
		dir: filepath.Join(dir, "gw"), crmArgs: crmArgs}
	g.sync(t)
	return g
}

// sync runs a manual round: POST /sync.
func (g *gateway) sync(t *testing.T) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.url+"sync", nil)
	req.SetBasicAuth(g.user, g.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /sync: %s %s", resp.Status, body)
	}
}

func run1(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(strings.Repeat("y\n", 10)) // vdirsyncer discover: create the local collection
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, ".config"), "XDG_DATA_HOME="+filepath.Join(dir, ".local"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestVdirsyncerContacts syncs alice's address book two-way with
// vdirsyncer and reads it with khard.
func TestVdirsyncerContacts(t *testing.T) {
	vds := need(t, "vdirsyncer")
	g := startGateway(t)
	home := t.TempDir()
	local := filepath.Join(home, "contacts")
	cfg := filepath.Join(home, "vdirsyncer.conf")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[general]
status_path = "%s/status/"

[pair contacts]
a = "local"
b = "remote"
collections = ["from b"]
conflict_resolution = "b wins"

[storage local]
type = "filesystem"
path = "%s/"
fileext = ".vcf"

[storage remote]
type = "carddav"
url = "%s"
username = "%s"
password = "%s"
`, home, local, g.url, g.user, g.password)), 0o600)
	run1(t, home, vds, "-c", cfg, "discover", "contacts")
	run1(t, home, vds, "-c", cfg, "sync")
	book := filepath.Join(local, "contacts")
	files, _ := filepath.Glob(filepath.Join(book, "*.vcf"))
	if len(files) != 5 {
		t.Fatalf("vdirsyncer fetched %d cards, want alice's 5", len(files))
	}

	// Edit one, add one, delete one locally; sync; the CRM has it.
	edited := files[0]
	b, _ := os.ReadFile(edited)
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	text = regexp.MustCompile(`(?m)^TITLE:.*\n`).ReplaceAllString(text, "")
	text = strings.Replace(text, "END:VCARD", "TITLE:Chief Interop Officer\nX-INTEROP:yes\nEND:VCARD", 1)
	os.WriteFile(edited, []byte(text), 0o600)
	os.WriteFile(filepath.Join(book, "new-contact.vcf"), []byte("BEGIN:VCARD\nVERSION:3.0\nUID:new-contact-uid\nFN:Nina Neu\nN:Neu;Nina;;;\nEMAIL;TYPE=INTERNET:nina@example.com\nEND:VCARD\n"), 0o600)
	os.Remove(files[1])
	run1(t, home, vds, "-c", cfg, "sync")
	g.sync(t)

	ctx := context.Background()
	list, err := g.crm.List(ctx, crmclient.Contact, g.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 {
		t.Errorf("CRM has %d contacts of alice, want 5 (5 - 1 deleted + 1 new)", len(list))
	}
	found := map[string]crmclient.Record{}
	for _, v := range list {
		rec, err := g.crm.Get(ctx, g.alice, crmclient.Contact, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		found[rec.Columns["lastname"]+"/"+rec.Columns["jobtitle"]] = rec
	}
	var sawTitle, sawNew bool
	var editedID string
	for k, rec := range found {
		if strings.HasSuffix(k, "/Chief Interop Officer") {
			sawTitle, editedID = true, rec.ID
		}
		if rec.Columns["lastname"] == "Neu" && rec.Columns["emailaddress1"] == "nina@example.com" {
			sawNew = true
		}
	}
	if !sawTitle || !sawNew {
		t.Errorf("CRM contacts %v: edit seen %v, new contact seen %v", keys(found), sawTitle, sawNew)
	}

	// A CRM edit reaches the local file; the client's X- property stays.
	rec := found[""]
	for _, r := range found {
		if r.ID == editedID {
			rec = r
		}
	}
	if _, err := g.crm.Update(ctx, g.alice, crmclient.Contact, rec.ID, rec.ETag, crmclient.Columns{"telephone1": "+49 30 999999"}, nil); err != nil {
		t.Fatal(err)
	}
	crmBorn, err := g.crm.Create(ctx, g.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"firstname": "Carl", "lastname": "CRMBorn"}})
	if err != nil {
		t.Fatal(err)
	}
	g.sync(t)
	run1(t, home, vds, "-c", cfg, "sync")
	b, _ = os.ReadFile(edited)
	if !strings.Contains(string(b), "+49 30 999999") || !strings.Contains(string(b), "X-INTEROP:yes") || !strings.Contains(string(b), "Chief Interop Officer") {
		t.Errorf("local card after the CRM edit:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(book, crmBorn.ID+".vcf")); err != nil {
		all, _ := filepath.Glob(filepath.Join(book, "*.vcf"))
		t.Errorf("CRM-born contact not synced: %v (have %v)", err, all)
	}

	// A second sync with nothing changed changes nothing.
	before := snapshotDir(t, book)
	run1(t, home, vds, "-c", cfg, "sync")
	if after := snapshotDir(t, book); after != before {
		t.Errorf("an idle sync changed local files")
	}

	// khard reads what vdirsyncer wrote.
	if kh, err := exec.LookPath("khard"); err == nil || os.Getenv("CI") != "" {
		if err != nil {
			t.Fatal("khard is not installed; .ci/run installs it")
		}
		kcfg := filepath.Join(home, "khard.conf")
		os.WriteFile(kcfg, []byte(fmt.Sprintf("[addressbooks]\n[[crm]]\npath = %s\n\n[general]\ndefault_action = list\n", book)), 0o600)
		out := run1(t, home, kh, "-c", kcfg, "list")
		if !strings.Contains(out, "Nina") || !strings.Contains(out, "CRMBorn") {
			t.Errorf("khard list:\n%s", out)
		}
	}
}

func keys(m map[string]crmclient.Record) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var b strings.Builder
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := os.ReadFile(f)
		fmt.Fprintf(&b, "%s %d %s\n%s\n", filepath.Base(f), st.Size(), st.ModTime(), c)
	}
	return b.String()
}

// TestUserCommandsWhileServing adds a user while the server runs; the user
// can log in at once. status reports no refused change.
func TestUserCommandsWhileServing(t *testing.T) {
	g := startGateway(t)
	add := exec.Command(binary(t), append([]string{"user", "add", "bob", "--crm-user", "bob@crmdav.demo", "--data", g.dir}, g.crmArgs...)...)
	out, err := add.CombinedOutput()
	if err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`app password \(shown once\): (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no password printed:\n%s", out)
	}
	req, _ := http.NewRequest("PROPFIND", g.url+"dav/bob/contacts/", nil)
	req.Header.Set("Depth", "1")
	req.SetBasicAuth("bob", string(m[1]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		t.Errorf("bob's PROPFIND: %s", resp.Status)
	}
	if out, err := exec.Command(binary(t), "user", "add", "bob", "--crm-user", "bob@crmdav.demo", "--data", g.dir).CombinedOutput(); err == nil {
		t.Errorf("adding bob twice succeeded:\n%s", out)
	}
	out, err = exec.Command(binary(t), "user", "list", "--data", g.dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "alice\talice@crmdav.demo") || !strings.Contains(string(out), "bob\tbob@crmdav.demo") {
		t.Errorf("user list: %v\n%s", err, out)
	}
	out, err = exec.Command(binary(t), "status", "--data", g.dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "refused by the CRM 0") {
		t.Errorf("status: %v\n%s", err, out)
	}
	if out, err := exec.Command(binary(t), "user", "remove", "bob", "--data", g.dir).CombinedOutput(); err != nil {
		t.Errorf("user remove: %v\n%s", err, out)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("removed bob's PROPFIND: %s, want 401", resp.Status)
	}
}

// curlCall runs curl against the gateway and returns the status and body.
func curlCall(t *testing.T, curl string, g *gateway, args ...string) (int, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "body")
	full := append([]string{"-s", "-o", out, "-w", "%{http_code}", "-u", g.user + ":" + g.password}, args...)
	code, err := exec.Command(curl, full...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	body, _ := os.ReadFile(out)
	var status int
	fmt.Sscan(string(code), &status)
	return status, string(body)
}

// TestCurlPreconditionsAndLimits checks every precondition and limit with
// curl, as an administrator would.
func TestCurlPreconditionsAndLimits(t *testing.T) {
	curl := need(t, "curl")
	g := startGateway(t)
	book := g.url + "dav/alice/contacts/"
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:curl-1\r\nFN:Curl Test\r\nN:Test;Curl;;;\r\nEND:VCARD\r\n"
	ct := "Content-Type: text/vcard; charset=utf-8"
	check := func(what string, wantStatus int, wantBody string, args ...string) string {
		t.Helper()
		status, body := curlCall(t, curl, g, args...)
		if status != wantStatus || !strings.Contains(body, wantBody) {
			t.Errorf("%s: %d %q, want %d with %q", what, status, body, wantStatus, wantBody)
		}
		return body
	}
	if out, _ := exec.Command(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", book).Output(); string(out) != "401" {
		t.Errorf("no credentials: %s", out)
	}
	check("create", 201, "", "-X", "PUT", "-H", ct, "-H", "If-None-Match: *", "--data-binary", card, book+"curl-1.vcf")
	check("create again with If-None-Match: *", 412, "", "-X", "PUT", "-H", ct, "-H", "If-None-Match: *", "--data-binary", card, book+"curl-1.vcf")
	check("update with a stale If-Match", 412, "", "-X", "PUT", "-H", ct, "-H", `If-Match: "stale"`, "--data-binary", card, book+"curl-1.vcf")
	check("delete with a stale If-Match", 412, "", "-X", "DELETE", "-H", `If-Match: "stale"`, book+"curl-1.vcf")
	check("the card is still there", 200, "UID:curl-1", book+"curl-1.vcf")
	check("no UID", 403, "valid-address-data", "-X", "PUT", "-H", ct, "--data-binary", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:X\r\nEND:VCARD\r\n", book+"x.vcf")
	check("not a vCard", 403, "", "-X", "PUT", "-H", ct, "--data-binary", "hello", book+"y.vcf")
	check("same UID, other name", 409, "no-uid-conflict", "-X", "PUT", "-H", ct, "--data-binary", card, book+"other.vcf")
	big := filepath.Join(t.TempDir(), "big.vcf")
	os.WriteFile(big, []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:big\r\nFN:Big\r\nNOTE:"+strings.Repeat("x", 11<<20)+"\r\nEND:VCARD\r\n"), 0o600)
	check("over 10 MiB", 413, "", "-X", "PUT", "-H", ct, "--data-binary", "@"+big, book+"big.vcf")
	check("Depth: infinity", 403, "propfind-finite-depth", "-X", "PROPFIND", "-H", "Depth: infinity", book)
	check("malformed XML", 400, "", "-X", "PROPFIND", "-H", "Depth: 0", "-H", "Content-Type: application/xml", "--data-binary", "<D:propfind xmlns:D='DAV:'><D:prop>", book)
	deep := strings.Repeat("<a>", 2000) + strings.Repeat("</a>", 2000)
	check("XML nested too deep", 400, "", "-X", "PROPFIND", "-H", "Depth: 0", "-H", "Content-Type: application/xml", "--data-binary", `<D:propfind xmlns:D="DAV:"><D:prop>`+deep+`</D:prop></D:propfind>`, book)
	check("MKCOL", 403, "collections-defined-by-crm", "-X", "MKCOL", g.url+"dav/alice/new/")
	check("MKCALENDAR", 403, "collections-defined-by-crm", "-X", "MKCALENDAR", g.url+"dav/alice/cal/")
	ctag := func() string {
		body := check("getctag", 207, "getctag", "-X", "PROPFIND", "-H", "Depth: 0", "--data-binary",
			`<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:prop><CS:getctag/><D:sync-token/></D:prop></D:propfind>`, book)
		return regexp.MustCompile(`getctag>([^<]*)<`).FindStringSubmatch(body)[1]
	}
	before := ctag()
	check("PROPPATCH displayname", 207, "200", "-X", "PROPPATCH", "--data-binary",
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Kunden</D:displayname></D:prop></D:set></D:propertyupdate>`, book)
	if after := ctag(); after == before {
		t.Errorf("ctag %s did not change after PROPPATCH", after)
	}
	check("PROPPATCH of a protected property", 207, "403", "-X", "PROPPATCH", "--data-binary",
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getetag>x</D:getetag></D:prop></D:set></D:propertyupdate>`, book)
	check("garbage sync token", 403, "valid-sync-token", "-X", "REPORT", "-H", "Depth: 0", "--data-binary",
		`<D:sync-collection xmlns:D="DAV:"><D:sync-token>garbage</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`, book)
	check("another user's address book", 403, "", "-X", "PROPFIND", "-H", "Depth: 0", g.url+"dav/bob/contacts/")
	check("privileges", 207, "current-user-privilege-set", "-X", "PROPFIND", "-H", "Depth: 0", "--data-binary",
		`<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-privilege-set/></D:prop></D:propfind>`, book)
	check("OPTIONS", 200, "", "-X", "OPTIONS", book)
}

// TestPythonCaldav drives the calendars with python3-caldav: discovery,
// creates, a time-range search that must find a weekly series begun before
// the range, sync tokens, an edit, and a completed to-do; the CRM is
// checked through the adapter.
func TestPythonCaldav(t *testing.T) {
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import caldav").CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-caldav is not installed (.ci/run installs it): %v %s", err, out)
		}
		t.Skipf("python3-caldav is not installed: %s", out)
	}
	g := startGateway(t)
	cmd := exec.Command(py, "testdata/caldav_interop.py", g.url, g.user, g.password)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("caldav_interop.py: %v\n%s\n%s", err, out, stderr)
	}
	var res struct {
		Calendars       []string `json:"calendars"`
		InRange         []string `json:"in_range"`
		SyncInitial     int      `json:"sync_initial"`
		SyncIncremental []string `json:"sync_incremental"`
		EditedLocation  string   `json:"edited_location"`
		TodoStatus      string   `json:"todo_status"`
		OpenTodos       []string `json:"open_todos"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("python3-caldav saw %+v", res)
	inRange := strings.Join(res.InRange, ",")
	if !strings.Contains(inRange, "Interop single") || !strings.Contains(inRange, "Interop weekly") || strings.Contains(inRange, "Interop outside") {
		t.Errorf("time-range search found %v, want the single event and the weekly series begun before the range, not the later event", res.InRange)
	}
	if res.SyncInitial < 3 || strings.Join(res.SyncIncremental, ",") != "interop-late" {
		t.Errorf("sync tokens: initial %d, incremental %v", res.SyncInitial, res.SyncIncremental)
	}
	if res.EditedLocation != "Room 2" || res.TodoStatus != "COMPLETED" {
		t.Errorf("edit %q, todo %q", res.EditedLocation, res.TodoStatus)
	}
	g.sync(t)
	ctx := context.Background()
	masters, _ := g.crm.List(ctx, crmclient.RecurringAppointment, g.alice.ID)
	singles, _ := g.crm.List(ctx, crmclient.Appointment, g.alice.ID)
	weekly := 0
	for _, v := range masters {
		rec, _ := g.crm.Get(ctx, g.alice, crmclient.RecurringAppointment, v.ID)
		if rec.Columns["subject"] == "Interop weekly" && rec.Columns["recurrencepatterntype"] == "1" && rec.Columns["patternendtype"] == "1" {
			weekly++
		}
	}
	if weekly != 1 {
		t.Errorf("the weekly series is not one open weekly recurring master in the CRM (%d masters)", len(masters))
	}
	found := false
	for _, v := range singles {
		rec, _ := g.crm.Get(ctx, g.alice, crmclient.Appointment, v.ID)
		if rec.Columns["subject"] == "Interop single" {
			found = true
			if rec.Columns["location"] != "Room 2" || rec.Columns["scheduledstart"] != "2027-01-15T10:00:00Z" {
				t.Errorf("CRM appointment %v", rec.Columns)
			}
		}
	}
	if !found {
		t.Error("the single event is not in the CRM")
	}
	tasks, _ := g.crm.List(ctx, crmclient.Task, g.alice.ID)
	done := 0
	for _, v := range tasks {
		rec, _ := g.crm.Get(ctx, g.alice, crmclient.Task, v.ID)
		if rec.Columns["subject"] == "Interop todo" && rec.Columns["statecode"] == "1" {
			done++
		}
	}
	if done != 1 {
		t.Errorf("the completed to-do is not completed in the CRM (%d tasks)", len(tasks))
	}
}

// TestVdirsyncerKhalCalendars syncs every calendar and task list with
// vdirsyncer, creates an event locally, and reads the calendar with khal.
func TestVdirsyncerKhalCalendars(t *testing.T) {
	vds := need(t, "vdirsyncer")
	kh := need(t, "khal")
	g := startGateway(t)
	home := t.TempDir()
	local := filepath.Join(home, "cals")
	cfg := filepath.Join(home, "vdirsyncer.conf")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[general]
status_path = "%s/status/"

[pair cals]
a = "local"
b = "remote"
collections = ["from b"]
conflict_resolution = "b wins"

[storage local]
type = "filesystem"
path = "%s/"
fileext = ".ics"

[storage remote]
type = "caldav"
url = "%s"
username = "%s"
password = "%s"
`, home, local, g.url, g.user, g.password)), 0o600)
	run1(t, home, vds, "-c", cfg, "discover", "cals")
	run1(t, home, vds, "-c", cfg, "sync")
	for _, dir := range []string{"appointments", "tasks", "phone-calls", "letters", "faxes", "emails"} {
		files, _ := filepath.Glob(filepath.Join(local, dir, "*.ics"))
		if len(files) == 0 {
			t.Errorf("vdirsyncer fetched nothing into %s", dir)
		}
	}
	start := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Hour)
	event := fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//interop//EN\r\nBEGIN:VEVENT\r\nUID:vdir-event-1\r\nDTSTAMP:20261125T100000Z\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:Vdirsyncer event\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		start.Format("20060102T150405Z"), start.Add(time.Hour).Format("20060102T150405Z"))
	os.WriteFile(filepath.Join(local, "appointments", "vdir-event-1.ics"), []byte(event), 0o600)
	run1(t, home, vds, "-c", cfg, "sync")
	g.sync(t)
	ctx := context.Background()
	list, _ := g.crm.List(ctx, crmclient.Appointment, g.alice.ID)
	found := false
	for _, v := range list {
		if rec, _ := g.crm.Get(ctx, g.alice, crmclient.Appointment, v.ID); rec.Columns["subject"] == "Vdirsyncer event" {
			found = rec.Columns["scheduledstart"] == start.Format(time.RFC3339)
		}
	}
	if !found {
		t.Errorf("the event vdirsyncer uploaded is not in the CRM with its start")
	}
	kcfg := filepath.Join(home, "khal.conf")
	os.WriteFile(kcfg, []byte(fmt.Sprintf(`[calendars]
[[appointments]]
path = %s
type = calendar

[locale]
timeformat = %%H:%%M
dateformat = %%Y-%%m-%%d
longdateformat = %%Y-%%m-%%d
datetimeformat = %%Y-%%m-%%d %%H:%%M
longdatetimeformat = %%Y-%%m-%%d %%H:%%M
`, filepath.Join(local, "appointments"))), 0o600)
	out := run1(t, home, kh, "-c", kcfg, "list", time.Now().AddDate(0, 0, -20).Format("2006-01-02"), "60d")
	if !strings.Contains(out, "Vdirsyncer event") || !strings.Contains(out, "Team sync") {
		t.Errorf("khal list:\n%s", out)
	}
}

// TestLitmus runs litmus, the WebDAV server test suite, against an address
// book and a calendar. Every litmus suite begins by making a collection of
// its own (MKCOL) to PUT arbitrary files into; a gateway whose collections
// are the CRM's refuses that by design (README: MKCOL), so litmus can judge
// only its opening: OPTIONS, the DAV classes, and that the refusal is a
// clean 403 rather than a 404, a 5xx or a hang. This pins that, with
// litmus's own words.
func TestLitmus(t *testing.T) {
	litmus := need(t, "litmus")
	g := startGateway(t)
	for _, col := range []string{"contacts", "appointments"} {
		dir := t.TempDir()
		cmd := exec.Command(litmus, g.url+"dav/alice/"+col+"/", g.user, g.password)
		cmd.Dir = dir // litmus writes debug.log there
		cmd.Env = append(os.Environ(), "TESTS=basic")
		out, _ := cmd.CombinedOutput() // litmus exits 1: begin fails
		s := string(out)
		if !regexp.MustCompile(`init\.+ pass`).MatchString(s) {
			t.Errorf("%s: litmus init did not pass:\n%s", col, s)
		}
		want := "Could not create new collection `/dav/alice/" + col + "/litmus/' for tests: 403 Forbidden"
		if !strings.Contains(s, want) {
			t.Errorf("%s: litmus's MKCOL was not refused with 403:\n%s", col, s)
		}
		if regexp.MustCompile(`: 5\d\d `).MatchString(s) {
			t.Errorf("%s: a server error:\n%s", col, s)
		}
	}
}
