package dav

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// corpusFiles returns the real-world iCalendar objects of
// /work/shared/corpus/ical; a missing corpus fails under CI=true.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("/work/shared/corpus/ical/*.ics")
	if len(files) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("no iCalendar corpus in /work/shared/corpus/ical")
		}
		t.Skip("no iCalendar corpus in /work/shared/corpus/ical")
	}
	return files
}

// TestCorpusPut: every object of the corpus (one UID per file) is
// accepted by PUT into a calendar of every component, and GET returns
// the bytes sent; the same into a calendar of another component is 403
// supported-calendar-component.
func TestCorpusPut(t *testing.T) {
	f := newFixture(t, Options{})
	for _, file := range corpusFiles(t) {
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			p := "/dav/alice/all/" + name
			if m := methodLine.Find(body); m != nil {
				// RFC 4791 §4.1: no METHOD in a calendar object resource
				// (SOURCES.md says it was removed from these; it was not).
				a := f.do("alice", http.MethodPut, p, string(body), "Content-Type", "text/calendar")
				if a.status != http.StatusForbidden || !strings.Contains(a.body, "valid-calendar-object-resource") {
					t.Fatalf("PUT with METHOD: %d %s", a.status, a.body)
				}
				body = bytes.Replace(body, m, nil, 1)
			}
			a := f.do("alice", http.MethodPut, p, string(body), "Content-Type", "text/calendar; charset=utf-8")
			if a.status != http.StatusCreated {
				t.Fatalf("PUT: %d %s", a.status, a.body)
			}
			g := f.do("alice", http.MethodGet, p, "")
			if g.status != http.StatusOK || g.body != string(body) || g.header.Get("ETag") != a.header.Get("ETag") ||
				g.header.Get("Content-Type") != "text/calendar; charset=utf-8" {
				t.Fatalf("GET: %d %q, ETag %q/%q", g.status, g.header.Get("Content-Type"), g.header.Get("ETag"), a.header.Get("ETag"))
			}
			other := "tasks"
			if strings.Contains(string(body), "BEGIN:VTODO") {
				other = "calendar"
			}
			a = f.do("alice", http.MethodPut, "/dav/alice/"+other+"/"+name, string(body), "Content-Type", "text/calendar")
			if a.status != http.StatusForbidden || !strings.Contains(a.body, "supported-calendar-component") {
				t.Fatalf("PUT into %s: %d %s", other, a.status, a.body)
			}
		})
	}
}

var methodLine = regexp.MustCompile(`(?m)^METHOD:[^\r\n]*\r?\n`)
