// Command davbench is crmdav's DAV load tool (issue 5, "Speed"). In one
// invocation it
//
//   - runs the embedded CRM (crmclient/democrm) in this process (the
//     driver, which is not measured) on 127.0.0.1 with one user and --items
//     generated contacts and --events appointments, about 5% of them
//     recurring series, spread over a year before and after a fixed date
//     (democrm.Seed), makes the gateway's state (syncstate, SQLite on disk
//     in a temporary directory, synchronous=FULL) with that user and an app
//     password, and polls once through the real Dataverse adapter, so the
//     address book holds the cards and the calendar the events;
//   - starts the gateway (syncstate + server, real HTTP Basic auth) in a
//     child process: this binary run again with a hidden flag, so that the
//     server's peak RSS (/proc/<pid>/status VmHWM) is its own;
//   - replays what sync clients send (PROPFIND Depth 1, addressbook-multiget
//     of 100, sync-collection initial and after 10 changes, PUT/GET/DELETE
//     at each --concurrency, calendar-query of the fixed date's month on the
//     calendar), records one real answer of every request kind,
//     and starts the floor in a second child process: a bare net/http
//     handler that answers every request with the recorded status, headers
//     and bytes of its kind, doing no work;
//   - warms both up, then runs --rounds rounds in which every workload runs
//     against the server and the floor back to back (the order alternates
//     by round), and reports medians over the rounds of p50, p99 and
//     requests/s, the ratios server/floor, both processes' peak RSS, and
//     PASS/FAIL for the targets of issues 5 and 6.
//
// The background sync of the gateway stays idle while it is measured (push
// delay and poll interval of one hour): the load is the DAV requests alone.
//
// Usage:
//
//	go run ./cmd/davbench [--items 10000] [--events 10000] [--rounds 5] [--duration 1s]
//	    [--concurrency 1,8,32] [--json] [--strict] [--cpuprofile FILE]
//	    [--workloads REGEXP] [--min-requests 10]
//
// The exit status is 0 even when a target fails, unless --strict (then 3);
// 1 when the benchmark could not run, 2 for a bad command line. Every
// listener is on 127.0.0.1; all state lives in a temporary directory that
// is removed at the end.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], childFlag) {
		os.Exit(childMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is the command line.
type config struct {
	items       int
	events      int
	rounds      int
	duration    time.Duration
	minRequests int
	concurrency []int
	json        bool
	strict      bool
	cpuprofile  string
	only        *regexp.Regexp // workloads whose key matches; nil: all
}

var errUsage = errors.New("usage")

func parseConfig(args []string, stderr io.Writer) (config, error) {
	c := config{}
	fs := flag.NewFlagSet("davbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.items, "items", 10_000, "contacts in the address book")
	fs.IntVar(&c.events, "events", 10_000, "appointments added to the calendar, about 5% of them recurring series (0: no calendar workload)")
	fs.IntVar(&c.rounds, "rounds", 5, "measured rounds; every workload runs once per round against the server and the floor")
	fs.DurationVar(&c.duration, "duration", time.Second, "how long each workload runs per round and target")
	fs.IntVar(&c.minRequests, "min-requests", 10, "each run lasts until --duration is over and at least this many requests were answered")
	conc := fs.String("concurrency", "1,8,32", "comma-separated client concurrencies of the PUT, GET and DELETE workloads")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON")
	fs.BoolVar(&c.strict, "strict", false, "exit with status 3 when a target fails")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the server process to this file")
	only := fs.String("workloads", "", "run only the workloads whose key matches this regular expression (e.g. 'sync|propfind'); targets of others are not judged")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if c.items < 1 || c.rounds < 1 || c.duration <= 0 || c.minRequests < 1 || c.events < 0 {
		return c, fmt.Errorf("%w: --items, --rounds, --min-requests must be at least 1, --events at least 0 and --duration positive", errUsage)
	}
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 256 {
			return c, fmt.Errorf("%w: --concurrency %q: want numbers from 1 to 256", errUsage, *conc)
		}
		c.concurrency = append(c.concurrency, n)
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			return c, fmt.Errorf("%w: --workloads: %v", errUsage, err)
		}
		c.only = re
	}
	return c, nil
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "davbench: %v\n", err)
		return 2
	}
	rep, err := bench(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "davbench: %v\n", err)
		return 1
	}
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "davbench: %v\n", err)
			return 1
		}
	} else {
		rep.print(stdout)
	}
	if cfg.strict && !rep.Pass {
		return 3
	}
	return 0
}
