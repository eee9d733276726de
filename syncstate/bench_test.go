package syncstate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
)

func benchCard(i int, title string) []byte {
	return fmt.Appendf(nil, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-%05d\r\nFN:Person %05d\r\nN:%05d;Person;;;\r\nTITLE:%s\r\nEMAIL;TYPE=INTERNET:p%05d@example.com\r\nTEL;TYPE=WORK,VOICE:+49 30 %07d\r\nX-CUSTOM:kept\r\nEND:VCARD\r\n", i, i, i, title, i, i)
}

// seedBench fills user bench's address book with n cards in bulk, as if a
// poll had brought them.
func seedBench(b *testing.B, n int) *Store {
	b.Helper()
	st, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.AddUser(ctx, "bench", "benchmark-password", crmclient.User{ID: "u1", ObjectID: "o1", DomainName: "bench@example.com"}); err != nil {
		b.Fatal(err)
	}
	col, err := st.collection(st.db, "bench", "contacts")
	if err != nil {
		b.Fatal(err)
	}
	items := make([]itemRow, n)
	for i := range items {
		body := benchCard(i, "Initial")
		items[i] = itemRow{CollectionID: col.ID, Href: fmt.Sprintf("bench-%05d.vcf", i), UID: fmt.Sprintf("bench-%05d", i), ETag: etagOf(body), Body: body, Revision: 1}
	}
	if err := st.db.CreateInBatches(items, 500).Error; err != nil {
		b.Fatal(err)
	}
	var maps []idmapRow
	var snaps []snapshotRow
	cd := vcardCodec{}
	for i, it := range items {
		obj, err := cd.parse(it.Body)
		if err != nil {
			b.Fatal(err)
		}
		cols := obj.cols
		id := fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
		x, _ := EncodeSnapshot(crmclient.Contact, id, cols)
		maps = append(maps, idmapRow{ItemID: it.ID, CRMKind: "contact", CRMID: id, CRMETag: `W/"1"`})
		snaps = append(snaps, snapshotRow{ItemID: it.ID, XML: x})
	}
	if err := st.db.CreateInBatches(maps, 500).Error; err != nil {
		b.Fatal(err)
	}
	if err := st.db.CreateInBatches(snaps, 500).Error; err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkPut10k measures PUT-to-response of the store (parse, diff, one
// durable transaction with mirror, change log and outbox) on a 10,000-card
// address book. Target: p50 ≤ 3 ms.
func BenchmarkPut10k(b *testing.B) {
	const n = 10_000
	st := seedBench(b, n)
	ctx := context.Background()
	etags := map[int]string{}
	var lat []time.Duration
	b.ResetTimer()
	for k := 0; b.Loop(); k++ {
		i := rand.IntN(n)
		body := benchCard(i, fmt.Sprintf("Title %d", k))
		cond := Conditions{IfMatch: etags[i]}
		start := time.Now()
		etag, _, err := st.Put(ctx, "bench", "contacts", fmt.Sprintf("bench-%05d.vcf", i), body, cond)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		etags[i] = etag
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkGetMany100 measures the store's part of a multiget of 100
// random cards of a 10,000-card address book.
func BenchmarkGetMany100(b *testing.B) {
	st := seedBench(b, 10_000)
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	hrefs := make([]string, 100)
	for b.Loop() {
		for i := range hrefs {
			hrefs[i] = fmt.Sprintf("bench-%05d.vcf", rnd.IntN(10_000))
		}
		n := 0
		if err := st.GetMany(ctx, "bench", "contacts", hrefs, func(Item) error { n++; return nil }); err != nil || n != len(hrefs) {
			b.Fatal(n, err)
		}
	}
}
