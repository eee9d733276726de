package dav

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// vcal wraps components into a VCALENDAR, CRLF line ends.
func vcal(lines ...string) string {
	all := append([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//crmdav//test//EN"}, lines...)
	all = append(all, "END:VCALENDAR", "")
	return strings.Join(all, "\r\n")
}

// comp is one component with a UID and the given lines.
func comp(name, uid string, lines ...string) []string {
	out := []string{"BEGIN:" + name, "UID:" + uid, "DTSTAMP:20240101T000000Z"}
	out = append(out, lines...)
	return append(out, "END:"+name)
}

func event(uid string, lines ...string) string { return vcal(comp("VEVENT", uid, lines...)...) }

func (f *fixture) putCal(path, body string, hdr ...string) answer {
	f.t.Helper()
	return f.do("alice", http.MethodPut, path, body, append([]string{"Content-Type", "text/calendar; charset=utf-8"}, hdr...)...)
}

func (f *fixture) mustPutCal(path, body string) string {
	f.t.Helper()
	a := f.putCal(path, body)
	if a.status != http.StatusCreated && a.status != http.StatusNoContent {
		f.t.Fatalf("PUT %s: %d %s", path, a.status, a.body)
	}
	return a.header.Get("ETag")
}

const calNS = `xmlns:D="DAV:" xmlns:L="urn:ietf:params:xml:ns:caldav"`

func calQuery(props, filter string) string {
	if props == "" {
		props = "<D:getetag/>"
	}
	return `<?xml version="1.0" encoding="utf-8"?><L:calendar-query ` + calNS + `><D:prop>` + props + `</D:prop>` + filter + `</L:calendar-query>`
}

// rangeFilter is a filter on comp with a time-range; "" leaves a bound out.
func rangeFilter(comp, start, end string) string {
	tr := "<L:time-range"
	if start != "" {
		tr += ` start="` + start + `"`
	}
	if end != "" {
		tr += ` end="` + end + `"`
	}
	return `<L:filter><L:comp-filter name="VCALENDAR"><L:comp-filter name="` + comp + `">` + tr + `/></L:comp-filter></L:comp-filter></L:filter>`
}

func calMultiget(props string, hrefs ...string) string {
	b := `<?xml version="1.0" encoding="utf-8"?><L:calendar-multiget ` + calNS + `><D:prop>` + props + `</D:prop>`
	for _, h := range hrefs {
		b += "<D:href>" + h + "</D:href>"
	}
	return b + "</L:calendar-multiget>"
}

// names runs a calendar-query on a collection of alice and returns the
// names of the objects answered.
func (f *fixture) names(coll, body string) []string {
	f.t.Helper()
	ms := parseMS(f.t, f.do("alice", "REPORT", "/dav/alice/"+coll+"/", body, "Depth", "1"))
	var out []string
	for _, r := range ms.Responses {
		out = append(out, strings.TrimPrefix(r.Href, "/dav/alice/"+coll+"/"))
	}
	return out
}

// reasonOnly reports whether the elements after a DAV:error's precondition
// are at most one CR:reason with text (name and text by index).
func reasonOnly[T any](rest []T, at func(int) (xml.Name, string)) bool {
	if len(rest) == 0 {
		return true
	}
	n, text := at(0)
	return len(rest) == 1 && n == condReason && strings.TrimSpace(text) != ""
}

// errorCond returns the local name of the precondition of a DAV:error body.
func errorCond(t *testing.T, a answer) string {
	t.Helper()
	var e struct {
		XMLName xml.Name `xml:"DAV: error"`
		Inner   []struct {
			XMLName xml.Name
			Inner   string `xml:",innerxml"`
		} `xml:",any"`
	}
	if err := xml.Unmarshal([]byte(a.body), &e); err != nil || len(e.Inner) == 0 || !reasonOnly(e.Inner[1:], func(i int) (xml.Name, string) { return e.Inner[1+i].XMLName, e.Inner[1+i].Inner }) {
		t.Fatalf("want a DAV:error with one precondition (and its reason), got %d %q (%v)", a.status, a.body, err)
	}
	return e.Inner[0].XMLName.Local
}

func TestCalDiscovery(t *testing.T) {
	f := newFixture(t, Options{UserAddress: func(u string) string {
		if u == "alice" {
			return "alice@example.com"
		}
		return ""
	}})
	a := f.do("alice", "PROPFIND", "/.well-known/caldav", "", "Depth", "0")
	if a.status != http.StatusTemporaryRedirect || a.header.Get("Location") != "/dav/" {
		t.Fatalf("well-known: %d %q", a.status, a.header.Get("Location"))
	}
	body := `<propfind xmlns="DAV:" xmlns:L="urn:ietf:params:xml:ns:caldav"><prop><current-user-principal/>` +
		`<L:calendar-home-set/><L:calendar-user-address-set/></prop></propfind>`
	ms := parseMS(t, f.do("alice", "PROPFIND", "/dav/principals/alice/", body, "Depth", "0"))
	r := ms.Responses[0]
	if got := hrefIn(t, okProp(t, r, "calendar-home-set")); got != "/dav/alice/" {
		t.Fatalf("calendar-home-set %q", got)
	}
	if got := hrefIn(t, okProp(t, r, "calendar-user-address-set")); got != "mailto:alice@example.com" {
		t.Fatalf("calendar-user-address-set %q", got)
	}
	// Unknown address: the property is absent.
	ms = parseMS(t, f.do("bob", "PROPFIND", "/dav/principals/bob/", body, "Depth", "0"))
	if _, st, _ := ms.Responses[0].prop("calendar-user-address-set"); !strings.Contains(st, " 404 ") {
		t.Fatalf("bob's calendar-user-address-set: %q", st)
	}
	if dav := f.do("alice", http.MethodOptions, "/dav/alice/calendar/", "").header.Get("DAV"); !strings.Contains(dav, "calendar-access") || !strings.Contains(dav, "addressbook") {
		t.Fatalf("OPTIONS DAV %q", dav)
	}

	f.st.colls["alice"][1].Description = "Appointments <from> the CRM"
	props := `<propfind xmlns="DAV:" xmlns:L="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/"><prop>` +
		`<resourcetype/><L:supported-calendar-component-set/><L:supported-calendar-data/><L:calendar-description/>` +
		`<L:max-resource-size/><CS:getctag/><sync-token/><supported-report-set/><current-user-privilege-set/><L:supported-collation-set/></prop></propfind>`
	ms = parseMS(t, f.do("alice", "PROPFIND", "/dav/alice/", props, "Depth", "1"))
	cal, _ := ms.find("/dav/alice/calendar/")
	if rt := okProp(t, cal, "resourcetype"); !strings.Contains(rt, "calendar") || !strings.Contains(rt, "collection") {
		t.Fatalf("resourcetype %q", rt)
	}
	if cs := okProp(t, cal, "supported-calendar-component-set"); strings.Count(cs, "comp ") != 1 || !strings.Contains(cs, `name="VEVENT"`) {
		t.Fatalf("component set %q", cs)
	}
	all, _ := ms.find("/dav/alice/all/")
	if cs := okProp(t, all, "supported-calendar-component-set"); strings.Count(cs, "comp ") != 3 {
		t.Fatalf("component set of all %q", cs)
	}
	if d := okProp(t, cal, "supported-calendar-data"); !strings.Contains(d, `content-type="text/calendar"`) || !strings.Contains(d, `version="2.0"`) {
		t.Fatalf("supported-calendar-data %q", d)
	}
	if d := okText(t, cal, "calendar-description"); d != "Appointments <from> the CRM" {
		t.Fatalf("calendar-description %q", d)
	}
	if okText(t, cal, "max-resource-size") != fmt.Sprint(DefaultMaxBodySize) || okText(t, cal, "getctag") != "1" || okText(t, cal, "sync-token") == "" {
		t.Fatalf("max-resource-size, getctag, sync-token")
	}
	rs := okProp(t, cal, "supported-report-set")
	for _, rep := range []string{"calendar-multiget", "calendar-query", "sync-collection"} {
		if !strings.Contains(rs, rep) {
			t.Fatalf("supported-report-set lacks %s: %q", rep, rs)
		}
	}
	if strings.Contains(rs, "addressbook") {
		t.Fatalf("supported-report-set of a calendar: %q", rs)
	}
	if p := okProp(t, cal, "current-user-privilege-set"); !strings.Contains(p, "write-content") || !strings.Contains(p, "bind") {
		t.Fatalf("privileges %q", p)
	}
	mail, _ := ms.find("/dav/alice/mail/")
	if p := okProp(t, mail, "current-user-privilege-set"); strings.Contains(p, "write") || strings.Contains(p, "bind") ||
		!strings.Contains(p, "<D:read/>") || !strings.Contains(p, "read-current-user-privilege-set") {
		t.Fatalf("read-only privileges %q", p)
	}
	if c := okProp(t, cal, "supported-collation-set"); !strings.Contains(c, "i;ascii-casemap") || !strings.Contains(c, "i;octet") {
		t.Fatalf("collations %q", c)
	}

	// Objects are text/calendar.
	f.mustPutCal("/dav/alice/calendar/a.ics", event("a", "DTSTART:20240110T100000Z"))
	ms = parseMS(t, f.do("alice", "PROPFIND", "/dav/alice/calendar/", `<propfind xmlns="DAV:"><prop><getcontenttype/></prop></propfind>`, "Depth", "1"))
	r, _ = ms.find("/dav/alice/calendar/a.ics")
	if ct := okText(t, r, "getcontenttype"); ct != "text/calendar; charset=utf-8" {
		t.Fatalf("getcontenttype %q", ct)
	}
}

// TestCalPutRefusals: RFC 4791 §5.3.2.1 preconditions; nothing stored.
func TestCalPutRefusals(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPutCal("/dav/alice/calendar/taken.ics", event("taken", "DTSTART:20240110T100000Z"))
	ok := event("x", "DTSTART:20240110T100000Z")
	cases := []struct {
		name, path, body, ctype string
		status                  int
		cond                    string
	}{
		{"not iCalendar", "calendar", "hello", "", 403, "valid-calendar-data"},
		{"no END", "calendar", strings.TrimSuffix(ok, "END:VCALENDAR\r\n"), "", 403, "valid-calendar-data"},
		{"empty", "calendar", "", "", 403, "valid-calendar-data"},
		{"two VCALENDARs", "calendar", ok + ok, "", 403, "valid-calendar-data"},
		{"not UTF-8", "calendar", event("x", "SUMMARY:M\xfcller"), "", 403, "valid-calendar-data"},
		{"bad DTSTART", "calendar", event("x", "DTSTART:2024-01-10"), "", 403, "valid-calendar-data"},
		{"bad RRULE", "calendar", event("x", "DTSTART:20240110T100000Z", "RRULE:FREQ=SOMETIMES"), "", 403, "valid-calendar-data"},
		{"bad DURATION", "calendar", event("x", "DTSTART:20240110T100000Z", "DURATION:1h"), "", 403, "valid-calendar-data"},
		{"no VERSION", "calendar", strings.Replace(ok, "VERSION:2.0\r\n", "", 1), "", 403, "valid-calendar-data"},
		{"VERSION 1.0", "calendar", strings.Replace(ok, "VERSION:2.0", "VERSION:1.0", 1), "", 403, "supported-calendar-data"},
		{"store refuses", "calendar", event("x", "DTSTART:20240110T100000Z", "X-STORE-REFUSES:1"), "", 403, "valid-calendar-data"},
		{"METHOD", "calendar", strings.Replace(ok, "VERSION:2.0", "VERSION:2.0\r\nMETHOD:REQUEST", 1), "", 403, "valid-calendar-object-resource"},
		{"two UIDs", "calendar", vcal(append(comp("VEVENT", "x", "DTSTART:20240110T100000Z"), comp("VEVENT", "y", "DTSTART:20240110T100000Z")...)...), "", 403, "valid-calendar-object-resource"},
		{"two masters", "calendar", vcal(append(comp("VEVENT", "x", "DTSTART:20240110T100000Z"), comp("VEVENT", "x", "DTSTART:20240111T100000Z")...)...), "", 403, "valid-calendar-object-resource"},
		{"two types", "all", vcal(append(comp("VEVENT", "x", "DTSTART:20240110T100000Z"), comp("VTODO", "x")...)...), "", 403, "valid-calendar-object-resource"},
		{"no UID", "calendar", vcal("BEGIN:VEVENT", "DTSTART:20240110T100000Z", "END:VEVENT"), "", 403, "valid-calendar-object-resource"},
		{"no component", "calendar", vcal(), "", 403, "valid-calendar-object-resource"},
		{"VTODO into an events calendar", "calendar", vcal(comp("VTODO", "x")...), "", 403, "supported-calendar-component"},
		{"VEVENT into a task list", "tasks", ok, "", 403, "supported-calendar-component"},
		{"VFREEBUSY", "all", vcal(comp("VFREEBUSY", "x")...), "", 403, "supported-calendar-component"},
		{"wrong Content-Type", "calendar", ok, "text/plain", 403, "supported-calendar-data"},
		{"vCard type", "calendar", ok, "text/vcard", 403, "supported-calendar-data"},
		{"charset", "calendar", ok, "text/calendar; charset=latin1", 403, "supported-calendar-data"},
		{"UID in use", "calendar", event("taken", "DTSTART:20240111T100000Z"), "", 409, "no-uid-conflict"},
		{"read-only", "mail", vcal(comp("VJOURNAL", "x")...), "", 403, "need-privileges"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			puts := f.st.puts
			hdr := []string{}
			if c.ctype != "" {
				hdr = []string{"Content-Type", c.ctype}
			}
			a := f.do("alice", http.MethodPut, "/dav/alice/"+c.path+"/x.ics", c.body, hdr...)
			if a.status != c.status {
				t.Fatalf("status %d, want %d: %s", a.status, c.status, a.body)
			}
			if got := errorCond(t, a); got != c.cond {
				t.Fatalf("condition %s, want %s: %s", got, c.cond, a.body)
			}
			if strings.Contains(a.body, "no-uid-conflict") && (!strings.Contains(a.body, "/dav/alice/calendar/taken.ics") || !strings.Contains(a.body, `<L:no-uid-conflict>`)) {
				t.Fatalf("no-uid-conflict without href or in the wrong namespace: %s", a.body)
			}
			if f.st.puts != puts {
				t.Fatal("something was stored")
			}
		})
	}
	// A VTIMEZONE beside the event, and an override, are fine.
	f.mustPutCal("/dav/alice/calendar/tz.ics", vcal(append(append(berlin(), comp("VEVENT", "tz", "DTSTART;TZID=Europe/Berlin:20240110T100000", "RRULE:FREQ=DAILY")...),
		comp("VEVENT", "tz", "RECURRENCE-ID;TZID=Europe/Berlin:20240111T100000", "DTSTART;TZID=Europe/Berlin:20240111T120000")...)...))
}

// TestReadOnlyCalendar: RFC 3744 §7.1.1 on a read-only collection.
func TestReadOnlyCalendar(t *testing.T) {
	f := newFixture(t, Options{})
	mail := vcal(comp("VJOURNAL", "m1", "DTSTART:20240110T100000Z", "SUMMARY:Offer sent")...)
	f.st.objs["alice"]["mail"]["m1.ics"] = []byte(mail)
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPut, "/dav/alice/mail/m1.ics", mail},
		{http.MethodPut, "/dav/alice/mail/new.ics", mail},
		{http.MethodDelete, "/dav/alice/mail/m1.ics", ""},
		{"PROPPATCH", "/dav/alice/mail/", proppatch(`<D:displayname>Mine</D:displayname>`, "")},
	} {
		a := f.do("alice", c.method, c.path, c.body, "Content-Type", "text/calendar")
		if a.status != http.StatusForbidden || errorCond(t, a) != "need-privileges" || !strings.Contains(a.body, "<D:resource><D:href>") {
			t.Fatalf("%s %s: %d %s", c.method, c.path, a.status, a.body)
		}
	}
	if a := f.do("alice", http.MethodGet, "/dav/alice/mail/m1.ics", ""); a.status != http.StatusOK || a.body != mail {
		t.Fatalf("GET: %d", a.status)
	}
	if f.st.count("alice", "mail") != 1 || f.st.setProps != 0 {
		t.Fatal("read-only collection changed")
	}
	ms := parseMS(t, f.do("alice", "PROPFIND", "/dav/alice/mail/", `<propfind xmlns="DAV:"><prop><current-user-privilege-set/></prop></propfind>`, "Depth", "1"))
	r, _ := ms.find("/dav/alice/mail/m1.ics")
	if p := okProp(t, r, "current-user-privilege-set"); strings.Contains(p, "write") {
		t.Fatalf("object privileges %q", p)
	}
}

func TestCalMultiget(t *testing.T) {
	f := newFixture(t, Options{})
	bodies := map[string]string{
		"a.ics": event("a", "DTSTART:20240110T100000Z", "SUMMARY:A long summary that is folded over more than seventy-five octets of", " text", "X-KEEP:yes"),
		"b.ics": event("b", "DTSTART;VALUE=DATE:20240110"),
	}
	etags := map[string]string{}
	for n, b := range bodies {
		etags[n] = f.mustPutCal("/dav/alice/calendar/"+n, b)
	}
	coll := "/dav/alice/calendar/"
	for _, data := range []string{`<L:calendar-data/>`, `<L:calendar-data content-type="text/calendar" version="2.0"><L:comp name="VCALENDAR"><L:prop name="VERSION"/><L:comp name="VEVENT"><L:prop name="SUMMARY"/></L:comp></L:comp></L:calendar-data>`} {
		ms := parseMS(t, f.do("alice", "REPORT", coll, calMultiget("<D:getetag/>"+data, coll+"a.ics", coll+"missing.ics", coll+"b.ics", "/dav/alice/contacts/x.vcf"), "Depth", "1"))
		if got := ms.hrefs(); len(got) != 4 || got[0] != coll+"a.ics" || got[2] != coll+"b.ics" {
			t.Fatalf("hrefs %v", got)
		}
		for _, i := range []int{0, 2} {
			r := ms.Responses[i]
			n := strings.TrimPrefix(r.Href, coll)
			if okText(t, r, "calendar-data") != bodies[n] || okText(t, r, "getetag") != etags[n] {
				t.Fatalf("%s: calendar-data not as stored", n)
			}
		}
		if !strings.Contains(ms.Responses[1].Status, " 404 ") || !strings.Contains(ms.Responses[3].Status, " 404 ") {
			t.Fatalf("missing: %+v %+v", ms.Responses[1], ms.Responses[3])
		}
	}
	for data, cond := range map[string]string{
		`<L:calendar-data><L:expand start="20240101T000000Z" end="20240201T000000Z"/></L:calendar-data>`:               "not-implemented",
		`<L:calendar-data><L:limit-recurrence-set start="20240101T000000Z" end="20240201T000000Z"/></L:calendar-data>`: "not-implemented",
		`<L:calendar-data content-type="application/calendar+json"/>`:                                                  "supported-calendar-data",
	} {
		for _, body := range []string{calMultiget(data, coll+"a.ics"), calQuery(data, rangeFilter("VEVENT", "20240101T000000Z", ""))} {
			a := f.do("alice", "REPORT", coll, body, "Depth", "1")
			if a.status != http.StatusForbidden || errorCond(t, a) != cond {
				t.Fatalf("%s: %d %s", data, a.status, a.body)
			}
			if cond == "not-implemented" && !strings.Contains(a.body, "not implemented") {
				t.Fatalf("no reason given: %s", a.body)
			}
		}
	}
}

// berlin is a VTIMEZONE of Europe/Berlin under a TZID the system does
// not know, so that its rules are the ones read.
func berlin() []string {
	return []string{"BEGIN:VTIMEZONE", "TZID:Europe/Berlin",
		"BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "DTSTART:19810329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
		"BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "DTSTART:19961027T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
		"END:VTIMEZONE"}
}

func customTZ(lines ...string) string {
	tz := berlin()
	tz[1] = "TZID:/custom/W. Europe Standard Time"
	return vcal(append(tz, lines...)...)
}

// brisbane is a request C:timezone of UTC+10 without daylight saving.
const brisbane = "<L:timezone>BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTIMEZONE\r\nTZID:Australia/Brisbane\r\nBEGIN:STANDARD\r\n" +
	"TZOFFSETFROM:+1000\r\nTZOFFSETTO:+1000\r\nDTSTART:19700101T000000\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n</L:timezone>"

// TestCalQueryTimeRange: RFC 4791 §9.9, one object and one range per case.
func TestCalQueryTimeRange(t *testing.T) {
	weekly := []string{"DTSTART:20240101T100000Z", "DTEND:20240101T110000Z", "RRULE:FREQ=WEEKLY"}
	moved := vcal(append(comp("VEVENT", "m", "DTSTART:20240101T100000Z", "DTEND:20240101T110000Z", "RRULE:FREQ=WEEKLY;COUNT=4"),
		comp("VEVENT", "m", "RECURRENCE-ID:20240108T100000Z", "DTSTART:20240601T100000Z", "DTEND:20240601T110000Z")...)...)
	cases := []struct {
		name, body, comp, start, end string
		want                         bool
		extra                        string // inside the query, after the filter
	}{
		{"event inside", event("e", "DTSTART:20240110T100000Z", "DTEND:20240110T110000Z"), "VEVENT", "20240110T000000Z", "20240111T000000Z", true, ""},
		{"event outside", event("e", "DTSTART:20240110T100000Z", "DTEND:20240110T110000Z"), "VEVENT", "20240111T000000Z", "20240112T000000Z", false, ""},
		{"event ends at range start", event("e", "DTSTART:20240110T100000Z", "DTEND:20240110T110000Z"), "VEVENT", "20240110T110000Z", "20240110T120000Z", false, ""},
		{"event starts at range end", event("e", "DTSTART:20240110T100000Z", "DTEND:20240110T110000Z"), "VEVENT", "20240110T090000Z", "20240110T100000Z", false, ""},
		{"event overlaps range start", event("e", "DTSTART:20240110T100000Z", "DTEND:20240110T110000Z"), "VEVENT", "20240110T105959Z", "20240110T120000Z", true, ""},
		{"DURATION", event("e", "DTSTART:20240110T100000Z", "DURATION:PT2H"), "VEVENT", "20240110T113000Z", "20240110T120000Z", true, ""},
		{"instant at range start", event("e", "DTSTART:20240110T100000Z"), "VEVENT", "20240110T100000Z", "20240110T110000Z", true, ""},
		{"instant at range end", event("e", "DTSTART:20240110T100000Z"), "VEVENT", "20240110T090000Z", "20240110T100000Z", false, ""},
		{"all-day, floating as UTC", event("e", "DTSTART;VALUE=DATE:20240110"), "VEVENT", "20240110T230000Z", "20240111T000000Z", true, ""},
		{"all-day, day before", event("e", "DTSTART;VALUE=DATE:20240110"), "VEVENT", "20240109T000000Z", "20240110T000000Z", false, ""},
		{"all-day, in the request's zone", event("e", "DTSTART;VALUE=DATE:20240110", "DTEND;VALUE=DATE:20240111"), "VEVENT", "20240109T150000Z", "20240109T160000Z", true, brisbane},
		{"all-day, not in UTC", event("e", "DTSTART;VALUE=DATE:20240110", "DTEND;VALUE=DATE:20240111"), "VEVENT", "20240109T150000Z", "20240109T160000Z", false, ""},
		{"floating time in the request's zone", event("e", "DTSTART:20240110T080000", "DTEND:20240110T090000"), "VEVENT", "20240109T220000Z", "20240109T230000Z", true, brisbane},
		{"TZID of the system", event("e", "DTSTART;TZID=Europe/Berlin:20240110T100000", "DTEND;TZID=Europe/Berlin:20240110T110000"), "VEVENT", "20240110T093000Z", "20240110T094500Z", true, ""},
		{"TZID of the system, hour after", event("e", "DTSTART;TZID=Europe/Berlin:20240110T100000", "DTEND;TZID=Europe/Berlin:20240110T110000"), "VEVENT", "20240110T100000Z", "20240110T110000Z", false, ""},
		{"TZID of a VTIMEZONE, summer", customTZ(comp("VEVENT", "e", "DTSTART;TZID=/custom/W. Europe Standard Time:20240710T100000")...), "VEVENT", "20240710T080000Z", "20240710T080001Z", true, ""},
		{"TZID of a VTIMEZONE, winter", customTZ(comp("VEVENT", "e", "DTSTART;TZID=/custom/W. Europe Standard Time:20240110T100000")...), "VEVENT", "20240110T090000Z", "20240110T090001Z", true, ""},
		{"weekly, first instance before the range", event("w", weekly...), "VEVENT", "20240311T000000Z", "20240312T000000Z", true, ""},
		{"weekly, no instance in the range", event("w", weekly...), "VEVENT", "20240312T000000Z", "20240313T000000Z", false, ""},
		{"weekly, EXDATE removes the only instance", event("w", append(weekly, "EXDATE:20240311T100000Z")...), "VEVENT", "20240311T000000Z", "20240312T000000Z", false, ""},
		{"weekly, EXDATE elsewhere", event("w", append(weekly, "EXDATE:20240304T100000Z")...), "VEVENT", "20240311T000000Z", "20240312T000000Z", true, ""},
		{"override moved into the range", moved, "VEVENT", "20240601T000000Z", "20240602T000000Z", true, ""},
		{"override moved out of the range", moved, "VEVENT", "20240108T000000Z", "20240109T000000Z", false, ""},
		{"instance not overridden", moved, "VEVENT", "20240115T000000Z", "20240116T000000Z", true, ""},
		{"COUNT, last instance", moved, "VEVENT", "20240122T000000Z", "20240123T000000Z", true, ""},
		{"COUNT ended", moved, "VEVENT", "20240129T000000Z", "20240130T000000Z", false, ""},
		{"UNTIL, last instance", event("u", "DTSTART:20240101T100000Z", "RRULE:FREQ=WEEKLY;UNTIL=20240115T100000Z"), "VEVENT", "20240115T000000Z", "20240116T000000Z", true, ""},
		{"UNTIL ended", event("u", "DTSTART:20240101T100000Z", "RRULE:FREQ=WEEKLY;UNTIL=20240115T100000Z"), "VEVENT", "20240122T000000Z", "20240123T000000Z", false, ""},
		{"weekly across DST, TZID", event("d", "DTSTART;TZID=Europe/Berlin:20240301T090000", "DTEND;TZID=Europe/Berlin:20240301T100000", "RRULE:FREQ=WEEKLY"), "VEVENT", "20240405T070000Z", "20240405T073000Z", true, ""},
		{"weekly across DST, an hour off", event("d", "DTSTART;TZID=Europe/Berlin:20240301T090000", "DTEND;TZID=Europe/Berlin:20240301T100000", "RRULE:FREQ=WEEKLY"), "VEVENT", "20240405T080000Z", "20240405T083000Z", false, ""},
		{"all-day yearly, floating", event("b", "DTSTART;VALUE=DATE:19800229", "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1"), "VEVENT", "20230228T120000Z", "20230228T130000Z", true, ""},
		{"RDATE", event("r", "DTSTART:20240101T100000Z", "RDATE:20240301T100000Z,20240401T100000Z"), "VEVENT", "20240401T000000Z", "20240402T000000Z", true, ""},
		{"RDATE, between", event("r", "DTSTART:20240101T100000Z", "RDATE:20240301T100000Z"), "VEVENT", "20240201T000000Z", "20240202T000000Z", false, ""},
		{"only start, open-ended rule", event("w", weekly...), "VEVENT", "20300101T000000Z", "", true, ""},
		{"only start, single event before", event("e", "DTSTART:20240110T100000Z"), "VEVENT", "20300101T000000Z", "", false, ""},
		{"only start, ended rule", moved, "VEVENT", "20300101T000000Z", "", false, ""},
		{"only end, event before", event("e", "DTSTART:20240110T100000Z", "DTEND:20240110T110000Z"), "VEVENT", "", "20240110T103000Z", true, ""},
		{"only end, event after", event("e", "DTSTART:20240110T100000Z", "DTEND:20240110T110000Z"), "VEVENT", "", "20240110T100000Z", false, ""},
		{"only end, rule starting after", event("w", weekly...), "VEVENT", "", "20231201T000000Z", false, ""},
		{"event without DTSTART", vcal(comp("VEVENT", "n")...), "VEVENT", "20240101T000000Z", "", false, ""},

		// RFC 4791 §9.9, VTODO.
		{"todo DUE only, before", vcal(comp("VTODO", "t", "DUE:20240110T120000Z")...), "VTODO", "20240110T000000Z", "20240111T000000Z", true, ""},
		{"todo DUE only, range ending at DUE", vcal(comp("VTODO", "t", "DUE:20240110T120000Z")...), "VTODO", "20240110T000000Z", "20240110T120000Z", true, ""},
		{"todo DUE only, range starting at DUE", vcal(comp("VTODO", "t", "DUE:20240110T120000Z")...), "VTODO", "20240110T120000Z", "20240111T000000Z", false, ""},
		{"todo DTSTART+DUE, inside", vcal(comp("VTODO", "t", "DTSTART:20240110T090000Z", "DUE:20240112T090000Z")...), "VTODO", "20240111T000000Z", "20240111T010000Z", true, ""},
		{"todo DTSTART+DUE, after", vcal(comp("VTODO", "t", "DTSTART:20240110T090000Z", "DUE:20240112T090000Z")...), "VTODO", "20240113T000000Z", "20240114T000000Z", false, ""},
		{"todo DTSTART+DUE, before", vcal(comp("VTODO", "t", "DTSTART:20240110T090000Z", "DUE:20240112T090000Z")...), "VTODO", "20240101T000000Z", "20240110T090000Z", false, ""},
		{"todo DTSTART+DURATION", vcal(comp("VTODO", "t", "DTSTART:20240110T090000Z", "DURATION:P2D")...), "VTODO", "20240112T090000Z", "20240113T000000Z", true, ""},
		{"todo DTSTART only", vcal(comp("VTODO", "t", "DTSTART:20240110T090000Z")...), "VTODO", "20240110T090000Z", "20240110T100000Z", true, ""},
		{"todo DTSTART only, before", vcal(comp("VTODO", "t", "DTSTART:20240110T090000Z")...), "VTODO", "20240110T080000Z", "20240110T090000Z", false, ""},
		{"todo COMPLETED only", vcal(comp("VTODO", "t", "COMPLETED:20240110T120000Z")...), "VTODO", "20240110T000000Z", "20240111T000000Z", true, ""},
		{"todo COMPLETED only, outside", vcal(comp("VTODO", "t", "COMPLETED:20240110T120000Z")...), "VTODO", "20240111T000000Z", "20240112T000000Z", false, ""},
		{"todo COMPLETED+CREATED", vcal(comp("VTODO", "t", "CREATED:20240101T000000Z", "COMPLETED:20240110T120000Z")...), "VTODO", "20240105T000000Z", "20240106T000000Z", true, ""},
		{"todo COMPLETED+CREATED, before creation", vcal(comp("VTODO", "t", "CREATED:20240101T000000Z", "COMPLETED:20240110T120000Z")...), "VTODO", "20231201T000000Z", "20231202T000000Z", false, ""},
		{"todo COMPLETED+CREATED, after completion", vcal(comp("VTODO", "t", "CREATED:20240101T000000Z", "COMPLETED:20240110T120000Z")...), "VTODO", "20240111T000000Z", "20240112T000000Z", false, ""},
		{"todo COMPLETED+CREATED, at creation", vcal(comp("VTODO", "t", "CREATED:20240101T000000Z", "COMPLETED:20240110T120000Z")...), "VTODO", "20231231T000000Z", "20240101T000000Z", true, ""},
		{"todo CREATED only", vcal(comp("VTODO", "t", "CREATED:20240101T000000Z")...), "VTODO", "20240105T000000Z", "20240106T000000Z", true, ""},
		{"todo CREATED only, range before", vcal(comp("VTODO", "t", "CREATED:20240101T000000Z")...), "VTODO", "20231201T000000Z", "20231202T000000Z", false, ""},
		{"todo without dates", vcal(comp("VTODO", "t", "SUMMARY:Call back")...), "VTODO", "20240105T000000Z", "20240106T000000Z", true, ""},
		{"todo recurring", vcal(comp("VTODO", "t", "DTSTART:20240101T090000Z", "DUE:20240101T100000Z", "RRULE:FREQ=DAILY;COUNT=30")...), "VTODO", "20240120T093000Z", "20240120T094000Z", true, ""},

		// VJOURNAL.
		{"journal DATE", vcal(comp("VJOURNAL", "j", "DTSTART;VALUE=DATE:20240110")...), "VJOURNAL", "20240110T120000Z", "20240110T130000Z", true, ""},
		{"journal DATE, day after", vcal(comp("VJOURNAL", "j", "DTSTART;VALUE=DATE:20240110")...), "VJOURNAL", "20240111T000000Z", "20240111T130000Z", false, ""},
		{"journal DATE-TIME", vcal(comp("VJOURNAL", "j", "DTSTART:20240110T100000Z")...), "VJOURNAL", "20240110T100000Z", "20240110T100001Z", true, ""},
		{"journal DATE-TIME, after", vcal(comp("VJOURNAL", "j", "DTSTART:20240110T100000Z")...), "VJOURNAL", "20240110T100001Z", "20240110T110000Z", false, ""},
		{"journal without DTSTART", vcal(comp("VJOURNAL", "j")...), "VJOURNAL", "20240110T000000Z", "", false, ""},
		{"journal recurring", vcal(comp("VJOURNAL", "j", "DTSTART;VALUE=DATE:20240101", "RRULE:FREQ=MONTHLY")...), "VJOURNAL", "20240501T120000Z", "20240501T130000Z", true, ""},

		// The comp-filter names the type.
		{"VEVENT filter on a todo", vcal(comp("VTODO", "t")...), "VEVENT", "20240101T000000Z", "", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			f.mustPutCal("/dav/alice/all/x.ics", c.body)
			body := calQuery("<D:getetag/><L:calendar-data/>", rangeFilter(c.comp, c.start, c.end)+c.extra)
			got := f.names("all", body)
			if (len(got) == 1) != c.want || len(got) > 1 {
				t.Fatalf("matched %v, want %v", got, c.want)
			}
			// The store was asked with the range widened by a day.
			q := f.st.queries[len(f.st.queries)-1]
			for i, b := range []string{c.start, c.end} {
				want := time.Time{}
				if b != "" {
					tt, _ := time.Parse("20060102T150405Z", b)
					want = tt.Add(time.Duration(2*i-1) * 24 * time.Hour)
				}
				if !q[i].Equal(want) {
					t.Fatalf("Store.Query bounds %v, range %s..%s", q, c.start, c.end)
				}
			}
		})
	}
}

// TestCalQueryFilters: RFC 4791 §9.7 beyond time ranges.
func TestCalQueryFilters(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPutCal("/dav/alice/all/a.ics", event("a", "DTSTART:20240110T100000Z", `SUMMARY:Quarterly review\, Contoso`, "LOCATION:Room 1",
		"ATTENDEE;PARTSTAT=ACCEPTED;CN=Bob:mailto:bob@example.com", "BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT15M", "END:VALARM"))
	f.mustPutCal("/dav/alice/all/b.ics", event("b", "DTSTART:20240111T100000Z", "SUMMARY:Lunch", "ATTENDEE;PARTSTAT=DECLINED:mailto:ann@example.com"))
	f.mustPutCal("/dav/alice/all/c.ics", vcal(comp("VTODO", "c", "SUMMARY:Call Contoso back", "STATUS:COMPLETED", "COMPLETED:20240112T100000Z")...))
	f.mustPutCal("/dav/alice/all/d.ics", vcal(comp("VJOURNAL", "d", "DTSTART;VALUE=DATE:20240110", "SUMMARY:Notes")...))
	in := func(comp, inner string) string {
		return `<L:filter><L:comp-filter name="VCALENDAR"><L:comp-filter name="` + comp + `">` + inner + `</L:comp-filter></L:comp-filter></L:filter>`
	}
	cases := []struct {
		name, filter string
		want         []string
	}{
		{"every object", `<L:filter><L:comp-filter name="VCALENDAR"/></L:filter>`, []string{"a.ics", "b.ics", "c.ics", "d.ics"}},
		{"no filter", ``, []string{"a.ics", "b.ics", "c.ics", "d.ics"}},
		{"events", in("VEVENT", ""), []string{"a.ics", "b.ics"}},
		{"todos", in("VTODO", ""), []string{"c.ics"}},
		{"text-match SUMMARY, ascii-casemap", in("VEVENT", `<L:prop-filter name="SUMMARY"><L:text-match>REVIEW, contoso</L:text-match></L:prop-filter>`), []string{"a.ics"}},
		{"text-match, i;octet", in("VEVENT", `<L:prop-filter name="SUMMARY"><L:text-match collation="i;octet">review</L:text-match></L:prop-filter>`), []string{"a.ics"}},
		{"text-match, i;octet, case", in("VEVENT", `<L:prop-filter name="SUMMARY"><L:text-match collation="i;octet">REVIEW</L:text-match></L:prop-filter>`), nil},
		{"text-match, negated", in("VEVENT", `<L:prop-filter name="SUMMARY"><L:text-match negate-condition="yes">review</L:text-match></L:prop-filter>`), []string{"b.ics"}},
		{"text-match in todos", in("VTODO", `<L:prop-filter name="SUMMARY"><L:text-match>contoso</L:text-match></L:prop-filter>`), []string{"c.ics"}},
		{"is-not-defined", in("VEVENT", `<L:prop-filter name="LOCATION"><L:is-not-defined/></L:prop-filter>`), []string{"b.ics"}},
		{"defined", in("VEVENT", `<L:prop-filter name="LOCATION"/>`), []string{"a.ics"}},
		{"param-filter", in("VEVENT", `<L:prop-filter name="ATTENDEE"><L:param-filter name="PARTSTAT"><L:text-match>accepted</L:text-match></L:param-filter></L:prop-filter>`), []string{"a.ics"}},
		{"param-filter is-not-defined", in("VEVENT", `<L:prop-filter name="ATTENDEE"><L:param-filter name="CN"><L:is-not-defined/></L:param-filter></L:prop-filter>`), []string{"b.ics"}},
		{"VALARM defined", in("VEVENT", `<L:comp-filter name="VALARM"/>`), []string{"a.ics"}},
		{"VALARM not defined", in("VEVENT", `<L:comp-filter name="VALARM"><L:is-not-defined/></L:comp-filter>`), []string{"b.ics"}},
		{"no VTODO", `<L:filter><L:comp-filter name="VCALENDAR"><L:comp-filter name="VTODO"><L:is-not-defined/></L:comp-filter></L:comp-filter></L:filter>`, []string{"a.ics", "b.ics", "d.ics"}},
		{"time-range and text", in("VEVENT", `<L:time-range start="20240111T000000Z"/><L:prop-filter name="SUMMARY"><L:text-match>lunch</L:text-match></L:prop-filter>`), []string{"b.ics"}},
		{"prop time-range", in("VTODO", `<L:prop-filter name="COMPLETED"><L:time-range start="20240112T000000Z" end="20240113T000000Z"/></L:prop-filter>`), []string{"c.ics"}},
		{"prop time-range, outside", in("VTODO", `<L:prop-filter name="COMPLETED"><L:time-range start="20240113T000000Z"/></L:prop-filter>`), nil},
		{"anyof", in("VEVENT", `<L:prop-filter name="SUMMARY" test="anyof"><L:text-match>lunch</L:text-match><L:param-filter name="X"/></L:prop-filter>`), []string{"b.ics"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := f.names("all", calQuery("", c.filter))
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}

	for _, c := range []struct {
		name, filter string
		status       int
		cond         string
	}{
		{"VALARM time-range", in("VEVENT", `<L:comp-filter name="VALARM"><L:time-range start="20240101T000000Z"/></L:comp-filter>`), 403, "supported-filter"},
		{"not VCALENDAR", `<L:filter><L:comp-filter name="VEVENT"/></L:filter>`, 403, "valid-filter"},
		{"empty filter element", `<L:filter/>`, 403, "valid-filter"},
		{"local time", in("VEVENT", `<L:time-range start="20240101T000000"/>`), 403, "valid-filter"},
		{"no bounds", in("VEVENT", `<L:time-range/>`), 403, "valid-filter"},
		{"end before start", in("VEVENT", `<L:time-range start="20240102T000000Z" end="20240101T000000Z"/>`), 403, "valid-filter"},
		{"collation", in("VEVENT", `<L:prop-filter name="SUMMARY"><L:text-match collation="i;klingon">x</L:text-match></L:prop-filter>`), 403, "supported-collation"},
		{"bad timezone", in("VEVENT", "") + "<L:timezone>nonsense</L:timezone>", 403, "valid-calendar-data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := f.do("alice", "REPORT", "/dav/alice/all/", calQuery("", c.filter), "Depth", "1")
			if a.status != c.status || errorCond(t, a) != c.cond {
				t.Fatalf("%d %s", a.status, a.body)
			}
			if c.cond == "supported-collation" && !strings.Contains(a.body, "<L:supported-collation") {
				t.Fatalf("collation refused in the CardDAV namespace: %s", a.body)
			}
		})
	}
	// calendar-query is a calendar report only.
	if a := f.do("alice", "REPORT", "/dav/alice/contacts/", calQuery("", ""), "Depth", "1"); a.status != http.StatusForbidden {
		t.Fatalf("calendar-query on an address book: %d", a.status)
	}
	if a := f.do("alice", "REPORT", "/dav/alice/all/", query(`<C:filter/>`), "Depth", "1"); a.status != http.StatusForbidden {
		t.Fatalf("addressbook-query on a calendar: %d", a.status)
	}
}

// TestCalSyncProppatch: sync-collection, PROPPATCH, DELETE and
// MKCALENDAR on a calendar, as on an address book.
func TestCalSyncProppatch(t *testing.T) {
	f := newFixture(t, Options{})
	coll := "/dav/alice/calendar/"
	f.mustPutCal(coll+"a.ics", event("a", "DTSTART:20240110T100000Z"))
	initial := `<D:sync-collection ` + calNS + `><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/><L:calendar-data/></D:prop></D:sync-collection>`
	ms := parseMS(t, f.do("alice", "REPORT", coll, initial, "Depth", "0"))
	if len(ms.Responses) != 1 || okText(t, ms.Responses[0], "calendar-data") != event("a", "DTSTART:20240110T100000Z") {
		t.Fatalf("initial sync %+v", ms.Responses)
	}
	tok := ms.SyncToken
	etagB := f.mustPutCal(coll+"b.ics", event("b", "DTSTART:20240111T100000Z"))
	if a := f.do("alice", http.MethodDelete, coll+"a.ics", ""); a.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d", a.status)
	}
	ms = parseMS(t, f.do("alice", "REPORT", coll, syncBody(tok, 0, ""), "Depth", "0"))
	if len(ms.Responses) != 2 || okText(t, ms.Responses[0], "getetag") != etagB || !strings.Contains(ms.Responses[1].Status, " 404 ") {
		t.Fatalf("incremental sync %+v", ms.Responses)
	}
	rev := f.st.revision("alice", "calendar")
	ms = parseMS(t, f.do("alice", "PROPPATCH", coll, proppatch(`<D:displayname>Appointments</D:displayname><A:calendar-color>#112233</A:calendar-color>`, "")))
	if _, st, _ := ms.Responses[0].prop("calendar-color"); !strings.Contains(st, " 200 ") || f.st.revision("alice", "calendar") != rev+1 {
		t.Fatalf("PROPPATCH %+v", ms.Responses)
	}
	ms = parseMS(t, f.do("alice", "PROPPATCH", coll, `<D:propertyupdate `+calNS+`><D:set><D:prop><L:calendar-timezone>x</L:calendar-timezone></D:prop></D:set></D:propertyupdate>`))
	if _, st, _ := ms.Responses[0].prop("calendar-timezone"); !strings.Contains(st, " 403 ") {
		t.Fatalf("PROPPATCH calendar-timezone: %q", st)
	}
	if a := f.do("alice", "MKCALENDAR", coll, ""); a.status != http.StatusForbidden || errorCond(t, a) != "collections-defined-by-crm" {
		t.Fatalf("MKCALENDAR: %d %s", a.status, a.body)
	}
	// If-Match on a calendar object.
	if a := f.putCal(coll+"b.ics", event("b", "DTSTART:20240112T100000Z"), "If-Match", `"stale"`); a.status != http.StatusPreconditionFailed {
		t.Fatalf("stale If-Match: %d", a.status)
	}
}

// TestCalQueryVTIMEZONEs: zones read from VTIMEZONEs are kept by their
// rules, not by TZID: two objects naming the same TZID with different
// rules are each read in their own; a kept zone is the one newVTZ reads.
func TestCalQueryVTIMEZONEs(t *testing.T) {
	fixed := func(uid, off string) string {
		return vcal("BEGIN:VTIMEZONE", "TZID:Office", "BEGIN:STANDARD", "TZOFFSETFROM:"+off, "TZOFFSETTO:"+off, "DTSTART:19700101T000000", "END:STANDARD", "END:VTIMEZONE",
			"BEGIN:VEVENT", "UID:"+uid, "DTSTAMP:20240101T000000Z", "DTSTART;TZID=Office:20240110T100000", "END:VEVENT")
	}
	f := newFixture(t, Options{})
	f.mustPutCal("/dav/alice/all/one.ics", fixed("one", "+0100"))
	f.mustPutCal("/dav/alice/all/five.ics", fixed("five", "+0500"))
	for _, c := range []struct{ start, end, want string }{
		{"20240110T090000Z", "20240110T090001Z", "one.ics"},
		{"20240110T050000Z", "20240110T050001Z", "five.ics"},
		{"20240110T090000Z", "20240110T090001Z", "one.ics"},
	} {
		got := f.names("all", calQuery("", rangeFilter("VEVENT", c.start, c.end)))
		if strings.Join(got, ",") != c.want {
			t.Fatalf("%s..%s: %v, want %s", c.start, c.end, got, c.want)
		}
	}

	for _, file := range corpusFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		cal, err := decodeCalendar(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cal.Children {
			if c.Name != "VTIMEZONE" {
				continue
			}
			for range 2 {
				if got, want := cachedVTZ(c), newVTZ(c); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: kept zone differs from the VTIMEZONE's", file)
				}
			}
		}
	}
}

// TestCalQueryWritesAsResponse: the members of a calendar-query, written
// with an objectWriter, say what objectProps and msWriter.response write
// (the same properties, statuses and text), for every kind of property
// request.
func TestCalQueryWritesAsResponse(t *testing.T) {
	f := newFixture(t, Options{})
	f.mustPutCal("/dav/alice/all/a.ics", event("a", "DTSTART:20240110T100000Z", "DTEND:20240110T110000Z", "SUMMARY:A & B <c> \"q\""))
	f.mustPutCal("/dav/alice/all/b%20c.ics", event("b", "DTSTART:20240110T120000Z", "SUMMARY:é\r\n"))
	f.mustPutCal("/dav/alice/all/z.ics", event("z", "DTSTART:20250110T120000Z"))
	filter := rangeFilter("VEVENT", "20240110T000000Z", "20240111T000000Z")
	coll, err := f.st.Collection(context.Background(), "alice", "all")
	if err != nil {
		t.Fatal(err)
	}
	for _, props := range []string{
		"<D:getetag/><L:calendar-data/>",
		"<D:getetag/>",
		"<D:getcontentlength/><D:getcontenttype/><D:resourcetype/><X:unknown xmlns:X=\"urn:x\"/><L:calendar-data/>",
	} {
		for _, req := range []string{
			calQuery(props, filter),
			`<?xml version="1.0" encoding="utf-8"?><L:calendar-query ` + calNS + `><D:allprop/>` + filter + `</L:calendar-query>`,
			`<?xml version="1.0" encoding="utf-8"?><L:calendar-query ` + calNS + `><D:propname/>` + filter + `</L:calendar-query>`,
		} {
			a := f.do("alice", "REPORT", "/dav/alice/all/", req, "Depth", "1")
			root, err := parseTree([]byte(req))
			if err != nil {
				t.Fatal(err)
			}
			pr, err := parsePropReq(root)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			m := startMultistatus(rec)
			for _, name := range []string{"a.ics", "b c.ics"} {
				o, err := f.st.Get(context.Background(), "alice", "all", name)
				if err != nil {
					t.Fatal(err)
				}
				m.response(objectPath("alice", "all", name), &pr.propfindReq, objectProps("alice", coll, o, true, &pr))
			}
			if err := m.finish(); err != nil {
				t.Fatal(err)
			}
			got, want := parseMS(t, a), parseMS(t, answer{status: rec.Code, body: rec.Body.String()})
			// The same text, escaped as the writer chooses.
			for _, ms := range []*multistatus{&got, &want} {
				for i := range ms.Responses {
					for j := range ms.Responses[i].PropStats {
						props := ms.Responses[i].PropStats[j].Prop.Props
						for k := range props {
							if props[k].Text != "" {
								props[k].Inner = ""
							}
						}
					}
				}
			}
			if len(got.Responses) != 2 || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s:\n%s\nwant\n%s", req, a.body, rec.Body.String())
			}
		}
	}
}
