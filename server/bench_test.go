package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient/crmtest"
	"github.com/crmdav/crmdav/crmclient/democrm"
	"github.com/crmdav/crmdav/server"
	"github.com/crmdav/crmdav/syncstate"
)

// BenchmarkPUT10k measures PUT-to-response over HTTP (auth, dav, the
// durable transaction of syncstate) on an address book of 10,000 cards that
// came from the embedded CRM. Target: p50 ≤ 3 ms.
func BenchmarkPUT10k(b *testing.B) {
	ts, names, etags := benchBook(b)
	client := ts.Client()
	var lat []time.Duration
	b.ResetTimer()
	for k := 0; b.Loop(); k++ {
		name := names[rand.IntN(len(names))]
		uid := strings.TrimSuffix(name, ".vcf")
		body := fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:Bench %d\r\nN:Bench;%d;;;\r\nTITLE:Title %d\r\nEND:VCARD\r\n", uid, k, k, k)
		req, _ := http.NewRequest(http.MethodPut, ts.URL+"/dav/alice/contacts/"+name, strings.NewReader(body))
		req.SetBasicAuth("alice", password)
		req.Header.Set("Content-Type", "text/vcard; charset=utf-8")
		req.Header.Set("If-Match", etags[name])
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != http.StatusNoContent {
			b.Fatalf("PUT %s: %s", name, resp.Status)
		}
		etags[name] = resp.Header.Get("ETag")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// benchBook serves an address book of 10,000 cards polled from the
// embedded CRM, and returns the server, the cards' names and ETags.
func benchBook(b *testing.B) (*httptest.Server, []string, map[string]string) {
	env := crmtest.Start(b, crmtest.Options{Users: []string{"admin"}})
	seeded, err := env.CRM.Seed(democrm.Demo{Users: 1, Contacts: 10_000}) // makes alice
	if err != nil {
		b.Fatal(err)
	}
	st, err := syncstate.Open(b.TempDir(), syncstate.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.AddUser(ctx, "alice", password, seeded[0]); err != nil {
		b.Fatal(err)
	}
	syncer := syncstate.NewSyncer(st, env.Client, syncstate.SyncOptions{PushDelay: time.Hour, PollInterval: time.Hour})
	if err := syncer.Poll(ctx); err != nil {
		b.Fatal(err)
	}
	var names []string
	etags := map[string]string{}
	st.Items(ctx, "alice", "contacts", false, func(it syncstate.Item) error {
		names = append(names, it.Href)
		etags[it.Href] = it.ETag
		return nil
	})
	if len(names) != 10_000 {
		b.Fatalf("%d cards", len(names))
	}
	srv := server.New(server.Config{Store: st, Syncer: syncer, Logger: slog.New(slog.DiscardHandler)})
	// Requests carry their method as a profile label: go test -cpuprofile,
	// then go tool pprof -tagfocus=method=REPORT.
	h := srv.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pprof.Do(r.Context(), pprof.Labels("method", r.Method), func(context.Context) { h.ServeHTTP(w, r) })
	}))
	b.Cleanup(ts.Close)
	// The background sync runs as in Serve: a PUT kicks it.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { syncer.Run(runCtx); close(done) }()
	b.Cleanup(func() { stop(); <-done })
	return ts, names, etags
}

// BenchmarkSyncAfter10 measures, as davbench's "sync-collection after 10
// PUTs" does, an incremental sync-collection REPORT over HTTP right after
// 10 PUTs to a book of 10,000 cards, with the background sync running (its
// push delay and poll interval are an hour). Only the REPORT is timed.
func BenchmarkSyncAfter10(b *testing.B) {
	ts, names, etags := benchBook(b)
	client := ts.Client()
	do := func(method, path, body string, hdr ...string) (*http.Response, string) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.SetBasicAuth("alice", password)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(out)
	}
	tokenOf := func(ms string) string {
		i, j := strings.Index(ms, "<D:sync-token>"), strings.Index(ms, "</D:sync-token>")
		if i < 0 || j < i {
			b.Fatalf("no sync-token: %s", ms)
		}
		return ms[i+len("<D:sync-token>") : j]
	}
	_, ms := do("PROPFIND", "/dav/alice/contacts/", `<D:propfind xmlns:D="DAV:"><D:prop><D:sync-token/></D:prop></D:propfind>`, "Depth", "0")
	token := tokenOf(ms)
	var lat []time.Duration
	for k := 0; b.Loop(); k++ {
		for _, i := range rand.Perm(len(names))[:10] {
			name := names[i]
			uid := strings.TrimSuffix(name, ".vcf")
			body := fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:Bench %d\r\nN:Bench;%d;;;\r\nEND:VCARD\r\n", uid, k, k)
			resp, _ := do(http.MethodPut, "/dav/alice/contacts/"+name, body, "Content-Type", "text/vcard", "If-Match", etags[name])
			if resp.StatusCode != http.StatusNoContent {
				b.Fatalf("PUT: %s", resp.Status)
			}
			etags[name] = resp.Header.Get("ETag")
		}
		q := `<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>` + token +
			`</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`
		start := time.Now()
		resp, out := do("REPORT", "/dav/alice/contacts/", q, "Depth", "0", "Content-Type", "application/xml")
		lat = append(lat, time.Since(start))
		if resp.StatusCode != http.StatusMultiStatus || strings.Count(out, "<D:response>") != 10 {
			b.Fatalf("REPORT: %s %s", resp.Status, out)
		}
		token = tokenOf(out)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

// BenchmarkMultiget100 measures an addressbook-multiget REPORT of 100
// random cards of a book of 10,000 over HTTP (davbench's "multiget of
// 100"), after a PROPFIND Depth 1 of the book.
func BenchmarkMultiget100(b *testing.B) {
	ts, names, _ := benchBook(b)
	client := ts.Client()
	// A client lists the book before it asks for cards (as davbench's
	// PROPFIND workload does before its multigets).
	req, _ := http.NewRequest("PROPFIND", ts.URL+"/dav/alice/contacts/", strings.NewReader(`<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>`))
	req.SetBasicAuth("alice", password)
	req.Header.Set("Depth", "1")
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var lat []time.Duration
	for b.Loop() {
		var q strings.Builder
		q.WriteString(`<?xml version="1.0" encoding="utf-8"?><C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop>`)
		for range 100 {
			q.WriteString("<D:href>/dav/alice/contacts/" + names[rand.IntN(len(names))] + "</D:href>")
		}
		q.WriteString("</C:addressbook-multiget>")
		req, _ := http.NewRequest("REPORT", ts.URL+"/dav/alice/contacts/", strings.NewReader(q.String()))
		req.SetBasicAuth("alice", password)
		req.Header.Set("Depth", "1")
		req.Header.Set("Content-Type", "application/xml")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != http.StatusMultiStatus || strings.Count(string(out), "<D:response>") != 100 {
			b.Fatalf("REPORT: %s %.300s", resp.Status, out)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}
