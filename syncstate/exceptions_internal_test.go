package syncstate

import (
	"testing"
	"time"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/mapping"
)

// An override's value reads back as the columns it was made of, whatever
// they hold (separators of the encoding, newlines, non-ASCII text), and
// "deleted" and "" keep their meaning.
func TestExceptionValueRoundTrip(t *testing.T) {
	cols := crmclient.Columns{"subject": "a&b=c;d%e+f", "description": "line 1\nline 2 — ü", "location": "",
		"scheduledstart": "2026-12-14T15:00:00Z", "scheduledend": "2026-12-14T15:30:00Z", "isalldayevent": "false",
		"prioritycode": "1", "statecode": "0", "statuscode": "1"}
	at := time.Date(2026, 12, 14, 9, 0, 0, 0, time.UTC)
	vals := exceptionColumns([]mapping.Exception{{RecurrenceID: at, Columns: cols}, {RecurrenceID: at.AddDate(0, 0, 7), Deleted: true}})
	if vals[excColumn(at.AddDate(0, 0, 7))] != excDeleted || len(vals) != 2 {
		t.Fatalf("values %v", vals)
	}
	back, err := exceptionsOf(vals, nil)
	if err != nil || len(back) != 2 || back[1].Deleted != true || !back[1].RecurrenceID.Equal(at.AddDate(0, 0, 7)) {
		t.Fatalf("exceptions %+v, %v", back, err)
	}
	for k, v := range cols {
		if back[0].Columns[k] != v {
			t.Errorf("column %s: %q, want %q", k, back[0].Columns[k], v)
		}
	}
	if _, err := exceptionsOf(crmclient.Columns{excColumn(at): "%zz"}, nil); err == nil {
		t.Error("a malformed value gave no error")
	}
	if ex, err := exceptionsOf(crmclient.Columns{excColumn(at): "", "subject": "x"}, nil); err != nil || len(ex) != 0 {
		t.Errorf("an empty value is no exception: %v %v", ex, err)
	}
	if _, ok := excTime("exception:yesterday"); ok {
		t.Error("a column with no time parsed")
	}
}

// The party list value is canonical: sorted, addresses in lower case, one
// line per (role, address), roles the mapping does not hold and parties
// without address left out.
func TestPartyValue(t *testing.T) {
	ps := []crmclient.Party{
		{Role: crmclient.RequiredAttendee, Address: "Bob@Example.com"},
		{Role: crmclient.Organizer, Address: "alice@example.com", PartyKind: "systemuser", PartyID: "x"},
		{Role: crmclient.RequiredAttendee, Address: "bob@example.com"},
		{Role: crmclient.OptionalAttendee, PartyKind: "contact", PartyID: "y"},
		{Role: crmclient.Regarding, Address: "acme@example.com"},
	}
	got := encodeParties(crmclient.Appointment, ps)
	if want := "5 bob@example.com\n7 alice@example.com"; got != want {
		t.Errorf("value %q, want %q", got, want)
	}
	back := decodeParties(got + "\nnonsense\n9\n")
	if len(back) != 2 || back[0].Role != crmclient.RequiredAttendee || back[1].Address != "alice@example.com" {
		t.Errorf("decoded %+v", back)
	}
	if encodeParties(crmclient.Appointment, nil) != "" || len(decodeParties("")) != 0 {
		t.Error("an empty list is the empty value")
	}
}

func TestInDeletedList(t *testing.T) {
	at := time.Date(2026, 12, 14, 9, 0, 0, 0, time.UTC)
	for list, want := range map[string]bool{
		"2026-12-14T09:00:00Z":                      true,
		"2026-12-07T09:00:00Z,2026-12-14T09:00:00Z": true,
		"2026-12-14T10:00:00+01:00":                 true,
		"2026-12-15T09:00:00Z":                      false,
		"":                                          false,
		"garbage,,":                                 false,
	} {
		if got := inDeletedList(list, at); got != want {
			t.Errorf("%q: %v, want %v", list, got, want)
		}
	}
}
