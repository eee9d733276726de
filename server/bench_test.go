package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
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
	env := crmtest.Start(b, crmtest.Options{Users: []string{"admin"}})
	seeded, err := env.CRM.Seed(democrm.Demo{Users: 1, Contacts: 10_000}) // makes alice
	if err != nil {
		b.Fatal(err)
	}
	st, err := syncstate.Open(b.TempDir(), syncstate.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.AddUser(ctx, "alice", password, seeded[0]); err != nil {
		b.Fatal(err)
	}
	syncer := syncstate.NewSyncer(st, env.Client, syncstate.SyncOptions{PushDelay: time.Hour})
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
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
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
