package syncstate_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/syncstate"
)

// newContact makes a CRM contact and returns its id.
func newContact(t *testing.T, f *fixture, last string) string {
	t.Helper()
	rec, err := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(),
		Columns: crmclient.Columns{"lastname": last}})
	if err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

// crmPatches runs a round and returns the bodies of the CRM PATCHes (and
// the other writes) it made.
func crmPatches(t *testing.T, f *fixture) (patches []map[string]any, other []string) {
	t.Helper()
	f.env.CRM.RecordRequests(true)
	f.round(t)
	for _, r := range f.env.CRM.Requests() {
		switch r.Method {
		case http.MethodGet:
		case http.MethodPatch:
			var m map[string]any
			if err := json.Unmarshal(r.Body, &m); err != nil {
				t.Fatalf("PATCH body %s: %v", r.Body, err)
			}
			patches = append(patches, m)
		default:
			other = append(other, r.Method+" "+r.URI)
		}
	}
	f.env.CRM.RecordRequests(false)
	return patches, other
}

// idleIn runs a round that must write nothing to the CRM and change
// nothing in the object.
func idleIn(t *testing.T, f *fixture, slug, href string) {
	t.Helper()
	before, err := f.st.Get(ctx(t), "alice", slug, href)
	if err != nil {
		t.Fatal(err)
	}
	if p, o := crmPatches(t, f); len(p)+len(o) != 0 {
		t.Errorf("an idle round wrote to the CRM: %v %v", p, o)
	}
	if after, _ := f.st.Get(ctx(t), "alice", slug, href); after.ETag != before.ETag {
		t.Errorf("an idle round changed the object:\n%s", after.Body)
	}
}

// TestRegardingBothWays: the CRM sets a task's regarding and the client
// sees X-CRMDAV-REGARDING; the client points it at another contact and
// the CRM gets that one, in a PATCH of that column only; the client
// removes it and the CRM's is cleared; idle rounds write nothing.
func TestRegardingBothWays(t *testing.T) {
	f := setUp(t)
	anna, ben := newContact(t, f, "Meyer"), newContact(t, f, "Schulz")
	rec, err := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Task, ID: uuid.NewString(), Columns: crmclient.Columns{
		"subject": "Send offer", crmclient.RegardingColumn: "contact:" + anna}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Task, rec.ID); got.Columns[crmclient.RegardingColumn] != "contact:"+anna {
		t.Fatalf("the adapter reads regarding %q", got.Columns[crmclient.RegardingColumn])
	}
	f.round(t)
	href := rec.ID + ".ics"
	it, err := f.st.Get(ctx(t), "alice", "tasks", href)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(it.Body), "X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact:"+anna+"\r\n") {
		t.Fatalf("CRM-born task without its regarding:\n%s", it.Body)
	}
	idleIn(t, f, "tasks", href)

	moved := strings.Replace(string(it.Body), anna, ben, 1)
	if _, _, err := f.st.Put(ctx(t), "alice", "tasks", href, []byte(moved), syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	patches, other := crmPatches(t, f)
	want := "/contacts(" + ben + ")"
	if len(other) != 0 || len(patches) != 1 || len(patches[0]) != 1 || patches[0]["regardingobjectid_contact_task@odata.bind"] != want {
		t.Errorf("CRM writes %v %v, want one PATCH binding only regardingobjectid_contact_task to %s", patches, other, want)
	}
	if got, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Task, rec.ID); got.Columns[crmclient.RegardingColumn] != "contact:"+ben || got.Columns["subject"] != "Send offer" {
		t.Errorf("CRM task after the client's change: %v", got.Columns)
	}
	idleIn(t, f, "tasks", href)

	it, _ = f.st.Get(ctx(t), "alice", "tasks", href)
	var kept []string
	for _, l := range strings.Split(string(it.Body), "\r\n") {
		if !strings.HasPrefix(l, "X-CRMDAV-REGARDING") {
			kept = append(kept, l)
		}
	}
	if _, _, err := f.st.Put(ctx(t), "alice", "tasks", href, []byte(strings.Join(kept, "\r\n")), syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	patches, other = crmPatches(t, f)
	if len(other) != 0 || len(patches) != 1 || len(patches[0]) != 1 {
		t.Errorf("CRM writes %v %v, want one PATCH setting the regarding to null only", patches, other)
	} else if v, ok := patches[0]["regardingobjectid_contact_task@odata.bind"]; !ok || v != nil {
		t.Errorf("CRM PATCH %v, want the regarding set to null", patches[0])
	}
	got, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Task, rec.ID)
	if got.Columns[crmclient.RegardingColumn] != "" || got.Columns["_regardingobjectid_value"] != "" {
		t.Errorf("CRM task after the client removed the regarding: %v", got.Columns)
	}
	idleIn(t, f, "tasks", href)
	if it, _ := f.st.Get(ctx(t), "alice", "tasks", href); strings.Contains(string(it.Body), "REGARDING") {
		t.Errorf("client's task:\n%s", it.Body)
	}
}

// TestRegardingLaterWriterWins: the CRM and the client both change an
// appointment's regarding; the later change wins, and other columns the
// client changed still reach the CRM. The CRM then clears it and the
// client's object loses the property.
func TestRegardingLaterWriterWins(t *testing.T) {
	f := setUp(t)
	anna, ben, cleo := newContact(t, f, "Meyer"), newContact(t, f, "Schulz"), newContact(t, f, "Roth")
	body := ics("BEGIN:VEVENT", "UID:meet-r", "DTSTAMP:20261125T100000Z", "SUMMARY:Review", "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z",
		"X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact:"+anna, "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "meet-r.ics", body, syncstate.Conditions{IfNoneMatch: "*"}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	list, _ := f.env.Client.List(ctx(t), crmclient.Appointment, f.alice.ID)
	if len(list) != 1 {
		t.Fatalf("CRM appointments: %v", list)
	}
	id := list[0].ID
	if got, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Appointment, id); got.Columns[crmclient.RegardingColumn] != "contact:"+anna {
		t.Fatalf("client-born appointment in the CRM: %v", got.Columns)
	}
	idleIn(t, f, "appointments", "meet-r.ics")

	// The client first, then the CRM: the CRM's regarding wins, the
	// client's summary stays.
	it, _ := f.st.Get(ctx(t), "alice", "appointments", "meet-r.ics")
	edited := strings.NewReplacer(anna, ben, "SUMMARY:Review", "SUMMARY:Review 2").Replace(string(it.Body))
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "meet-r.ics", []byte(edited), syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // modifiedon has seconds
	cur, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Appointment, id)
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Appointment, id, cur.ETag, crmclient.Columns{crmclient.RegardingColumn: "contact:" + cleo}, nil); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	got, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Appointment, id)
	if got.Columns[crmclient.RegardingColumn] != "contact:"+cleo || got.Columns["subject"] != "Review 2" {
		t.Errorf("CRM appointment %v, want cleo's regarding and the client's subject", got.Columns)
	}
	it, _ = f.st.Get(ctx(t), "alice", "appointments", "meet-r.ics")
	if !strings.Contains(string(it.Body), "X-CRMDAV-KIND=contact:"+cleo) || strings.Contains(string(it.Body), ben) {
		t.Errorf("client's object:\n%s", it.Body)
	}
	idleIn(t, f, "appointments", "meet-r.ics")

	cur, _ = f.env.Client.Get(ctx(t), f.alice, crmclient.Appointment, id)
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Appointment, id, cur.ETag, crmclient.Columns{crmclient.RegardingColumn: ""}, nil); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	it, _ = f.st.Get(ctx(t), "alice", "appointments", "meet-r.ics")
	if strings.Contains(string(it.Body), "REGARDING") || !strings.Contains(string(it.Body), "SUMMARY:Review 2") {
		t.Errorf("after the CRM cleared the regarding:\n%s", it.Body)
	}
	idleIn(t, f, "appointments", "meet-r.ics")
}

// TestRegardingMalformedRefused: a PUT with a malformed X-CRMDAV-REGARDING
// is refused as an invalid object (dav: 403 valid-calendar-object-resource)
// with a reason, and nothing is stored or sent.
func TestRegardingMalformedRefused(t *testing.T) {
	f := setUp(t)
	for i, bad := range []string{
		"X-CRMDAV-REGARDING:0b8c2f1e-5a4d-4e3b-9c2a-1f0e9d8c7b6a",
		"X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact:Anna Meyer",
	} {
		href := "bad-" + string(rune('a'+i)) + ".ics"
		body := ics("BEGIN:VTODO", "UID:"+href, "DTSTAMP:20261125T100000Z", "SUMMARY:Call", bad, "END:VTODO")
		_, _, err := f.st.Put(ctx(t), "alice", "phone-calls", href, body, syncstate.Conditions{IfNoneMatch: "*"})
		if !errors.Is(err, syncstate.ErrInvalid) || !strings.Contains(err.Error(), "X-CRMDAV-REGARDING") {
			t.Errorf("%s: err %v, want ErrInvalid naming X-CRMDAV-REGARDING", bad, err)
		}
		if _, err := f.st.Get(ctx(t), "alice", "phone-calls", href); err == nil {
			t.Errorf("%s: the refused object was stored", bad)
		}
	}
	if p, o := crmPatches(t, f); len(p)+len(o) != 0 {
		t.Errorf("refused objects reached the CRM: %v %v", p, o)
	}
}

// TestRegardingSeries: a client's recurring event with a regarding and a
// moved instance reaches the CRM's master with the regarding; the moved
// instance, which has no X-CRMDAV-REGARDING, follows the series; idle
// rounds write nothing.
func TestRegardingSeries(t *testing.T) {
	f := setUpSeries(t, 0)
	anna := newContact(t, f, "Meyer")
	body := ics("BEGIN:VEVENT", "UID:weekly-r", "DTSTAMP:20261125T100000Z", "SUMMARY:Team sync",
		"DTSTART:20261130T090000Z", "DTEND:20261130T093000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4",
		"X-CRMDAV-REGARDING;X-CRMDAV-KIND=contact:"+anna, "END:VEVENT",
		"BEGIN:VEVENT", "UID:weekly-r", "DTSTAMP:20261125T100000Z", "RECURRENCE-ID:20261207T090000Z", "SUMMARY:Team sync",
		"DTSTART:20261207T110000Z", "DTEND:20261207T113000Z", "END:VEVENT")
	if _, _, err := f.st.Put(ctx(t), "alice", "appointments", "weekly-r.ics", body, syncstate.Conditions{IfNoneMatch: "*"}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	rec := onlyMaster(t, f)
	if rec.Columns[crmclient.RegardingColumn] != "contact:"+anna {
		t.Errorf("CRM master %v", rec.Columns)
	}
	insts := instancesAt(t, f, rec.ID)
	if len(insts) == 0 {
		t.Fatal("the CRM expanded no instances")
	}
	for start, in := range insts {
		if in.Columns[crmclient.RegardingColumn] != "contact:"+anna {
			t.Errorf("instance %s regards %q", start, in.Columns[crmclient.RegardingColumn])
		}
	}
	f.round(t)
	idleIn(t, f, "appointments", "weekly-r.ics")
}
