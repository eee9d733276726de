package syncstate

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-vcard"
	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/crmtest"
)

// updateHook runs a function before the n-th Update reaches the CRM.
type updateHook struct {
	CRM
	n      *atomic.Int64
	before func(n int64)
}

func (u updateHook) Update(ctx context.Context, as crmclient.User, k crmclient.Kind, id, etag string, cols crmclient.Columns, parties []crmclient.Party) (crmclient.Record, error) {
	u.before(u.n.Add(1))
	return u.CRM.Update(ctx, as, k, id, etag, cols, parties)
}

// Review finding 2: a PUT accepted while the pusher resends after a
// conflict merge must stay pending and reach the CRM; the push answers only
// for the rows its merge saw.
func TestRegressionPutDuringConflictPush(t *testing.T) {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := crmtest.Start(t, crmtest.Options{})
	alice := env.Users[0]
	st, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.AddUser(c, "alice", "correct horse battery", alice); err != nil {
		t.Fatal(err)
	}
	y := NewSyncer(st, env.Client, SyncOptions{PushDelay: time.Hour})
	rec, _ := env.Client.Create(c, alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "Race", "jobtitle": "J0", "telephone1": "T0"}})
	if err := y.Round(c); err != nil {
		t.Fatal(err)
	}
	href := rec.ID + ".vcf"
	put := func(title, tel string) {
		it, _ := st.Get(c, "alice", "contacts", href)
		card, _ := vcard.NewDecoder(strings.NewReader(string(it.Body))).Decode()
		card.SetValue(vcard.FieldTitle, title)
		for _, f := range card[vcard.FieldTelephone] {
			f.Value = tel
		}
		var b strings.Builder
		vcard.NewEncoder(&b).Encode(card)
		if _, _, err := st.Put(c, "alice", "contacts", href, []byte(b.String()), Conditions{IfMatch: it.ETag}); err != nil {
			t.Error(err)
		}
	}
	put("J1", "T0")
	cur, _ := env.Client.Get(c, alice, crmclient.Contact, rec.ID)
	if _, err := env.Client.Update(c, alice, crmclient.Contact, rec.ID, cur.ETag, crmclient.Columns{"department": "D"}, nil); err != nil {
		t.Fatal(err)
	}
	// The first Update gets 412; the client changes the phone number just
	// before the second (after the merge) goes out.
	var n atomic.Int64
	y.crm = updateHook{CRM: env.Client, n: &n, before: func(i int64) {
		if i == 2 {
			put("J1", "T2")
		}
	}}
	if _, err := y.Push(c, true); err != nil {
		t.Fatal(err)
	}
	if n.Load() < 2 {
		t.Fatalf("%d updates; the conflict path was not taken", n.Load())
	}
	if err := y.Round(c); err != nil {
		t.Fatal(err)
	}
	got, _ := env.Client.Get(c, alice, crmclient.Contact, rec.ID)
	it, _ := st.Get(c, "alice", "contacts", href)
	if got.Columns["telephone1"] != "T2" || got.Columns["jobtitle"] != "J1" || got.Columns["department"] != "D" || !strings.Contains(string(it.Body), "T2") {
		t.Errorf("accepted PUT lost: CRM %v, client body:\n%s", got.Columns, it.Body)
	}
}

type failingCRM struct{ CRM }

func (failingCRM) Create(ctx context.Context, as crmclient.User, rec crmclient.Record) (crmclient.Record, error) {
	return crmclient.Record{}, &crmclient.Error{Op: "create", Status: 503, Err: crmclient.ErrUnavailable}
}

// R6: Push's "next wake-up" is MIN over rows of MAX(next_attempt,
// accepted_at), but an item is due only when MAX over its rows has passed.
// An item in back-off that gets a new PUT makes Run spin every 10ms until
// the back-off ends (up to RetryMax, 5 min by default).
func TestRegressionPushLoopSpins(t *testing.T) {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := crmtest.Start(t, crmtest.Options{})
	st, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.AddUser(c, "alice", "correct horse battery", env.Users[0]); err != nil {
		t.Fatal(err)
	}
	y := NewSyncer(st, failingCRM{env.Client}, SyncOptions{PushDelay: 50 * time.Millisecond, PollInterval: time.Hour, RetryMin: time.Minute, RetryMax: time.Minute})
	body := func(title string) []byte {
		return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:s\r\nFN:Spin\r\nN:Spin;;;;\r\nTITLE:" + title + "\r\nEND:VCARD\r\n")
	}
	if _, _, err := st.Put(c, "alice", "contacts", "s.vcf", body("a"), Conditions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := y.Push(c, true); err == nil {
		t.Fatal("want a failure")
	}
	if _, _, err := st.Put(c, "alice", "contacts", "s.vcf", body("b"), Conditions{}); err != nil {
		t.Fatal(err)
	}
	var pushes atomic.Int64
	count := func(db *gorm.DB) {
		if strings.Contains(db.Statement.SQL.String(), "AS accepted") {
			pushes.Add(1)
		}
	}
	st.db.Callback().Query().After("gorm:query").Register("regress:count", count)
	st.db.Callback().Row().After("gorm:row").Register("regress:countrow", count)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- y.Run(runCtx) }()
	time.Sleep(time.Second)
	stop()
	<-done
	if n := pushes.Load(); n > 5 {
		t.Errorf("%d push rounds in 1s with nothing due for a minute", n)
	}
}
