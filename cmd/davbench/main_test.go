package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be the benchmark's child processes, as the
// davbench binary is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], childFlag) {
		os.Exit(childMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestRunSmall runs the whole benchmark with tiny numbers — the CRM, the
// gateway and the floor processes, every workload — so the tool cannot rot.
func TestRunSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	var out, log bytes.Buffer
	code := run(ctx, []string{"--items", "40", "--events", "60", "--rounds", "2", "--duration", "20ms", "--min-requests", "2", "--concurrency", "1,3", "--json"}, &out, &log)
	if code != 0 {
		t.Fatalf("exit status %d\n%s", code, log.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, out.String())
	}
	want := []string{"propfind-depth1", "multiget-100", "sync-initial", "sync-after-10",
		"put-update-c1", "get-c1", "delete-c1", "create-c1", "put-update-c3", "get-c3", "delete-c3", "create-c3",
		"calendar-query-month"}
	if len(rep.Workloads) != len(want) {
		t.Fatalf("%d workloads, want %d: %+v", len(rep.Workloads), len(want), rep.Workloads)
	}
	for i, w := range rep.Workloads {
		if w.Key != want[i] {
			t.Errorf("workload %d is %s, want %s", i, w.Key, want[i])
		}
		if w.Server.Requests < 2 || w.Floor.Requests < 2 || w.Server.P50 <= 0 || w.Floor.P50 <= 0 || w.P50Ratio <= 0 || w.RPSRatio <= 0 {
			t.Errorf("%s: %+v", w.Key, w)
		}
	}
	if rep.Memory.Server.PeakKiB <= 0 || rep.Memory.Floor.PeakKiB <= 0 || len(rep.Targets) != 6 || rep.Targets[3].Name != "calendar-query of one month" {
		t.Errorf("memory %+v, targets %+v", rep.Memory, rep.Targets)
	}
	if c := rep.Calendar; len(rep.Skipped) != 0 || c == nil || c.Objects < 60 || c.Matches < 1 || c.Matches >= c.Objects || c.Month != "2026-11-01/2026-12-01" {
		t.Errorf("skipped %q, calendar %+v", rep.Skipped, rep.Calendar)
	}
	if b := calendarQueryBody(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); !bytes.Contains(b, []byte(`start="20261101T000000Z" end="20261201T000000Z"`)) {
		t.Errorf("calendar-query body %s", b)
	}
}

// TestNoCalendar: without events there is no calendar workload, and the
// report says why.
func TestNoCalendar(t *testing.T) {
	f := &fixture{}
	if len(calendarWorkloads(f)) != 0 || !strings.Contains(calendarSkipped(f), "--events 0") {
		t.Errorf("workloads %d, skipped %q", len(calendarWorkloads(f)), calendarSkipped(f))
	}
	f.calendar = "/dav/alice/appointments/"
	if len(calendarWorkloads(f)) != 1 || calendarSkipped(f) != "" {
		t.Errorf("with a calendar: workloads %d, skipped %q", len(calendarWorkloads(f)), calendarSkipped(f))
	}
	for events, want := range map[int][2]int{0: {0, 0}, 1: {1, 0}, 2: {1, 1}, 60: {57, 3}, 10_000: {9_500, 500}} {
		if a, b := splitEvents(events); a != want[0] || b != want[1] {
			t.Errorf("splitEvents(%d) = %d, %d, want %v", events, a, b, want)
		}
	}
	if n := responses([]byte(`<d:multistatus><d:response><d:href>a</d:href></d:response><response xmlns="DAV:"></response><D:responsedescription/></d:multistatus>`)); n != 2 {
		t.Errorf("responses = %d, want 2", n)
	}
}

// TestText: the text report names every target with a verdict.
func TestText(t *testing.T) {
	rep := &report{Items: 1, Rounds: 1, Duration: "1s", Workloads: []workloadReport{{Key: "propfind-depth1", Title: "PROPFIND Depth 1", Concurrency: 1, P50Ratio: 6}},
		Memory: memoryReport{Server: memory{PeakKiB: 10}, Floor: memory{PeakKiB: 10}, Ratio: 1}}
	rep.Targets = targets(rep, config{concurrency: []int{1}})
	var b bytes.Buffer
	rep.print(&b)
	for _, s := range []string{"FAIL  PROPFIND Depth 1", "PASS  peak memory (RSS) at 1 items"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("no %q in\n%s", s, b.String())
		}
	}
}

func TestRetitle(t *testing.T) {
	for in, want := range map[string]string{
		"BEGIN:VCARD\r\nTITLE:Old\r\n long\r\nFN:A\r\nEND:VCARD\r\n": "BEGIN:VCARD\r\nTITLE:New\r\nFN:A\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nFN:A\r\nEND:VCARD\r\n":                       "BEGIN:VCARD\r\nFN:A\r\nTITLE:New\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nTITLES:x\r\nEND:VCARD\r\n":                   "BEGIN:VCARD\r\nTITLES:x\r\nTITLE:New\r\nEND:VCARD\r\n",
	} {
		if got := string(retitle([]byte(in), "New")); got != want {
			t.Errorf("retitle(%q) = %q, want %q", in, got, want)
		}
	}
}
