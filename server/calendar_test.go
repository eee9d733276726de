package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/crmdav/crmdav/server"
	"github.com/crmdav/crmdav/syncstate"
)

func cal(lines ...string) string {
	all := append([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"}, lines...)
	return strings.Join(append(all, "END:VCALENDAR"), "\r\n") + "\r\n"
}

func calQuery(comp, start, end string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
 <D:prop><D:getetag/></D:prop>
 <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="` + comp + `">
   <C:time-range start="` + start + `" end="` + end + `"/>
 </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>`
}

// R5: the span index misses instances dav's exact rules match.
func TestRegressionQueryFindsRecurrenceInstances(t *testing.T) {
	f := setUp(t, server.Config{}, syncstate.SyncOptions{})
	objs := []struct{ slug, name, body, comp, start, end string }{
		// an event with extra instances by RDATE only (no RRULE)
		{"appointments", "rdate.ics", cal("BEGIN:VEVENT", "UID:rdate", "DTSTAMP:20261125T100000Z", "SUMMARY:Two dates",
			"DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "RDATE:20270301T090000Z", "END:VEVENT"), "VEVENT", "20270301T000000Z", "20270302T000000Z"},
		// an RDATE given as a PERIOD beside a short series
		{"appointments", "period.ics", cal("BEGIN:VEVENT", "UID:period", "DTSTAMP:20261125T100000Z", "SUMMARY:Period",
			"DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "RRULE:FREQ=DAILY;COUNT=2", "RDATE;VALUE=PERIOD:20270401T090000Z/PT1H", "END:VEVENT"), "VEVENT", "20270401T000000Z", "20270402T000000Z"},
		// a to-do due before it starts (as a CRM task with scheduledstart after scheduledend renders)
		{"tasks", "due-before-start.ics", cal("BEGIN:VTODO", "UID:dbs", "DTSTAMP:20261125T100000Z", "SUMMARY:Odd",
			"DTSTART:20261210T090000Z", "DUE:20261201T003000Z", "END:VTODO"), "VTODO", "20261201T000000Z", "20261201T010000Z"},
		// an event whose DTEND is before DTSTART (what the per-column merge of R7 makes)
		{"appointments", "end-before-start.ics", cal("BEGIN:VEVENT", "UID:ebs", "DTSTAMP:20261125T100000Z", "SUMMARY:Odd",
			"DTSTART:20261210T090000Z", "DTEND:20261201T100000Z", "END:VEVENT"), "VEVENT", "20261210T083000Z", "20261210T093000Z"},
		// a to-do that recurs by RDATE
		{"tasks", "todo-rdate.ics", cal("BEGIN:VTODO", "UID:todo-rdate", "DTSTAMP:20261125T100000Z", "SUMMARY:Twice",
			"DTSTART:20261201T090000Z", "RDATE:20270501T090000Z", "END:VTODO"), "VTODO", "20270501T000000Z", "20270502T000000Z"},
	}
	for _, o := range objs {
		resp, b := f.do(t, "PUT", "/dav/alice/"+o.slug+"/"+o.name, "alice", password, o.body, "Content-Type", "text/calendar")
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %s %s", o.name, resp.Status, b)
		}
	}
	for _, o := range objs {
		resp, b := f.do(t, "REPORT", "/dav/alice/"+o.slug+"/", "alice", password, calQuery(o.comp, o.start, o.end), "Depth", "1", "Content-Type", "application/xml")
		if resp.StatusCode != http.StatusMultiStatus || !strings.Contains(b, o.name) {
			t.Errorf("calendar-query %s..%s does not find %s (an instance is in the range): %s", o.start, o.end, o.name, b)
		}
	}
}

// R3 over HTTP: PUT accepts an event without DTSTAMP; the sync round then fails.
func TestRegressionHTTPNoDTSTAMP(t *testing.T) {
	f := setUp(t, server.Config{}, syncstate.SyncOptions{})
	body := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:nostamp\r\nSUMMARY:No stamp\r\nDTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	resp, b := f.do(t, "PUT", "/dav/alice/appointments/nostamp.ics", "alice", password, body, "Content-Type", "text/calendar")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %s", resp.Status, b)
	}
	resp, b = f.do(t, "POST", "/sync", "alice", password, "")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST /sync after an accepted PUT: %s %s", resp.Status, b)
	}
}

// R4 over HTTP: iOS's structured location.
func TestRegressionHTTPAppleQuote(t *testing.T) {
	f := setUp(t, server.Config{}, syncstate.SyncOptions{})
	body := cal("BEGIN:VEVENT", "UID:ios-1", "DTSTAMP:20261125T100000Z", "SUMMARY:Lunch", "DTSTART:20261201T120000Z", "DTEND:20261201T130000Z",
		`X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS=Main St 1;X-APPLE-RADIUS=70;X-TITLE=Café \"A\":geo:52.5,13.4`, "END:VEVENT")
	resp, b := f.do(t, "PUT", "/dav/alice/appointments/ios-1.ics", "alice", password, body, "Content-Type", "text/calendar")
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("iOS event PUT: %s %s", resp.Status, b)
	}
}

// R6: a client makes a single appointment repeat (or stops a series).
func TestRegressionHTTPAddRRULE(t *testing.T) {
	f := setUp(t, server.Config{}, syncstate.SyncOptions{})
	one := cal("BEGIN:VEVENT", "UID:single", "DTSTAMP:20261125T100000Z", "SUMMARY:Standup", "DTSTART:20261201T090000Z", "DTEND:20261201T091500Z", "END:VEVENT")
	resp, b := f.do(t, "PUT", "/dav/alice/appointments/single.ics", "alice", password, one, "Content-Type", "text/calendar")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s %s", resp.Status, b)
	}
	etag := resp.Header.Get("ETag")
	weekly := strings.Replace(one, "DTEND:20261201T091500Z", "DTEND:20261201T091500Z\r\nRRULE:FREQ=WEEKLY", 1)
	resp, b = f.do(t, "PUT", "/dav/alice/appointments/single.ics", "alice", password, weekly, "Content-Type", "text/calendar", "If-Match", etag)
	t.Logf("adding RRULE: %s %s", resp.Status, b)
	if resp.StatusCode >= 300 {
		t.Errorf("a client making an appointment repeat is refused: %s", resp.Status)
	}
}

// A malformed X-CRMDAV-REGARDING (issue 6: the activity's regarding) is
// refused over HTTP with 403 CALDAV:valid-calendar-data and a reason naming
// the property; nothing is stored. A well-formed one is
// accepted and served back as sent.
func TestHTTPRegardingRefused(t *testing.T) {
	f := setUp(t, server.Config{}, syncstate.SyncOptions{})
	for _, bad := range []string{
		"X-CRMDAV-REGARDING:0b8c2f1e-1111-2222-3333-444455556666",
		"X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact:Ann Smith",
	} {
		body := cal("BEGIN:VEVENT", "UID:reg-bad", "DTSTAMP:20261125T100000Z", "SUMMARY:About Ann", "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", bad, "END:VEVENT")
		resp, b := f.do(t, "PUT", "/dav/alice/appointments/reg-bad.ics", "alice", password, body, "Content-Type", "text/calendar")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(b, "<L:valid-calendar-data/>") || !strings.Contains(b, "<CR:reason>") || !strings.Contains(b, "X-CRMDAV-REGARDING") {
			t.Errorf("%s: %s %s", bad, resp.Status, b)
		}
		if resp, _ := f.do(t, "GET", "/dav/alice/appointments/reg-bad.ics", "alice", password, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: the refused object was stored: %s", bad, resp.Status)
		}
	}
	good := "X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact:0b8c2f1e-1111-2222-3333-444455556666"
	body := cal("BEGIN:VEVENT", "UID:reg-ok", "DTSTAMP:20261125T100000Z", "SUMMARY:About Ann", "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", good, "END:VEVENT")
	if resp, b := f.do(t, "PUT", "/dav/alice/appointments/reg-ok.ics", "alice", password, body, "Content-Type", "text/calendar"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("well-formed regarding: %s %s", resp.Status, b)
	}
	if resp, b := f.do(t, "GET", "/dav/alice/appointments/reg-ok.ics", "alice", password, ""); resp.StatusCode != http.StatusOK || !strings.Contains(b, good) {
		t.Errorf("GET: %s %s", resp.Status, b)
	}
}
