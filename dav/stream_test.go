package dav

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// streamStore is a Store that checks answers are streamed: when it hands
// the handler the last object of a listing (or the last Get of a
// request), something must already have been written to the client.
// Calls of List and Get are counted, for O(changes).
type streamStore struct {
	*memStore
	written    *atomic.Int64 // bytes written to the ResponseWriter in this request
	lists      atomic.Int64
	gets       atomic.Int64
	lastGet    int64 // the Get call that must find bytes written; 0: none
	late       atomic.Bool
	lastListed atomic.Int64 // objects handed out by the last List
}

func (s *streamStore) List(ctx context.Context, user, slug string, withBody bool, fn func(Object) error) error {
	s.lists.Add(1)
	total, i := s.count(user, slug), 0
	s.lastListed.Store(0)
	return s.memStore.List(ctx, user, slug, withBody, func(o Object) error {
		i++
		s.lastListed.Add(1)
		if i == total && s.written.Load() == 0 {
			s.late.Store(true)
		}
		return fn(o)
	})
}

func (s *streamStore) Query(ctx context.Context, user, slug string, start, end time.Time, withBody bool, fn func(Object) error) error {
	total, i := s.count(user, slug), 0
	return s.memStore.Query(ctx, user, slug, start, end, withBody, func(o Object) error {
		i++
		if i == total && s.written.Load() == 0 {
			s.late.Store(true)
		}
		return fn(o)
	})
}

func (s *streamStore) Get(ctx context.Context, user, slug, name string) (Object, error) {
	if n := s.gets.Add(1); n == s.lastGet && s.written.Load() == 0 {
		s.late.Store(true)
	}
	return s.memStore.Get(ctx, user, slug, name)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	c.n.Add(int64(len(b)))
	return c.ResponseWriter.Write(b)
}

// TestStreamed: PROPFIND Depth 1 and every REPORT over 5,000 objects
// write to the client before the Store has handed over its last object,
// one object at a time; an incremental sync reads the changes only.
func TestStreamed(t *testing.T) {
	const n = 5000
	written := &atomic.Int64{}
	st := &streamStore{memStore: newMemStore(), written: written}
	book := "/dav/alice/contacts/"
	var hrefs []string
	for i := range n {
		name := fmt.Sprintf("%05d.vcf", i)
		st.objs["alice"]["contacts"][name] = []byte(card(fmt.Sprint(i), fmt.Sprintf("Person %d", i), "EMAIL:p@example.com"))
		hrefs = append(hrefs, book+name)
	}
	h := NewHandler(st, slog.New(slog.DiscardHandler), Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(WithUser(r.Context(), "alice"))
		h.ServeHTTP(countingWriter{w, written}, r)
	}))
	t.Cleanup(srv.Close)
	f := &fixture{t: t, srv: srv}

	for _, c := range []struct {
		name, method, body, depth string
		gets                      int64
		want                      int
	}{
		{"PROPFIND Depth 1", "PROPFIND", `<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>`, "1", 0, n + 1},
		{"addressbook-query", "REPORT", query(`<C:filter/>`), "1", 0, n},
		{"addressbook-query, filter", "REPORT", query(`<C:filter><C:prop-filter name="EMAIL"/></C:filter>`), "1", 0, n},
		{"sync-collection initial", "REPORT", syncBody("", 0, "<D:getetag/><C:address-data/>"), "0", 0, n},
		{"addressbook-multiget", "REPORT", multiget("<D:getetag/><C:address-data/>", hrefs...), "1", n, n},
	} {
		t.Run(c.name, func(t *testing.T) {
			written.Store(0)
			st.gets.Store(0)
			st.lastGet = c.gets
			st.late.Store(false)
			a := f.do("alice", c.method, book, c.body, "Depth", c.depth)
			ms := parseMS(t, a)
			if len(ms.Responses) != c.want {
				t.Fatalf("%d responses, want %d", len(ms.Responses), c.want)
			}
			if st.late.Load() {
				t.Fatal("nothing written before the Store's last object: the answer was held in memory")
			}
			if st.gets.Load() != c.gets {
				t.Fatalf("%d Gets, want %d", st.gets.Load(), c.gets)
			}
		})
	}

	// Incremental sync: Store.Changes and one Get per change, no List.
	tok := parseMS(t, f.do("alice", "REPORT", book, syncBody("", 0, ""), "Depth", "0")).SyncToken
	for i := range 3 {
		if _, _, err := st.Put(t.Context(), "alice", "contacts", fmt.Sprintf("new%d.vcf", i), []byte(card(fmt.Sprintf("new%d", i), "New")), Conditions{}); err != nil {
			t.Fatal(err)
		}
	}
	st.Delete(t.Context(), "alice", "contacts", "00007.vcf", Conditions{})
	lists := st.lists.Load()
	st.gets.Store(0)
	ms := parseMS(t, f.do("alice", "REPORT", book, syncBody(tok, 0, ""), "Depth", "0"))
	if len(ms.Responses) != 4 || st.lists.Load() != lists || st.gets.Load() != 3 {
		t.Fatalf("incremental: %d responses, %d Lists, %d Gets", len(ms.Responses), st.lists.Load()-lists, st.gets.Load())
	}
	if !strings.Contains(ms.Responses[3].Status, " 404 ") {
		t.Fatalf("deleted: %+v", ms.Responses[3])
	}

	// A limited query stops listing at the first match past the limit.
	parseMS(t, f.do("alice", "REPORT", book, query(`<C:filter/><C:limit><C:nresults>10</C:nresults></C:limit>`), "Depth", "1"))
	if got := st.lastListed.Load(); got != 11 {
		t.Fatalf("limited query read %d objects", got)
	}
}

// TestCalStreamed: calendar-query and calendar-multiget over 5,000
// events write to the client before the Store hands over its last
// object.
func TestCalStreamed(t *testing.T) {
	const n = 5000
	written := &atomic.Int64{}
	st := &streamStore{memStore: newMemStore(), written: written}
	coll := "/dav/alice/calendar/"
	var hrefs []string
	for i := range n {
		name := fmt.Sprintf("%05d.ics", i)
		day := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		st.objs["alice"]["calendar"][name] = []byte(event(fmt.Sprint(i), "DTSTART:"+day.Format("20060102T150405Z"), "DURATION:PT30M", "SUMMARY:Meeting "+fmt.Sprint(i)))
		hrefs = append(hrefs, coll+name)
	}
	h := NewHandler(st, slog.New(slog.DiscardHandler), Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(WithUser(r.Context(), "alice"))
		h.ServeHTTP(countingWriter{w, written}, r)
	}))
	t.Cleanup(srv.Close)
	f := &fixture{t: t, srv: srv}
	for _, c := range []struct {
		name, body string
		gets       int64
		want       int
	}{
		{"calendar-query, open range", calQuery("<D:getetag/><L:calendar-data/>", rangeFilter("VEVENT", "20240101T000000Z", "")), 0, n},
		{"calendar-query, text", calQuery("<D:getetag/>", `<L:filter><L:comp-filter name="VCALENDAR"><L:comp-filter name="VEVENT"><L:prop-filter name="SUMMARY"><L:text-match>meeting</L:text-match></L:prop-filter></L:comp-filter></L:comp-filter></L:filter>`), 0, n},
		{"calendar-multiget", calMultiget("<D:getetag/><L:calendar-data/>", hrefs...), n, n},
	} {
		t.Run(c.name, func(t *testing.T) {
			written.Store(0)
			st.gets.Store(0)
			st.lastGet = c.gets
			st.late.Store(false)
			ms := parseMS(t, f.do("alice", "REPORT", coll, c.body, "Depth", "1"))
			if len(ms.Responses) != c.want {
				t.Fatalf("%d responses, want %d", len(ms.Responses), c.want)
			}
			if st.late.Load() {
				t.Fatal("nothing written before the Store's last object: the answer was held in memory")
			}
		})
	}
	// One day of the 5,000: 24 events.
	ms := parseMS(t, f.do("alice", "REPORT", coll, calQuery("", rangeFilter("VEVENT", "20240110T000000Z", "20240111T000000Z")), "Depth", "1"))
	if len(ms.Responses) != 24 {
		t.Fatalf("one day: %d events", len(ms.Responses))
	}
}
