package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/crmdav/crmdav/crmclient/dataverse"
	"github.com/crmdav/crmdav/crmclient/democrm"
	"github.com/crmdav/crmdav/server"
	"github.com/crmdav/crmdav/syncstate"
)

// childFlag, as the first argument, makes this binary a child process of a
// benchmark: "-davbench-child=server" or "-davbench-child=floor". The test
// binary honours it too (TestMain), so the test runs the same processes.
const childFlag = "-davbench-child="

// secretEnv carries the CRM client secret to the server child, off the
// command line.
const secretEnv = "DAVBENCH_CRM_SECRET"

// labelHeader names the kind of a request. The floor answers by it; the
// server ignores it. Both get it, so both get the same requests.
const labelHeader = "X-Davbench-Request"

// childMain runs a child: it listens on 127.0.0.1, prints "listening URL"
// on stdout, serves until its stdin is closed (the driver ends or stops
// it), and exits 0.
func childMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	role := strings.TrimPrefix(args[0], childFlag)
	fs := flag.NewFlagSet("davbench child", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "", "server: the gateway's state directory")
	crmURL := fs.String("crm-url", "", "server: the CRM's URL")
	clientID := fs.String("client-id", "", "server: the CRM client id")
	cpuprofile := fs.String("cpuprofile", "", "server: CPU profile file")
	recordings := fs.String("recordings", "", "floor: the recorded answers")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		io.Copy(io.Discard, stdin)
		cancel()
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "davbench %s: %v\n", role, err)
		return 1
	}
	switch role {
	case "server":
		err = serveGateway(ctx, ln, *state, *crmURL, *clientID, os.Getenv(secretEnv), *cpuprofile, stdout, stderr)
	case "floor":
		err = serveFloor(ctx, ln, *recordings, stdout)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(stderr, "davbench %s: %v\n", role, err)
		return 1
	}
	return 0
}

// serveGateway runs the gateway as crmdav serve does (syncstate.Store,
// Syncer on the Dataverse adapter, server.Server), with its background
// sync idle: the state was polled by the driver, and the poll made here
// before listening finds nothing new.
func serveGateway(ctx context.Context, ln net.Listener, state, crmURL, clientID, secret, cpuprofile string, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := syncstate.Open(state, syncstate.Options{Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	client, err := dataverse.New(dataverse.Config{URL: crmURL, TokenURL: crmURL + democrm.TokenPath, ClientID: clientID, ClientSecret: secret, Logger: log})
	if err != nil {
		return err
	}
	syncer := syncstate.NewSyncer(st, client, syncstate.SyncOptions{PushDelay: time.Hour, PollInterval: time.Hour, Logger: log})
	if err := syncer.Poll(ctx); err != nil {
		return err
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	srv := server.New(server.Config{Store: st, Syncer: syncer, Logger: log})
	fmt.Fprintf(stdout, "listening http://%s\n", ln.Addr())
	return srv.Serve(ctx, ln)
}

// recording is one answer of the server, replayed by the floor.
type recording struct {
	Label  string      `json:"label"`
	Status int         `json:"status"`
	Header http.Header `json:"header"` // without Date and Content-Length
	Length bool        `json:"length"` // sent with Content-Length (not chunked)
	Size   int         `json:"size"`
	Body   []byte      `json:"-"`
}

// writeRecordings stores recordings as, for each, one line of JSON
// metadata followed by the raw body, so that the floor reads them without
// holding a second copy.
func writeRecordings(path string, recs map[string]*recording) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, r := range recs {
		r.Size = len(r.Body)
		meta, err := json.Marshal(r)
		if err != nil {
			f.Close()
			return err
		}
		w.Write(meta)
		w.WriteByte('\n')
		w.Write(r.Body)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readRecordings(path string) (map[string]*recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	recs := map[string]*recording{}
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return recs, nil
		}
		if err != nil {
			return nil, err
		}
		r := &recording{}
		if err := json.Unmarshal(line, r); err != nil {
			return nil, err
		}
		r.Body = make([]byte, r.Size)
		if _, err := io.ReadFull(br, r.Body); err != nil {
			return nil, err
		}
		recs[r.Label] = r
	}
}

// floor answers every request with the recorded answer of its kind:
// the same status, headers and bytes, and no other work. It is what a
// server that had every answer ready would cost.
type floor map[string]*recording

func (f floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	rec := f[r.Header.Get(labelHeader)]
	if rec == nil {
		w.WriteHeader(http.StatusTeapot) // the driver sent a kind it did not record
		return
	}
	h := w.Header()
	for k, v := range rec.Header {
		h[k] = v
	}
	if rec.Length {
		h["Content-Length"] = []string{strconv.Itoa(len(rec.Body))}
	}
	w.WriteHeader(rec.Status)
	w.Write(rec.Body)
}

func serveFloor(ctx context.Context, ln net.Listener, path string, stdout io.Writer) error {
	recs, err := readRecordings(path)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: floor(recs), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(stdout, "listening http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

// child is a running child process, seen from the driver.
type child struct {
	role  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
	done  chan error
}

// startChild runs this executable as a child of role and waits until it
// listens.
func startChild(role string, args, env []string, stderr io.Writer) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append([]string{childFlag + role}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{role: role, cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, out)
		c.done <- cmd.Wait()
	}()
	select {
	case line, ok := <-lines:
		if url, found := strings.CutPrefix(line, "listening "); ok && found {
			c.url = url
			return c, nil
		}
		c.stop()
		return nil, fmt.Errorf("%s process did not start", role)
	case <-time.After(2 * time.Minute):
		c.stop()
		return nil, fmt.Errorf("%s process did not listen within 2 minutes", role)
	}
}

// stop ends the child: its stdin closes, it shuts down; it is killed if it
// has not ended after 30 seconds.
func (c *child) stop() error {
	c.stdin.Close()
	select {
	case err := <-c.done:
		return err
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		return fmt.Errorf("%s process killed after 30s", c.role)
	}
}

// memory is a process's resident set from /proc/<pid>/status, in KiB.
type memory struct {
	PeakKiB    int64 `json:"peak_kib"`    // VmHWM
	CurrentKiB int64 `json:"current_kib"` // VmRSS
}

func readMemory(pid int) (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}, err
	}
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			m.PeakKiB = n
		case "VmRSS":
			m.CurrentKiB = n
		}
	}
	if m.PeakKiB == 0 {
		return m, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
	}
	return m, nil
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// readCPU is the CPU time (user + system) a process has used so far.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses: state is
	// field 3, utime 14, stime 15.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return time.Duration(u+s) * clockTick, nil
}
