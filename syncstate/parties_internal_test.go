package syncstate

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/crmtest"
)

// An item synchronized before parties were (its snapshot has neither the
// party list nor pseudoMark, the CRM never got the client's attendees)
// keeps its attendees when the CRM changes it, and the CRM gets them.
func TestLegacyItemKeepsAttendees(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env := crmtest.Start(t, crmtest.Options{})
	st, err := Open(t.TempDir(), Options{PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	alice := env.Users[0]
	if _, err := st.AddUser(ctx, "alice", "correct horse battery", alice); err != nil {
		t.Fatal(err)
	}
	y := NewSyncer(st, env.Client, SyncOptions{PushDelay: time.Hour})
	body := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:l\r\nDTSTAMP:20261125T100000Z\r\nSUMMARY:Old\r\n" +
		"DTSTART:20261203T090000Z\r\nDTEND:20261203T100000Z\r\nORGANIZER:mailto:alice@crmdav.demo\r\nATTENDEE:mailto:guest@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	if _, _, err := st.Put(ctx, "alice", "appointments", "l.ics", []byte(body), Conditions{}); err != nil {
		t.Fatal(err)
	}
	if err := y.Round(ctx); err != nil {
		t.Fatal(err)
	}
	list, _ := env.Client.List(ctx, crmclient.Appointment, alice.ID)
	if len(list) != 1 {
		t.Fatalf("CRM appointments %v", list)
	}
	// Make it what an older gateway left: the CRM without the parties, the
	// snapshot without the list and the mark.
	if _, err := env.Client.Update(ctx, alice, crmclient.Appointment, list[0].ID, "", crmclient.Columns{"subject": "New"}, []crmclient.Party{}); err != nil {
		t.Fatal(err)
	}
	var idm idmapRow
	if err := st.db.Where("crm_id = ?", list[0].ID).Take(&idm).Error; err != nil {
		t.Fatal(err)
	}
	snap, err := loadSnapshot(st.db, idm.ItemID)
	if err != nil {
		t.Fatal(err)
	}
	delete(snap, partiesColumn)
	delete(snap, pseudoMark)
	if err := saveSnapshot(st.db, idm.ItemID, snap); err != nil {
		t.Fatal(err)
	}
	y = NewSyncer(st, env.Client, SyncOptions{PushDelay: time.Hour})
	if err := y.Round(ctx); err != nil {
		t.Fatal(err)
	}
	if err := y.Round(ctx); err != nil {
		t.Fatal(err)
	}
	it, _ := st.Get(ctx, "alice", "appointments", "l.ics")
	if b := string(it.Body); !strings.Contains(b, "guest@example.com") || !strings.Contains(b, "SUMMARY:New") {
		t.Errorf("legacy item after a CRM change:\n%s", b)
	}
	rec, _ := env.Client.Get(ctx, alice, crmclient.Appointment, list[0].ID)
	if v, _ := partyValue(rec); v != "5 guest@example.com\n7 alice@crmdav.demo" {
		t.Errorf("CRM parties of the legacy item: %q", v)
	}
}
