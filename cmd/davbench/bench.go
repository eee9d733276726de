package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// report is what a benchmark found; --json prints it as is.
type report struct {
	Items       int              `json:"items"`
	Events      int              `json:"events"` // asked for (--events)
	Calendar    *calendarReport  `json:"calendar,omitempty"`
	Rounds      int              `json:"rounds"`
	Duration    string           `json:"duration"`
	Concurrency []int            `json:"concurrency"`
	Machine     machine          `json:"machine"`
	Workloads   []workloadReport `json:"workloads"`
	Skipped     []string         `json:"skipped,omitempty"`
	Memory      memoryReport     `json:"memory"`
	Targets     []targetResult   `json:"targets"`
	Pass        bool             `json:"pass"`
}

// stats are the medians over the rounds of one workload on one target.
type stats struct {
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	RPS      float64       `json:"rps"`
	CPU      time.Duration `json:"cpu_per_request_ns"` // of the answering process
	Requests int           `json:"requests"`           // over all rounds
}

type workloadReport struct {
	Key         string  `json:"key"`
	Title       string  `json:"title"`
	Concurrency int     `json:"concurrency"`
	Server      stats   `json:"server"`
	Floor       stats   `json:"floor"`
	P50Ratio    float64 `json:"p50_ratio"` // server/floor: median over rounds of each round's ratio
	RPSRatio    float64 `json:"rps_ratio"` // server/floor, likewise
}

// calendarReport describes the calendar the calendar-query ran on.
type calendarReport struct {
	Objects int    `json:"objects"` // events in the calendar (the demo's own included)
	Month   string `json:"month"`   // the time-range queried, start/end
	Matches int    `json:"matches"` // members of the server's answer
}

type memoryReport struct {
	Server memory  `json:"server"`
	Floor  memory  `json:"floor"`
	Ratio  float64 `json:"ratio"` // peak server / peak floor
}

type targetResult struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Unit  string  `json:"unit"`
	Pass  bool    `json:"pass"`
}

// bench runs the whole benchmark; progress goes to log.
func bench(ctx context.Context, cfg config, log io.Writer) (_ *report, err error) {
	// Both children write their stderr to log, each from its own goroutine.
	log = &lockedWriter{w: log}
	f, err := newFixture(ctx, cfg.items, cfg.events, log)
	if err != nil {
		return nil, err
	}
	defer f.close()
	srvProc, err := f.startServer(cfg.cpuprofile, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if srvProc != nil {
			srvProc.stop()
		}
	}()
	var wls []*workload
	for _, wl := range append(addressBookWorkloads(f, cfg.concurrency), calendarWorkloads(f)...) {
		// A DELETE run and the re-creation after it go together.
		key := strings.Replace(wl.key, "create-", "delete-", 1)
		if cfg.only == nil || cfg.only.MatchString(wl.key) || cfg.only.MatchString(key) {
			wls = append(wls, wl)
		}
	}
	warm := max(cfg.duration/3, 50*time.Millisecond)

	// Warm-up of the server, which records one answer of every request
	// kind for the floor.
	server := newTarget("server", srvProc, f)
	server.record = map[string]*recording{}
	for _, wl := range wls {
		if _, err := runPhase(ctx, server, wl, warm, 1); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	recs := server.record
	server.record = nil
	var cal *calendarReport
	if rec := recs["calendar-query-month"]; rec != nil {
		start, end := calendarMonth()
		cal = &calendarReport{Objects: f.events, Month: start.Format(time.DateOnly) + "/" + end.Format(time.DateOnly), Matches: responses(rec.Body)}
		if cal.Matches == 0 {
			return nil, fmt.Errorf("the calendar-query of %s matched nothing in a calendar of %d events: %.300s", cal.Month, f.events, rec.Body)
		}
		fmt.Fprintf(log, "davbench: calendar-query of %s: %d of %d calendar objects, %d bytes\n", cal.Month, cal.Matches, f.events, len(rec.Body))
	}
	floorProc, err := f.startFloor(recs, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if floorProc != nil {
			floorProc.stop()
		}
	}()
	floor := newTarget("floor", floorProc, f)
	for _, wl := range wls {
		if _, err := runPhase(ctx, floor, wl, warm, 1); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	fmt.Fprintf(log, "davbench: warmed up; %d rounds of %d workloads, %s each, server and floor interleaved\n", cfg.rounds, len(wls), cfg.duration)

	samples := map[string]map[string][]sample{} // workload → target → rounds
	for _, wl := range wls {
		samples[wl.key] = map[string][]sample{}
	}
	for r := range cfg.rounds {
		start := time.Now()
		for _, wl := range wls {
			order := []*target{server, floor}
			if r%2 == 1 {
				order = []*target{floor, server}
			}
			for _, t := range order {
				s, err := runPhase(ctx, t, wl, cfg.duration, cfg.minRequests)
				if err != nil {
					return nil, fmt.Errorf("round %d: %w", r+1, err)
				}
				samples[wl.key][t.name] = append(samples[wl.key][t.name], s)
			}
		}
		fmt.Fprintf(log, "davbench: round %d of %d done in %s\n", r+1, cfg.rounds, time.Since(start).Round(time.Millisecond))
	}

	rep := &report{Items: cfg.items, Events: cfg.events, Calendar: cal, Rounds: cfg.rounds, Duration: cfg.duration.String(), Concurrency: cfg.concurrency, Machine: readMachine()}
	if s := calendarSkipped(f); s != "" {
		rep.Skipped = append(rep.Skipped, s)
	}
	if rep.Memory.Server, err = readMemory(srvProc.cmd.Process.Pid); err != nil {
		return nil, err
	}
	if rep.Memory.Floor, err = readMemory(floorProc.cmd.Process.Pid); err != nil {
		return nil, err
	}
	rep.Memory.Ratio = float64(rep.Memory.Server.PeakKiB) / float64(rep.Memory.Floor.PeakKiB)
	// The server writes its CPU profile as it stops.
	err = srvProc.stop()
	srvProc = nil
	if err != nil {
		return nil, fmt.Errorf("server process: %w", err)
	}
	for _, wl := range wls {
		ss, fs := samples[wl.key]["server"], samples[wl.key]["floor"]
		wr := workloadReport{Key: wl.key, Title: wl.title, Concurrency: wl.conc, Server: summarize(ss), Floor: summarize(fs)}
		var p50s, rpss []float64
		for i := range ss {
			if ss[i].N > 0 && fs[i].N > 0 {
				p50s = append(p50s, float64(ss[i].P50)/float64(fs[i].P50))
				rpss = append(rpss, ss[i].RPS/fs[i].RPS)
			}
		}
		wr.P50Ratio, wr.RPSRatio = median(p50s), median(rpss)
		rep.Workloads = append(rep.Workloads, wr)
	}
	rep.Targets = targets(rep, cfg)
	rep.Pass = true
	for _, t := range rep.Targets {
		rep.Pass = rep.Pass && t.Pass
	}
	return rep, nil
}

func summarize(ss []sample) stats {
	var p50, p99, rps, cpu []float64
	st := stats{}
	for _, s := range ss {
		st.Requests += s.N
		if s.N > 0 {
			p50 = append(p50, float64(s.P50))
			p99 = append(p99, float64(s.P99))
			rps = append(rps, s.RPS)
			cpu = append(cpu, float64(s.CPU))
		}
	}
	st.P50, st.P99, st.RPS, st.CPU = time.Duration(median(p50)), time.Duration(median(p99)), median(rps), time.Duration(median(cpu))
	return st
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// targets are the targets of issues 5 and 6, judged on the medians.
func targets(rep *report, cfg config) []targetResult {
	by := map[string]workloadReport{}
	for _, w := range rep.Workloads {
		by[w.Key] = w
	}
	var out []targetResult
	ratio := func(name, key string, limit float64) {
		if w, ok := by[key]; ok {
			out = append(out, targetResult{Name: name, Value: w.P50Ratio, Limit: limit, Unit: "× floor p50", Pass: w.P50Ratio > 0 && w.P50Ratio <= limit})
		}
	}
	ratio("PROPFIND Depth 1", "propfind-depth1", 5)
	ratio("addressbook-multiget of 100", "multiget-100", 5)
	ratio("sync-collection after 10 changes", "sync-after-10", 2)
	ratio("calendar-query of one month", "calendar-query-month", 20)
	c := slices.Min(cfg.concurrency)
	if put, ok := by[fmt.Sprintf("put-update-c%d", c)]; ok {
		v := float64(put.Server.P50) / float64(time.Millisecond)
		out = append(out, targetResult{Name: fmt.Sprintf("PUT p50, durable, concurrency %d", c), Value: v, Limit: 3, Unit: "ms", Pass: v > 0 && v <= 3})
	}
	// Judged only on the whole set of workloads: the peak of a partial run
	// says little.
	if cfg.only == nil {
		out = append(out, targetResult{Name: fmt.Sprintf("peak memory (RSS) at %d items", rep.Items), Value: rep.Memory.Ratio,
			Limit: 1.5, Unit: "× floor", Pass: rep.Memory.Ratio <= 1.5})
	}
	return out
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
}

// print writes the report as text: the table of BENCHMARKS.md.
func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "davbench: %d contacts, %d more appointments, %d rounds × %s per workload and target, medians over the rounds\n", r.Items, r.Events, r.Rounds, r.Duration)
	if r.Calendar != nil {
		fmt.Fprintf(w, "calendar: %d objects; the calendar-query of %s answers %d\n", r.Calendar.Objects, r.Calendar.Month, r.Calendar.Matches)
	}
	fmt.Fprintf(w, "machine: %d CPUs, %s, %.1f GiB, %s, %s\n\n", r.Machine.CPUs, r.Machine.CPUModel,
		float64(r.Machine.MemoryKiB)/(1<<20), r.Machine.Kernel, r.Machine.Go)
	fmt.Fprintln(w, "| workload | conc | server p50 ms | p99 ms | req/s | CPU ms/req | floor p50 ms | p99 ms | req/s | CPU ms/req | p50 server/floor | req/s server/floor |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, x := range r.Workloads {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.0f | %s | %s | %s | %.0f | %s | %.2f | %.2f |\n", x.Title, x.Concurrency,
			ms(x.Server.P50), ms(x.Server.P99), x.Server.RPS, ms(x.Server.CPU),
			ms(x.Floor.P50), ms(x.Floor.P99), x.Floor.RPS, ms(x.Floor.CPU), x.P50Ratio, x.RPSRatio)
	}
	fmt.Fprintln(w)
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped: %s\n", s)
	}
	fmt.Fprintf(w, "\npeak RSS (VmHWM): server %.1f MiB, floor %.1f MiB, ratio %.2f\n\n",
		float64(r.Memory.Server.PeakKiB)/1024, float64(r.Memory.Floor.PeakKiB)/1024, r.Memory.Ratio)
	for _, t := range r.Targets {
		verdict := "FAIL"
		if t.Pass {
			verdict = "PASS"
		}
		fmt.Fprintf(w, "%s  %-40s %8.2f %s (target ≤ %g)\n", verdict, t.Name, t.Value, t.Unit, t.Limit)
	}
	if !r.Pass {
		fmt.Fprintln(w, "\nsome targets fail (exit status 0; --strict makes it 3)")
	}
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
