package mapping

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-ical"
)

// Every real-world object comes back property by property when its columns
// did not change (design invariant 4); a second pass changes nothing; a
// changed column reads back and changes only the properties it maps to.
func TestICalCorpusRoundTrip(t *testing.T) {
	cals := icalCorpus(t)
	names := make([]string, 0, len(cals))
	for n := range cals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		cal := cals[name]
		t.Run(name, func(t *testing.T) {
			if cal == nil {
				t.Skip("go-ical cannot decode this object")
			}
			kinds := []crmclient.Kind{kindOf(cal)}
			if kinds[0] == crmclient.Task {
				kinds = append(kinds, crmclient.PhoneCall, crmclient.Letter, crmclient.Fax)
			}
			for _, kind := range kinds {
				a := mustActivity(t, cal, kind)
				out := mustCalendar(t, a, cal, "crm-id")
				sameCal(t, cal, out)
				sameActivity(t, string(kind)+" round trip", mustActivity(t, out, kind), a)
				sameCal(t, out, mustCalendar(t, mustActivity(t, out, kind), out, "crm-id"))

				// go-ical's encoder refuses what it finds invalid (no DTSTAMP,
				// no PRODID); the gateway stores the client's bytes then.
				if err := ical.NewEncoder(&bytes.Buffer{}).Encode(cal); err == nil {
					wire := decodeCal(t, encodeCal(t, out))
					sameActivity(t, string(kind)+" through the wire", mustActivity(t, wire, kind), a)
				}

				for _, k := range ActivityColumns(a.Kind) {
					for _, v := range []string{changedColumn(k, a.Columns[k]), ""} {
						if v == a.Columns[k] {
							continue
						}
						changed := a
						changed.Columns = a.Columns.Clone()
						changed.Columns[k] = v
						got := mustActivity(t, mustCalendar(t, changed, cal, "crm-id"), kind)
						checkColumn(t, k, v, a, changed, got)
						checkOnlyProps(t, k, cal, mustCalendar(t, changed, cal, "crm-id"))
					}
				}
			}
		})
	}
}

// checkColumn fails unless got reads as changed; columns derived from one
// another (a master's times, the pattern's irrelevant parts) may follow.
func checkColumn(t *testing.T, k, v string, before, changed, got Activity) {
	t.Helper()
	derived := map[string][]string{
		"starttime": {"endtime", "patternstartdate", "patternenddate"}, "endtime": {"duration"},
		"duration": {"endtime"}, "patternstartdate": {"starttime", "endtime"},
		"isalldayevent":  {"scheduledstart", "scheduledend", "starttime", "endtime", "duration", "patternstartdate", "patternenddate"},
		"scheduledstart": {"scheduledend"}, "scheduledend": {"scheduledend"},
		"percentcomplete": {"statuscode"},
	}
	if got.Columns[k] != v && !loose(k, before, changed) {
		t.Errorf("%s=%q reads back as %q", k, v, got.Columns[k])
	}
	for _, n := range ActivityColumns(before.Kind) {
		if n == k || contains(derived[k], n) || contains(patternCols, k) && contains(patternCols, n) || loose(k, before, changed) {
			continue
		}
		if got.Columns[n] != before.Columns[n] {
			t.Errorf("%s=%q changed %s from %q to %q", k, v, n, before.Columns[n], got.Columns[n])
		}
	}
}

// loose: changes a body cannot hold exactly (documented in doc.go).
func loose(k string, before, changed Activity) bool {
	v := changed.Columns[k]
	switch {
	case contains(patternCols, k):
		return true // a pattern is written as a whole rule
	case k == "isalldayevent", k == "starttime", k == "patternstartdate", k == "duration", k == "endtime":
		return true
	case (k == "scheduledstart" || k == "scheduledend" || k == "senton") && (v == "" || before.Columns["isalldayevent"] == "true"):
		return true
	case k == "statuscode" || k == "statecode":
		return true // checked in TestStates
	}
	return false
}

// checkOnlyProps fails unless out differs from cal only in properties that
// column k maps to.
func checkOnlyProps(t *testing.T, k string, cal, out *ical.Calendar) {
	t.Helper()
	allowed := map[string][]string{
		"subject": {"SUMMARY"}, "description": {"DESCRIPTION", "X-ALT-DESC"}, "location": {"LOCATION"},
		"scheduledstart": {"DTSTART", "DTEND", "DURATION", "DUE"}, "scheduledend": {"DTEND", "DURATION", "DUE"},
		"isalldayevent": {"DTSTART", "DTEND", "DURATION"}, "actualend": {"COMPLETED"},
		"prioritycode": {"PRIORITY"}, "percentcomplete": {"PERCENT-COMPLETE", "STATUS", "X-CRMDAV-STATE"},
		"statecode": {"STATUS", "X-CRMDAV-STATE"}, "statuscode": {"STATUS", "X-CRMDAV-STATE"},
		"phonenumber": {propPhone}, "directioncode": {propDirection}, "address": {propAddress},
		"faxnumber": {propFax}, "numberofpages": {propPages}, "senton": {"DTSTART"},
		"starttime": {"DTSTART", "DTEND", "DURATION", "RRULE"}, "endtime": {"DTEND", "DURATION"},
		"duration": {"DTEND", "DURATION"}, "patternstartdate": {"DTSTART", "DTEND", "DURATION", "RRULE"},
		Regarding: {propRegarding},
	}
	props := allowed[k]
	if contains(patternCols, k) {
		props = []string{"RRULE"}
	}
	a, b := diffCal(cal, out)
	for _, l := range append(a, b...) {
		ok := false
		for _, p := range props {
			ok = ok || strings.Contains(l, " "+p+";")
		}
		if !ok {
			t.Errorf("%s changed %s", k, l)
		}
	}
}

func FuzzCalendarActivity(f *testing.F) {
	for _, in := range calInputs {
		f.Add([]byte(strings.ReplaceAll(in.text, "\n", "\r\n")))
	}
	// Found by fuzzing: overrides of a master without RRULE.
	f.Add([]byte("BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VEVENT\nBEGIN:VEVENT\nRECURRENCE-ID:\nEND:VEVENT\nEND:VCALENDAR"))
	// Regarding: well formed, inherited by an override, emptied in one, malformed.
	f.Add([]byte("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:r\nDTSTART:20260105T090000Z\nRRULE:FREQ=DAILY\nX-CRMDAV-REGARDING;X-CRMDAV-KIND=account:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a\nEND:VEVENT\n" +
		"BEGIN:VEVENT\nUID:r\nRECURRENCE-ID:20260106T090000Z\nDTSTART:20260106T100000Z\nX-CRMDAV-REGARDING:\nEND:VEVENT\nEND:VCALENDAR"))
	f.Add([]byte("BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:r\nX-CRMDAV-REGARDING;X-CRMDAV-KIND=Contact;X-CRMDAV-KIND=x:{0B8C2F1E}\nX-CRMDAV-REGARDING:\nEND:VTODO\nEND:VCALENDAR"))
	files, _ := filepath.Glob(filepath.Join(icalCorpusDir, "*.ics"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cal, ok := decodeSafe(data)
		if !ok {
			return
		}
		for _, kind := range []crmclient.Kind{crmclient.Appointment, crmclient.Task, crmclient.PhoneCall, crmclient.Email} {
			a, err := CalendarActivity(cal, kind)
			if err != nil {
				continue
			}
			out, err := ActivityCalendar(a, cal, "uid")
			if err != nil {
				t.Fatalf("%s: ActivityCalendar of what CalendarActivity read: %v", kind, err)
			}
			if x, y := diffCal(cal, out); len(x)+len(y) > 0 {
				t.Fatalf("%s: unchanged columns changed the body:\n removed %q\n added %q", kind, x, y)
			}
			again, err := CalendarActivity(out, kind)
			if err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
			for _, k := range ActivityColumns(a.Kind) {
				if again.Columns[k] != a.Columns[k] {
					t.Fatalf("%s: %s = %q, want %q", kind, k, again.Columns[k], a.Columns[k])
				}
			}
			if _, err := ActivityCalendar(a, nil, "uid"); err != nil {
				t.Fatalf("%s: CRM-born: %v", kind, err)
			}
		}
	})
}

// decodeSafe decodes with go-ical, whose decoder panics on some malformed
// parameter lists; such input is no calendar.
func decodeSafe(data []byte) (cal *ical.Calendar, ok bool) {
	defer func() {
		if recover() != nil {
			cal, ok = nil, false
		}
	}()
	cal, err := ical.NewDecoder(bytes.NewReader(data)).Decode()
	return cal, err == nil && cal != nil
}
