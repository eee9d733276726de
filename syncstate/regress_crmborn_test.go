package syncstate_test

import (
	"io"
	"testing"

	"github.com/emersion/go-ical"
	"github.com/google/uuid"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/syncstate"
)

// CRM-born records: idle rounds keep the ETag; the client PUTting back
// what it got sends nothing to the CRM.
func TestRegressionCRMBornStable(t *testing.T) {
	cases := []struct {
		name string
		kind crmclient.Kind
		slug string
		cols crmclient.Columns
	}{
		{"appt", crmclient.Appointment, "appointments", crmclient.Columns{"subject": "A", "scheduledstart": "2026-12-01T09:00:00Z", "scheduledend": "2026-12-01T10:00:00Z", "location": "X"}},
		{"appt-allday", crmclient.Appointment, "appointments", crmclient.Columns{"subject": "A", "scheduledstart": "2026-12-01T00:00:00Z", "scheduledend": "2026-12-02T00:00:00Z", "isalldayevent": "true"}},
		{"appt-allday-offset", crmclient.Appointment, "appointments", crmclient.Columns{"subject": "A", "scheduledstart": "2026-11-30T23:00:00Z", "scheduledend": "2026-12-01T23:00:00Z", "isalldayevent": "true"}},
		{"appt-nodates", crmclient.Appointment, "appointments", crmclient.Columns{"subject": "A"}},
		{"appt-scheduled", crmclient.Appointment, "appointments", crmclient.Columns{"subject": "A", "scheduledstart": "2026-12-01T09:00:00Z", "scheduledend": "2026-12-01T10:00:00Z", "statecode": "3", "statuscode": "5"}},
		{"appt-completed", crmclient.Appointment, "appointments", crmclient.Columns{"subject": "A", "scheduledstart": "2026-12-01T09:00:00Z", "scheduledend": "2026-12-01T10:00:00Z", "statecode": "1", "statuscode": "3"}},
		{"task", crmclient.Task, "tasks", crmclient.Columns{"subject": "T", "scheduledend": "2026-12-01T17:00:00Z", "percentcomplete": "30"}},
		{"task-start-due", crmclient.Task, "tasks", crmclient.Columns{"subject": "T", "scheduledstart": "2026-12-02T17:00:00Z", "scheduledend": "2026-12-01T17:00:00Z"}},
		{"task-done", crmclient.Task, "tasks", crmclient.Columns{"subject": "T", "statecode": "1", "statuscode": "5", "actualend": "2026-12-01T17:00:00Z"}},
		{"phone", crmclient.PhoneCall, "phone-calls", crmclient.Columns{"subject": "P", "phonenumber": "+1", "directioncode": "true"}},
		{"fax", crmclient.Fax, "faxes", crmclient.Columns{"subject": "F", "numberofpages": "4"}},
		{"letter", crmclient.Letter, "letters", crmclient.Columns{"subject": "L", "address": "a;b,c"}},
		{"email", crmclient.Email, "emails", crmclient.Columns{"subject": "E", "description": "<p>Hi</p>", "actualend": "2026-12-01T09:00:00Z"}},
		{"email-draft", crmclient.Email, "emails", crmclient.Columns{"subject": "E"}},
		{"series-monthly-nth", crmclient.RecurringAppointment, "appointments", crmclient.Columns{"subject": "S", "starttime": "2026-12-01T09:00:00Z", "endtime": "2026-12-01T10:00:00Z", "duration": "60",
			"patternstartdate": "2026-12-01T00:00:00Z", "recurrencepatterntype": "2", "interval": "1", "isnthmonthly": "true", "daysofweekmask": "4", "instance": "1", "patternendtype": "2", "occurrences": "5"}},
		{"series-yearly", crmclient.RecurringAppointment, "appointments", crmclient.Columns{"subject": "S", "starttime": "2026-12-01T09:00:00Z", "endtime": "2026-12-01T10:00:00Z", "duration": "60",
			"patternstartdate": "2026-12-01T00:00:00Z", "recurrencepatterntype": "3", "interval": "1", "monthofyear": "12", "dayofmonth": "1", "patternendtype": "3", "patternenddate": "2030-12-01T00:00:00Z"}},
		{"series-daily-allday", crmclient.RecurringAppointment, "appointments", crmclient.Columns{"subject": "S", "starttime": "2026-12-01T00:00:00Z", "endtime": "2026-12-02T00:00:00Z", "duration": "1440", "isalldayevent": "true",
			"patternstartdate": "2026-12-01T00:00:00Z", "recurrencepatterntype": "0", "interval": "2", "patternendtype": "1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := setUp(t)
			rec, err := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: c.kind, ID: uuid.NewString(), Columns: c.cols})
			if err != nil {
				t.Fatal(err)
			}
			f.round(t)
			it, err := f.st.Get(ctx(t), "alice", c.slug, rec.ID+".ics")
			if err != nil {
				t.Fatalf("not there: %v", err)
			}
			t.Logf("%s", it.Body)
			if _, err := ical.NewDecoder(bytesReader(it.Body)).Decode(); err != nil {
				t.Errorf("does not decode: %v", err)
			}
			f.round(t)
			it2, _ := f.st.Get(ctx(t), "alice", c.slug, rec.ID+".ics")
			if it2.ETag != it.ETag {
				t.Errorf("idle round changed it:\n%s", it2.Body)
			}
			if c.kind == crmclient.Email {
				return
			}
			// client saves it back unchanged (as iOS does after a local no-op edit)
			if _, _, err := f.st.Put(ctx(t), "alice", c.slug, rec.ID+".ics", it2.Body, syncstate.Conditions{IfMatch: it2.ETag}); err != nil {
				t.Fatalf("PUT back: %v", err)
			}
			st, _ := f.st.Status(ctx(t))
			if st.Pending != 0 {
				t.Errorf("PUT of the same body queued %d changes", st.Pending)
			}
			got, _ := f.env.Client.Get(ctx(t), f.alice, c.kind, rec.ID)
			f.round(t)
			after, _ := f.env.Client.Get(ctx(t), f.alice, c.kind, rec.ID)
			for k, v := range got.Columns {
				if after.Columns[k] != v {
					t.Errorf("CRM column %s changed %q -> %q", k, v, after.Columns[k])
				}
			}
		})
	}
}

func bytesReader(b []byte) *bytesR { return &bytesR{b: b} }

type bytesR struct{ b []byte }

func (r *bytesR) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, ioEOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

var ioEOF = io.EOF
