package dav

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBatchLookupsAnswerAlike: a store with GetMany (the server's) and one
// without (per-object Get) give byte-identical answers to multiget and
// sync-collection, odd hrefs included, and the batch path is taken.
func TestBatchLookupsAnswerAlike(t *testing.T) {
	f := newFixture(t, Options{})
	for _, n := range []string{"a", "b", "c", "d"} {
		f.mustPut("/dav/alice/contacts/"+n+".vcf", card(n, strings.ToUpper(n)+" Person"))
	}
	bs := &batchStore{memStore: f.st}
	h := NewHandler(bs, slog.New(slog.DiscardHandler), Options{})
	batch := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, _, ok := r.BasicAuth(); ok {
			r = r.WithContext(WithUser(r.Context(), u))
		}
		h.ServeHTTP(w, r)
	}))
	defer batch.Close()
	doBatch := func(method, path, body string, hdr ...string) string {
		req, _ := http.NewRequest(method, batch.URL+path, strings.NewReader(body))
		req.SetBasicAuth("alice", "x")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Status + "\n" + string(b)
	}
	book := "/dav/alice/contacts/"
	reports := []string{
		multiget("<D:getetag/><C:address-data/>", book+"a.vcf", book+"missing.vcf", book+"b.vcf", book+"a.vcf", "/dav/bob/contacts/x.vcf", book+"c.vcf"),
		multiget("<D:getetag/>", book+"d.vcf"),
		syncBody("", 0, ""),
	}
	for _, body := range reports {
		plain := f.do("alice", "REPORT", book, body, "Depth", "1")
		got := doBatch("REPORT", book, body, "Depth", "1")
		want := http.StatusText(plain.status)
		if !strings.HasSuffix(strings.SplitN(got, "\n", 2)[0], want) || strings.SplitN(got, "\n", 2)[1] != plain.body {
			t.Errorf("answers differ for %s:\nplain %d %s\nbatch %s", body, plain.status, plain.body, got)
		}
	}
	// Incremental: a change and a delete since a token.
	initial := f.do("alice", "REPORT", book, syncBody("", 0, ""), "Depth", "0")
	token := initial.body[strings.Index(initial.body, "<D:sync-token>")+len("<D:sync-token>"):]
	token = token[:strings.Index(token, "<")]
	f.mustPut(book+"e.vcf", card("e", "E Person"))
	f.do("alice", "DELETE", book+"b.vcf", "")
	body := syncBody(token, 0, "<D:getetag/>")
	plain := f.do("alice", "REPORT", book, body, "Depth", "0")
	if got := doBatch("REPORT", book, body, "Depth", "0"); strings.SplitN(got, "\n", 2)[1] != plain.body || !strings.Contains(plain.body, "e.vcf") || !strings.Contains(plain.body, "b.vcf") {
		t.Errorf("incremental answers differ:\nplain %s\nbatch %s", plain.body, got)
	}
	if bs.getMany.Load() == 0 {
		t.Error("the batch path was not taken")
	}
}
