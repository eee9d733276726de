package syncstate_test

import (
	"strings"
	"testing"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/syncstate"
)

func rawICS(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// R3: objects without DTSTAMP or PRODID are accepted by PUT, then cannot
// be re-rendered (go-ical's encoder wants exactly one of each).
func TestRegressionNoDTSTAMP(t *testing.T) {
	for name, body := range map[string][]byte{
		"no-dtstamp": rawICS("BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//x//EN", "BEGIN:VTODO", "UID:t1", "SUMMARY:No stamp", "END:VTODO", "END:VCALENDAR"),
		"no-prodid":  rawICS("BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VTODO", "UID:t1", "DTSTAMP:20261125T100000Z", "SUMMARY:No prodid", "END:VTODO", "END:VCALENDAR"),
	} {
		t.Run(name, func(t *testing.T) {
			f := setUp(t)
			if _, _, err := f.st.Put(ctx(t), "alice", "tasks", "t1.ics", body, syncstate.Conditions{IfNoneMatch: "*"}); err != nil {
				t.Fatalf("PUT: %v", err)
			}
			for i := 0; i < 2; i++ {
				if err := f.sync.Round(ctx(t)); err != nil {
					t.Errorf("round %d: %v", i, err)
				}
			}
			st, _ := f.st.Status(ctx(t))
			list, _ := f.env.Client.List(ctx(t), crmclient.Task, f.alice.ID)
			t.Logf("CRM tasks %d, pending %d", len(list), st.Pending)
			if st.Pending != 0 {
				t.Errorf("the create stays pending forever (%d rows) although the CRM has the task", st.Pending)
			}
			if len(list) == 1 {
				// The CRM edits the task: the gateway must bring it to the client.
				rec, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Task, list[0].ID)
				if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Task, rec.ID, "", crmclient.Columns{"subject": "Edited in CRM"}, nil); err != nil {
					t.Fatal(err)
				}
				if err := f.sync.Round(ctx(t)); err != nil {
					t.Errorf("round after CRM edit: %v", err)
				}
				it, _ := f.st.Get(ctx(t), "alice", "tasks", "t1.ics")
				if !strings.Contains(string(it.Body), "Edited in CRM") {
					t.Errorf("CRM edit never reaches the client:\n%s", it.Body)
				}
			}
		})
	}
}
