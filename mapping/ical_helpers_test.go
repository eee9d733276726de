package mapping

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-ical"
)

// icalCorpusDir holds real-world calendar objects shared by the team; the
// tests read them there and never copy them into the repository.
const icalCorpusDir = "../../shared/corpus/ical"

func decodeCal(tb testing.TB, s string) *ical.Calendar {
	tb.Helper()
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	cal, err := ical.NewDecoder(strings.NewReader(s)).Decode()
	if err != nil {
		tb.Fatalf("decode: %v\n%s", err, s)
	}
	return cal
}

func encodeCal(tb testing.TB, cal *ical.Calendar) string {
	tb.Helper()
	var b bytes.Buffer
	if err := ical.NewEncoder(&b).Encode(cal); err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return strings.ReplaceAll(b.String(), "\r\n", "\n")
}

// icalCorpus returns the real-world objects by file name; it skips the test
// when the shared corpus is not there (and fails under CI).
// A file go-ical cannot decode maps to nil (the gateway cannot take it either;
// that is go-ical's limit, not the mapping's).
func icalCorpus(tb testing.TB) map[string]*ical.Calendar {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(icalCorpusDir, "*.ics"))
	if err != nil || len(files) == 0 {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("no iCalendar corpus at %s under CI (it lives in ../shared/corpus beside the checkout): %v", icalCorpusDir, err)
		}
		tb.Skipf("no iCalendar corpus at %s (it lives outside the repository): %v", icalCorpusDir, err)
	}
	out := map[string]*ical.Calendar{}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		text := strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n", "\r\n")
		cal, _ := decodeSafe([]byte(text))
		out[filepath.Base(name)] = cal
	}
	return out
}

// kindOf is the collection kind of the object's first calendar component.
func kindOf(cal *ical.Calendar) crmclient.Kind {
	for _, c := range cal.Children {
		switch c.Name {
		case ical.CompEvent:
			return crmclient.Appointment
		case ical.CompToDo:
			return crmclient.Task
		case ical.CompJournal:
			return crmclient.Email
		}
	}
	return ""
}

// calLines renders a component tree in a form that compares by meaning:
// one line per property, with its component path, upper-case names, sorted
// params and the exact value; DTSTAMP aside.
func calLines(c *ical.Component, path string) []string {
	path += "/" + c.Name
	var out []string
	for name, ps := range c.Props {
		if name == ical.PropDateTimeStamp {
			continue
		}
		for _, p := range ps {
			var params []string
			for k, vs := range p.Params {
				params = append(params, strings.ToUpper(k)+"="+strings.Join(vs, ","))
			}
			sort.Strings(params)
			out = append(out, fmt.Sprintf("%s %s;%s:%q", path, name, strings.Join(params, ";"), p.Value))
		}
	}
	for i, ch := range c.Children {
		out = append(out, calLines(ch, fmt.Sprintf("%s[%d]", path, i))...)
	}
	sort.Strings(out)
	return out
}

// diffCal lists the lines only in a and only in b.
func diffCal(a, b *ical.Calendar) (onlyA, onlyB []string) {
	return multisetDiff(calLines(a.Component, ""), calLines(b.Component, ""))
}

func sameCal(tb testing.TB, want, got *ical.Calendar) {
	tb.Helper()
	if a, b := diffCal(want, got); len(a)+len(b) > 0 {
		tb.Errorf("calendar differs:\n removed %q\n added   %q", a, b)
	}
}

func mustActivity(tb testing.TB, cal *ical.Calendar, k crmclient.Kind) Activity {
	tb.Helper()
	a, err := CalendarActivity(cal, k)
	if err != nil {
		tb.Fatalf("CalendarActivity: %v", err)
	}
	return a
}

func mustCalendar(tb testing.TB, a Activity, base *ical.Calendar, uid string) *ical.Calendar {
	tb.Helper()
	cal, err := ActivityCalendar(a, base, uid)
	if err != nil {
		tb.Fatalf("ActivityCalendar: %v", err)
	}
	return cal
}

// sameActivity compares the columns, parties and exceptions.
func sameActivity(tb testing.TB, what string, got, want Activity) {
	tb.Helper()
	if got.Kind != want.Kind {
		tb.Errorf("%s: kind %s, want %s", what, got.Kind, want.Kind)
	}
	for _, k := range ActivityColumns(want.Kind) {
		if got.Columns[k] != want.Columns[k] {
			tb.Errorf("%s: %s = %q, want %q", what, k, got.Columns[k], want.Columns[k])
		}
	}
	if !sameParties(mappedParties(got.Parties, PartyRoles(want.Kind)), mappedParties(want.Parties, PartyRoles(want.Kind))) {
		tb.Errorf("%s: parties %v, want %v", what, got.Parties, want.Parties)
	}
	if len(got.Exceptions) != len(want.Exceptions) {
		tb.Errorf("%s: %d exceptions, want %d", what, len(got.Exceptions), len(want.Exceptions))
		return
	}
	for i := range want.Exceptions {
		g, w := got.Exceptions[i], want.Exceptions[i]
		if !g.RecurrenceID.Equal(w.RecurrenceID) || g.Deleted != w.Deleted {
			tb.Errorf("%s: exception %d %v/%v, want %v/%v", what, i, g.RecurrenceID, g.Deleted, w.RecurrenceID, w.Deleted)
			continue
		}
		for _, k := range ActivityColumns(crmclient.Appointment) {
			if !w.Deleted && g.Columns[k] != w.Columns[k] {
				tb.Errorf("%s: exception %d: %s = %q, want %q", what, i, k, g.Columns[k], w.Columns[k])
			}
		}
	}
}

// changedColumn is a new value for column k of kind that differs from old.
func changedColumn(k, old string) string {
	pick := func(vals ...string) string {
		for _, v := range vals {
			if v != old {
				return v
			}
		}
		return ""
	}
	switch k {
	case "scheduledstart", "scheduledend", "actualend", "senton", "starttime", "endtime":
		return pick("2031-03-04T05:06:07Z", "2031-03-05T05:06:07Z")
	case "patternstartdate", "patternenddate":
		return pick("2031-03-04T00:00:00Z", "2031-03-05T00:00:00Z")
	case "isalldayevent", "isnthmonthly", "isnthyearly", "isweekdaypattern", "directioncode":
		return pick("true", "false")
	case "prioritycode":
		return pick("2", "0")
	case "statecode":
		return pick("2", "1")
	case "statuscode":
		return pick("7", "8")
	case "percentcomplete":
		return pick("40", "60")
	case "duration", "occurrences", "interval", "numberofpages":
		return pick("45", "30")
	case "recurrencepatterntype":
		return pick("1", "2")
	case "daysofweekmask":
		return pick("20", "2")
	case "dayofmonth":
		return pick("12", "13")
	case "instance":
		return pick("5", "2")
	case "monthofyear":
		return pick("7", "8")
	case "firstdayofweek":
		return pick("0", "1")
	case "patternendtype":
		return pick("1", "2")
	case Regarding:
		return pick("contact:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a", "opportunity:7d6c5b4a-3f2e-4d1c-8b0a-9e8d7c6b5a4f")
	}
	if old == "" {
		return "Neu; Wert, ü\nzweite Zeile \\ Ende"
	}
	return old + " (geändert)"
}
