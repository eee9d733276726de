package dataverse_test

import (
	"context"
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/crmtest"
	"github.com/crmdav/crmdav/crmclient/democrm"
)

// BenchmarkChangesInitial10k reads 10,000 contacts through change tracking
// from the embedded CRM over HTTP, in pages of 5000, and reports records/s
// (target: at least 20,000 on a 2-core machine).
func BenchmarkChangesInitial10k(b *testing.B) {
	env := crmtest.Start(b, crmtest.Options{Users: []string{"bench"}})
	if _, err := env.CRM.Seed(democrm.Demo{Users: 1, Contacts: 10_000, Now: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	n := 0
	start := time.Now()
	for b.Loop() {
		cs, err := env.Client.Changes(ctx, crmclient.Contact, "")
		if err != nil {
			b.Fatal(err)
		}
		n += len(cs.Changed)
	}
	if n < 10_000*b.N {
		b.Fatalf("read %d records in %d rounds", n, b.N)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
}
