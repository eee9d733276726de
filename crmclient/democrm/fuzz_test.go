package democrm

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// filterSeeds are filters as the gateway and the Dataverse documentation
// write them.
var filterSeeds = []string{
	"lastname eq 'O''Bryan'",
	"lastname eq 'O'Bryan'",
	"_ownerid_value eq 5b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b",
	"contactid eq 5B8F4C1E-7C0A-4D3E-9A54-1C2D3E4F5A6B or contactid eq 00000000-0000-0000-0000-000000000001",
	"(contains(fullname,'smith') or startswith(emailaddress1,'a')) and not (donotemail eq true)",
	"((((lastname ne null))))",
	"modifiedon ge 2026-11-25T10:00:00Z and modifiedon lt 2026-11-26T00:00:00Z",
	"birthdate eq 1990-01-02",
	"gendercode eq 1 or gendercode gt 2.5",
	"endswith(lastname,'''s')",
	"statecode eq 0 and _parentcustomerid_value ne null",
	"appointment_activity_parties/any(p:p/_partyid_value eq 5b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b)",
	"appointment_activity_parties/any(p:p/_partyid_value eq 5b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b and p/participationtypemask eq 5)",
	"appointment_activity_parties/any(p:contains(p/addressused,'@example.com')) or subject eq 'x'",
	"activityid eq 5b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b or activityid eq 6b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b or _ownerid_value eq 7b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b",
	"scheduledstart lt 2026-12-01T00:00:00Z and scheduledend gt 2026-11-01T00:00:00Z",
	"isalldayevent eq false and not(subject eq null)",
	"Account_Emails/any(e:contains(e/subject,'sometext'))",
	"contains(",
	"'unterminated",
	"not not not lastname eq ''",
	"a/any(x:x/any(y:y eq 1))",
}

// fuzzRows are sample rows of a contact and of an appointment with two
// parties, on which parsed filters are evaluated.
func fuzzRows(sc *schema) (contact, appointment *row, parties []*row) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	mk := func(entity, id string, data map[string]any) *row {
		r := &row{entity: sc.byName[entity], id: id, owner: "5b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b",
			version: 1001, created: now, modified: now, data: data}
		b, _ := json.Marshal(data)
		r.raw = string(b)
		return r
	}
	contact = mk("contact", "00000000-0000-0000-0000-000000000001", map[string]any{
		"firstname": "Sean", "lastname": "O'Bryan", "fullname": "Sean O'Bryan", "emailaddress1": "sean@example.com",
		"birthdate": "1990-01-02", "donotemail": false, "gendercode": json.Number("1"), "statecode": json.Number("0"),
		"_parentcustomerid_value": "6b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b",
	})
	appointment = mk("appointment", "6b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b", map[string]any{
		"subject": "Meeting", "scheduledstart": "2026-11-25T10:00:00Z", "scheduledend": "2026-11-25T11:00:00Z",
		"isalldayevent": false, "prioritycode": json.Number("1"),
	})
	parties = []*row{
		mk("activityparty", "7b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b", map[string]any{
			"_activityid_value": appointment.id, "_partyid_value": "5b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b",
			"partyobjecttypecode": "systemuser", "participationtypemask": json.Number("7"),
		}),
		mk("activityparty", "8b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b", map[string]any{
			"_activityid_value": appointment.id, "addressused": "guest@example.com", "participationtypemask": json.Number("5"),
		}),
	}
	return contact, appointment, parties
}

func FuzzFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	sc := newSchema()
	st, err := openStore(f.TempDir(), sc)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.close() })
	contact, appointment, parties := fuzzRows(sc)
	f.Fuzz(func(t *testing.T, src string) {
		for _, rw := range []*row{contact, appointment} {
			n, err := parseFilter(src, rw.entity, sc.byName["activityparty"])
			if err != nil {
				if _, ok := err.(*filterError); !ok {
					t.Fatalf("%q: error of type %T", src, err)
				}
				continue
			}
			v := evalFilter(n, rw, func() []*row { return parties }, nil)
			if _, ok := v.(bool); !ok && v != nil {
				// A bare literal or property is not a condition; the
				// query treats anything but true as false.
				switch v.(type) {
				case string, float64, int64:
				default:
					t.Fatalf("%q evaluates to %T", src, v)
				}
			}
			// The SQL hint must be SQL that SQLite accepts with its
			// arguments, whatever the filter.
			if where, args, ok := sqlHint(n, rw.entity); ok {
				if strings.Count(where, "?") != len(args) {
					t.Fatalf("%q: hint %q with %d arguments", src, where, len(args))
				}
				if _, err := st.scan(rw.entity, "", 1, where, args...); err != nil {
					t.Fatalf("%q: hint %q: %v", src, where, err)
				}
			}
		}
	})
}

func TestFilterSemantics(t *testing.T) {
	sc := newSchema()
	contact, appointment, parties := fuzzRows(sc)
	for _, tc := range []struct {
		rw   *row
		src  string
		want bool
	}{
		{contact, "lastname eq 'O''Bryan'", true},
		{contact, "lastname eq 'o''bryan'", true}, // case-insensitive, as Dataverse's collation
		{contact, "lastname ne 'O''Bryan'", false},
		{contact, "contains(fullname,'N O''B')", true},
		{contact, "startswith(emailaddress1,'SEAN@')", true},
		{contact, "endswith(emailaddress1,'.org')", false},
		{contact, "birthdate eq 1990-01-02", true}, // an Edm.Date literal, for DateOnly columns
		{contact, "birthdate lt 1990-01-10", true},
		{contact, "gendercode eq 1 and statecode eq 0", true},
		{contact, "gendercode gt 1 or gendercode lt 1", false},
		{contact, "not (donotemail eq true)", true},
		{contact, "middlename eq null", true},
		{contact, "middlename ne null", false},
		{contact, "_parentcustomerid_value eq 6B8F4C1E-7C0A-4D3E-9A54-1C2D3E4F5A6B", true},
		{contact, "modifiedon ge 2026-11-25T10:00:00Z and modifiedon lt 2026-11-25T10:00:01Z", true},
		{contact, "((lastname eq 'x') or ((firstname eq 'Sean')))", true},
		{appointment, "appointment_activity_parties/any(p:p/_partyid_value eq 5b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b and p/participationtypemask eq 7)", true},
		{appointment, "appointment_activity_parties/any(p:p/_partyid_value eq 5b8f4c1e-7c0a-4d3e-9a54-1c2d3e4f5a6b and p/participationtypemask eq 5)", false},
		{appointment, "appointment_activity_parties/any(p:contains(p/addressused,'guest'))", true},
		{appointment, "scheduledstart lt 2026-12-01T00:00:00Z and scheduledend gt 2026-11-01T00:00:00Z", true},
	} {
		n, err := parseFilter(tc.src, tc.rw.entity, sc.byName["activityparty"])
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		if got, _ := evalFilter(n, tc.rw, func() []*row { return parties }, nil).(bool); got != tc.want {
			t.Errorf("%q on %s: %v, want %v", tc.src, tc.rw.entity.name, got, tc.want)
		}
	}
	for _, src := range []string{
		"Name eq 'x'",                              // unknown property
		"parentcustomerid eq null",                 // a lookup is read as _parentcustomerid_value
		"lastname eq 'O'Bryan'",                    // unterminated literal
		"contains(lastname,'x'",                    // missing )
		"lastname eq",                              // missing operand
		"lastname eq 'x' extra",                    // trailing tokens
		"contact_activity_parties/any(p:p/x eq 1)", // contacts have no parties
	} {
		if _, err := parseFilter(src, contact.entity, sc.byName["activityparty"]); err == nil {
			t.Errorf("%q: parsed", src)
		}
	}
}

func FuzzParseBody(f *testing.F) {
	for _, s := range []string{
		`{"firstname":"Sample","lastname":"Contact","donotemail":false,"gendercode":1}`,
		`{"contactid":"5B8F4C1E-7C0A-4D3E-9A54-1C2D3E4F5A6B","lastname":"Keyed"}`,
		`{"birthdate":"1990-01-02","anniversary":"2020-06-01T00:00:00Z","description":null}`,
		`{"parentcustomerid_contact@odata.bind":"/contacts(00000000-0000-0000-0000-000000000001)"}`,
		`{"parentcustomerid@odata.bind":"accounts(a779956b-d748-ed11-bb44-6045bd01152a)"}`,
		`{"ownerid@odata.bind":"/systemusers(00000000-0000-0000-0000-000000000002)"}`,
		`{"Name":"Account name"}`,
		`{"fullname":"read-only"}`,
		`{"gendercode":1e400}`,
		`{"gendercode":2147483648}`,
		`{"@odata.type":"Microsoft.Dynamics.CRM.contact","lastname":"x"}`,
		`{"lastname":"a"} {"lastname":"b"}`,
		`[]`,
		`null`,
		``,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	contact := s.schema.byName["contact"]
	appointment := s.schema.byName["appointment"]
	f.Add([]byte(`{"subject":"x","appointment_activity_parties":[{"participationtypemask":5,"addressused":"a@b.c"},{"partyid_contact@odata.bind":"/contacts(00000000-0000-0000-0000-000000000001)","participationtypemask":7}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, e := range []*entity{contact, appointment} {
			ch, aerr := s.parseBody(e, body)
			if aerr != nil {
				if aerr.status != 400 && aerr.status != 404 {
					t.Fatalf("%s: status %d for %q", e.name, aerr.status, body)
				}
				continue
			}
			// What parses is what a row can hold: known, writable columns.
			for k, v := range ch.fields {
				a := e.attrs[strings.TrimSuffix(strings.TrimPrefix(k, "_"), "_value")]
				if a == nil {
					a = e.attrs[k]
				}
				if a == nil || (a.readOnly && k != "regardingobjecttypecode" && k != "parentcustomeridtype") {
					t.Fatalf("%s: column %q=%v accepted from %q", e.name, k, v, body)
				}
			}
			if ch.hasKey != "" && !isGUID(ch.hasKey) {
				t.Fatalf("%s: key %q accepted", e.name, ch.hasKey)
			}
			if _, err := encodeData(ch.fields); err != nil {
				t.Fatalf("%s: %q cannot be stored: %v", e.name, body, err)
			}
		}
	})
}

// A batch of ids on two columns is one IN per column: SQLite refuses an OR
// of more than 1000 terms ("Expression tree is too large").
func TestLongOrFilter(t *testing.T) {
	t.Parallel()
	env := newEnv(t, Options{})
	id := env.create(nil, map[string]any{"lastname": "Needle"})
	var terms []string
	for i := 0; i < 1200; i++ {
		terms = append(terms, fmt.Sprintf("contactid eq %08x-0000-4000-8000-000000000000 or _ownerid_value eq %08x-0000-4000-8000-000000000001", i, i))
	}
	terms = append(terms, "contactid eq "+id)
	a := env.call("GET", "contacts?$select=lastname&$filter="+url.QueryEscape(strings.Join(terms, " or ")), nil, nil)
	mustStatus(t, "long or", a, 200)
	if v := a.json(t)["value"].([]any); len(v) != 1 {
		t.Errorf("long or found %d contacts, want 1", len(v))
	}
}
