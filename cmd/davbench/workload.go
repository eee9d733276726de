package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// target is the server or the floor, with what the client knows of it.
// The same client code drives both; each keeps its own ETags and token.
type target struct {
	name     string // "server" or "floor"
	base     string
	pid      int // of the process that answers
	client   *http.Client
	password string
	items    []item   // shared, read-only
	etags    []string // per item; a worker writes only the items of its share
	pending  [][]int  // per worker: items a DELETE run removed, for the next create run
	token    string   // sync-token before the changes of sync-after-10
	seq      atomic.Int64

	mu     sync.Mutex
	record map[string]*recording // when not nil: keep the first answer of every request kind
}

func newTarget(name string, c *child, f *fixture) *target {
	t := &target{name: name, base: c.url, pid: c.cmd.Process.Pid, password: f.password, items: f.items, etags: make([]string, len(f.items)),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}}
	for i, it := range f.items {
		t.etags[i] = it.etag
	}
	return t
}

// request is one request of a workload.
type request struct {
	label  string // the request's kind: the floor answers by it
	method string
	path   string
	header []string // name, value, name, value…
	body   []byte
	want   int  // the status expected
	keep   bool // return the body
}

// do sends rq and reads the whole answer. The latency runs from just
// before the request is sent to the last byte of the answer.
func (t *target) do(ctx context.Context, rq request) (time.Duration, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, rq.method, t.base+rq.path, bytes.NewReader(rq.body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.SetBasicAuth(benchUser, t.password)
	req.Header.Set(labelHeader, rq.label)
	for i := 0; i+1 < len(rq.header); i += 2 {
		req.Header.Set(rq.header[i], rq.header[i+1])
	}
	keep := rq.keep || t.record != nil
	start := time.Now()
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	var body []byte
	if keep {
		body, err = io.ReadAll(resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	lat := time.Since(start)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s %s: reading the answer: %w", t.name, rq.method, rq.path, err)
	}
	if resp.StatusCode != rq.want {
		return 0, nil, nil, fmt.Errorf("%s %s %s: %s, want %d: %.300s", t.name, rq.method, rq.path, resp.Status, rq.want, body)
	}
	if t.record != nil {
		t.mu.Lock()
		if t.record[rq.label] == nil {
			h := resp.Header.Clone()
			h.Del("Date")
			h.Del("Content-Length")
			t.record[rq.label] = &recording{Label: rq.label, Status: resp.StatusCode, Header: h,
				Length: resp.ContentLength >= 0 && len(resp.TransferEncoding) == 0, Body: body}
		}
		t.mu.Unlock()
	}
	return lat, body, resp.Header, nil
}

// worker is one client of a run.
type worker struct {
	id, conc int
	rnd      *rand.Rand
	next     int // position in the worker's share, for DELETE runs
}

// share is how many of n items belong to the worker: those whose index is
// id modulo conc. Workers never write the same item, so If-Match holds.
func (w *worker) share(n int) int {
	if w.id >= n {
		return 0
	}
	return (n - w.id + w.conc - 1) / w.conc
}

// errDone ends a worker's part of a run before its time is up.
var errDone = errors.New("done")

// workload is one kind of client traffic, run at one concurrency.
type workload struct {
	key   string // stable name in the JSON report
	title string
	conc  int
	// untilDone runs until every worker's op says errDone, whatever the
	// duration (the re-creation of what a DELETE run removed).
	untilDone bool
	// busyRate counts requests/s over the time spent in measured requests,
	// for workloads with unmeasured requests between them.
	busyRate bool
	prepare  func(ctx context.Context, t *target) error
	op       func(ctx context.Context, t *target, w *worker) (time.Duration, error)
}

// sample is one run of one workload against one target.
type sample struct {
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	RPS float64       `json:"rps"`
	// CPU is the CPU time the answering process used per request
	// (10 ms resolution over the whole run).
	CPU time.Duration `json:"cpu_per_request_ns"`
}

// runPhase runs wl against t for dur, and until at least minRequests were
// answered.
func runPhase(ctx context.Context, t *target, wl *workload, dur time.Duration, minRequests int) (sample, error) {
	if wl.prepare != nil {
		if err := wl.prepare(ctx, t); err != nil {
			return sample{}, fmt.Errorf("%s: %w", wl.key, err)
		}
	}
	var count atomic.Int64
	lats := make([][]time.Duration, wl.conc)
	g, gctx := errgroup.WithContext(ctx)
	cpu0, err := readCPU(t.pid)
	if err != nil {
		return sample{}, err
	}
	start := time.Now()
	for i := range wl.conc {
		w := &worker{id: i, conc: wl.conc, rnd: rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))}
		g.Go(func() error {
			for {
				if err := gctx.Err(); err != nil {
					return err
				}
				if !wl.untilDone && time.Since(start) >= dur && count.Load() >= int64(minRequests) {
					return nil
				}
				lat, err := wl.op(gctx, t, w)
				if errors.Is(err, errDone) {
					return nil
				}
				if err != nil {
					return err
				}
				lats[i] = append(lats[i], lat)
				count.Add(1)
			}
		})
	}
	err = g.Wait()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", wl.key, err)
	}
	cpu1, err := readCPU(t.pid)
	if err != nil {
		return sample{}, err
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	s := sample{N: len(all)}
	if s.N == 0 {
		return s, nil
	}
	s.P50, s.P99 = percentile(all, 0.50), percentile(all, 0.99)
	span := wall
	if wl.busyRate {
		span = 0
		for _, l := range all {
			span += l
		}
	}
	s.RPS = float64(s.N) / span.Seconds()
	s.CPU = (cpu1 - cpu0) / time.Duration(s.N)
	return s, nil
}

// percentile of sorted values, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

const (
	vcardType = "text/vcard; charset=utf-8"
	xmlType   = "application/xml; charset=utf-8"
	multigetN = 100 // hrefs per addressbook-multiget
	changesN  = 10  // changes before the incremental sync-collection
)

// What clients send (DAVx5, iOS and Thunderbird send these properties).
const propfindBody = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:getcontenttype/><D:resourcetype/></D:prop></D:propfind>`

const tokenBody = `<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:sync-token/></D:prop></D:propfind>`

func syncBody(token string) []byte {
	return []byte(`<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:"><D:sync-token>` + xmlEscape(token) + `</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`)
}

func multigetBody(hrefs []string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>
<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>`)
	for _, h := range hrefs {
		b.WriteString("<D:href>" + xmlEscape(h) + "</D:href>")
	}
	b.WriteString("</C:addressbook-multiget>")
	return b.Bytes()
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
var xmlUnescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'")

func xmlEscape(s string) string { return xmlEscaper.Replace(s) }

var syncTokenRE = regexp.MustCompile(`<(?:[A-Za-z0-9_.-]+:)?sync-token>([^<]*)</`)

// lastToken is the last DAV:sync-token element of a multistatus.
func lastToken(body []byte) (string, error) {
	m := syncTokenRE.FindAllSubmatch(body, -1)
	if len(m) == 0 {
		return "", fmt.Errorf("no sync-token in %.200q", body)
	}
	return xmlUnescaper.Replace(string(m[len(m)-1][1])), nil
}

// retitle is card with its TITLE (a CRM column: jobtitle) set to title,
// as a client sends back a card after one edit.
func retitle(card []byte, title string) []byte {
	lines := strings.SplitAfter(string(card), "\r\n")
	var b strings.Builder
	skip, done := false, false
	for _, l := range lines {
		if skip && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			continue // a folded continuation of the old TITLE
		}
		skip = false
		if !done && strings.HasPrefix(strings.ToUpper(l), "TITLE") && len(l) > 5 && (l[5] == ':' || l[5] == ';') {
			b.WriteString("TITLE:" + title + "\r\n")
			skip, done = true, true
			continue
		}
		if !done && strings.HasPrefix(strings.ToUpper(l), "END:VCARD") {
			b.WriteString("TITLE:" + title + "\r\n")
			done = true
		}
		b.WriteString(l)
	}
	return []byte(b.String())
}

// addressBookWorkloads are the CardDAV workloads on the fixture's address
// book: what a sync client sends when it first syncs and then keeps up.
func addressBookWorkloads(f *fixture, conc []int) []*workload {
	n := len(f.items)
	book := f.book
	wls := []*workload{
		{key: "propfind-depth1", title: "PROPFIND Depth 1", conc: 1,
			op: func(ctx context.Context, t *target, w *worker) (time.Duration, error) {
				lat, _, _, err := t.do(ctx, request{label: "propfind-depth1", method: "PROPFIND", path: book,
					header: []string{"Depth", "1", "Content-Type", xmlType}, body: []byte(propfindBody), want: http.StatusMultiStatus})
				return lat, err
			}},
		{key: "multiget-100", title: fmt.Sprintf("REPORT addressbook-multiget of %d", min(multigetN, n)), conc: 1,
			op: func(ctx context.Context, t *target, w *worker) (time.Duration, error) {
				hrefs := make([]string, 0, min(multigetN, n))
				for _, i := range sampleIndexes(w.rnd, n, min(multigetN, n)) {
					hrefs = append(hrefs, t.items[i].href)
				}
				lat, _, _, err := t.do(ctx, request{label: "multiget-100", method: "REPORT", path: book,
					header: []string{"Depth", "1", "Content-Type", xmlType}, body: multigetBody(hrefs), want: http.StatusMultiStatus})
				return lat, err
			}},
		{key: "sync-initial", title: "REPORT sync-collection, initial", conc: 1,
			op: func(ctx context.Context, t *target, w *worker) (time.Duration, error) {
				lat, _, _, err := t.do(ctx, request{label: "sync-initial", method: "REPORT", path: book,
					header: []string{"Depth", "0", "Content-Type", xmlType}, body: syncBody(""), want: http.StatusMultiStatus})
				return lat, err
			}},
		{key: "sync-after-10", title: fmt.Sprintf("REPORT sync-collection after %d PUTs", changesN), conc: 1, busyRate: true,
			prepare: func(ctx context.Context, t *target) error {
				_, body, _, err := t.do(ctx, request{label: "sync-token", method: "PROPFIND", path: book,
					header: []string{"Depth", "0", "Content-Type", xmlType}, body: []byte(tokenBody), want: http.StatusMultiStatus, keep: true})
				if err != nil {
					return err
				}
				t.token, err = lastToken(body)
				return err
			},
			op: func(ctx context.Context, t *target, w *worker) (time.Duration, error) {
				// The changes are not measured; the report that tells them is.
				k := min(changesN, n)
				for _, i := range sampleIndexes(w.rnd, n, k) {
					if _, err := t.update(ctx, "sync-put", i); err != nil {
						return 0, err
					}
				}
				lat, body, _, err := t.do(ctx, request{label: "sync-after-10", method: "REPORT", path: book,
					header: []string{"Depth", "0", "Content-Type", xmlType}, body: syncBody(t.token), want: http.StatusMultiStatus, keep: true})
				if err != nil {
					return 0, err
				}
				if got := bytes.Count(body, []byte("<D:response>")); got != k {
					return 0, fmt.Errorf("%s: incremental sync-collection reported %d members, want %d", t.name, got, k)
				}
				t.token, err = lastToken(body)
				return lat, err
			}},
	}
	for _, c := range conc {
		wls = append(wls,
			&workload{key: fmt.Sprintf("put-update-c%d", c), title: "PUT, update with If-Match", conc: c,
				op: func(ctx context.Context, t *target, w *worker) (time.Duration, error) {
					sh := w.share(n)
					if sh == 0 {
						return 0, errDone
					}
					return t.update(ctx, "put-update", w.id+w.conc*w.rnd.IntN(sh))
				}},
			&workload{key: fmt.Sprintf("get-c%d", c), title: "GET", conc: c,
				op: func(ctx context.Context, t *target, w *worker) (time.Duration, error) {
					lat, _, _, err := t.do(ctx, request{label: "get", method: http.MethodGet, path: t.items[w.rnd.IntN(n)].href, want: http.StatusOK})
					return lat, err
				}},
			&workload{key: fmt.Sprintf("delete-c%d", c), title: "DELETE with If-Match", conc: c,
				prepare: func(ctx context.Context, t *target) error {
					t.pending = make([][]int, c)
					return nil
				},
				op: func(ctx context.Context, t *target, w *worker) (time.Duration, error) {
					// At most a tenth of the book goes per run; the next
					// workload puts it back.
					sh := w.share(n)
					limit := min(sh, max(1, n/10/w.conc))
					if len(t.pending[w.id]) >= limit {
						return 0, errDone
					}
					if len(t.pending[w.id]) == 0 {
						w.next = w.rnd.IntN(sh)
					}
					i := w.id + w.conc*((w.next+len(t.pending[w.id]))%sh)
					lat, _, _, err := t.do(ctx, request{label: "delete", method: http.MethodDelete, path: t.items[i].href,
						header: []string{"If-Match", t.etags[i]}, want: http.StatusNoContent})
					if err != nil {
						return 0, err
					}
					t.pending[w.id] = append(t.pending[w.id], i)
					return lat, nil
				}},
			&workload{key: fmt.Sprintf("create-c%d", c), title: "PUT, re-create after DELETE (If-None-Match: *)", conc: c, untilDone: true,
				op: func(ctx context.Context, t *target, w *worker) (time.Duration, error) {
					p := t.pending[w.id]
					if len(p) == 0 {
						return 0, errDone
					}
					i := p[len(p)-1]
					lat, _, h, err := t.do(ctx, request{label: "create", method: http.MethodPut, path: t.items[i].href,
						header: []string{"Content-Type", vcardType, "If-None-Match", "*"}, body: t.items[i].body, want: http.StatusCreated})
					if err != nil {
						return 0, err
					}
					t.etags[i] = h.Get("ETag")
					t.pending[w.id] = p[:len(p)-1]
					return lat, nil
				}},
		)
	}
	return wls
}

// update PUTs item i with a new TITLE and If-Match, keeps its new ETag
// and returns the PUT's latency.
func (t *target) update(ctx context.Context, label string, i int) (time.Duration, error) {
	body := retitle(t.items[i].body, fmt.Sprintf("davbench %s %d", t.name, t.seq.Add(1)))
	lat, _, h, err := t.do(ctx, request{label: label, method: http.MethodPut, path: t.items[i].href,
		header: []string{"Content-Type", vcardType, "If-Match", t.etags[i]}, body: body, want: http.StatusNoContent})
	if err != nil {
		return 0, err
	}
	t.etags[i] = h.Get("ETag")
	return lat, nil
}

// sampleIndexes picks k distinct indexes below n.
func sampleIndexes(rnd *rand.Rand, n, k int) []int {
	seen := make(map[int]bool, k)
	out := make([]int, 0, k)
	for len(out) < k {
		i := rnd.IntN(n)
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	return out
}

// calendarMonth is the month a calendar client shows: the one of benchNow.
func calendarMonth() (start, end time.Time) {
	start = time.Date(benchNow.Year(), benchNow.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// calendarWorkloads are the CalDAV workloads on the fixture's calendar:
// what a client sends to show a month (issue 6, "Speed").
func calendarWorkloads(f *fixture) []*workload {
	if f.calendar == "" {
		return nil
	}
	cal := f.calendar
	body := calendarQueryBody(calendarMonth())
	return []*workload{
		{key: "calendar-query-month", title: "REPORT calendar-query of one month", conc: 1,
			op: func(ctx context.Context, t *target, w *worker) (time.Duration, error) {
				lat, _, _, err := t.do(ctx, request{label: "calendar-query-month", method: "REPORT", path: cal,
					header: []string{"Depth", "1", "Content-Type", xmlType}, body: body, want: http.StatusMultiStatus})
				return lat, err
			}},
	}
}

// calendarSkipped says why calendar workloads did not run, or "".
func calendarSkipped(f *fixture) string {
	if len(calendarWorkloads(f)) == 0 {
		return "calendar-query of one month: not run, the calendar has no events (--events 0)"
	}
	return ""
}

// responses counts the members of a multistatus, whatever its prefix.
func responses(body []byte) int {
	return len(responseRE.FindAllIndex(body, -1))
}

var responseRE = regexp.MustCompile(`<(?:[A-Za-z0-9_.-]+:)?response[\s>]`)

// calendarQueryBody is a CalDAV calendar-query for the events and to-dos of
// [start, end) (RFC 4791 §7.8), as clients send for a month view.
func calendarQueryBody(start, end time.Time) []byte {
	const f = "20060102T150405Z"
	return []byte(`<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>` +
		`<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="` + start.UTC().Format(f) +
		`" end="` + end.UTC().Format(f) + `"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`)
}
