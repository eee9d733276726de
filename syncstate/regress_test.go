package syncstate_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-vcard"
	"github.com/google/uuid"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/crmtest"
	"github.com/crmdav/crmdav/crmclient/dataverse"
	"github.com/crmdav/crmdav/syncstate"
)

// setUpOneTry: the adapter tries each request once, so that a lost answer
// reaches the pusher as a retryable failure.
func setUpOneTry(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{env: crmtest.Start(t, crmtest.Options{Adapter: dataverse.Config{MaxAttempts: 1}}), dir: t.TempDir()}
	f.alice = f.env.Users[0]
	f.open(t)
	if _, err := f.st.AddUser(ctx(t), "alice", "correct horse battery", f.alice); err != nil {
		t.Fatal(err)
	}
	return f
}

// Review finding 1: the create reached the CRM but its answer was lost; the client then
// edits the card. The retried create finds the record (ErrExists → Get) and
// returns it WITHOUT the later columns; pushed() deletes both outbox rows and
// rewrites the mirror with the CRM's old value. The client's edit is lost.
func TestRegressionLostAnswerCreateThenEditIsLost(t *testing.T) {
	f := setUpOneTry(t)
	// Prime the adapter's metadata cache (a lost GET is replayed by net/http).
	if _, err := f.env.Client.Create(ctx(t), f.env.Users[1], crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "Bob's"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", "x.vcf", card("UID:x", "FN:Lost Edit", "N:Edit;Lost;;;", "TITLE:first"), syncstate.Conditions{IfNoneMatch: "*"}); err != nil {
		t.Fatal(err)
	}
	f.env.CRM.LoseNextAnswers(1)
	if _, err := f.sync.Push(ctx(t), true); err == nil {
		t.Fatal("push with a lost answer succeeded?")
	}
	it, _ := f.item(t, "x.vcf")
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", "x.vcf", card("UID:x", "FN:Lost Edit", "N:Edit;Lost;;;", "TITLE:second"), syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	f.round(t)
	f.round(t)
	list, _ := f.env.Client.List(ctx(t), crmclient.Contact, f.alice.ID)
	if len(list) != 1 {
		t.Fatalf("CRM has %d contacts", len(list))
	}
	rec, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, list[0].ID)
	_, c := f.item(t, "x.vcf")
	if rec.Columns["jobtitle"] != "second" || c.Value(vcard.FieldTitle) != "second" {
		t.Errorf("client's accepted edit lost: CRM jobtitle %q, client TITLE %q, want second", rec.Columns["jobtitle"], c.Value(vcard.FieldTitle))
	}
}

// rejectingCRM turns chosen operations into permanent rejections.
type rejectingCRM struct {
	syncstate.CRM
	rejectCreate, rejectDelete bool
}

func (r *rejectingCRM) Create(ctx context.Context, as crmclient.User, rec crmclient.Record) (crmclient.Record, error) {
	if r.rejectCreate {
		return crmclient.Record{}, &crmclient.Error{Op: "create", Status: 400, Err: crmclient.ErrRejected}
	}
	return r.CRM.Create(ctx, as, rec)
}

func (r *rejectingCRM) Delete(ctx context.Context, as crmclient.User, k crmclient.Kind, id, etag string) error {
	if r.rejectDelete {
		return &crmclient.Error{Op: "delete", Status: 403, Err: crmclient.ErrForbidden}
	}
	return r.CRM.Delete(ctx, as, k, id, etag)
}

// R2: a client delete the CRM refuses for good (no delete privilege) is
// never undone: invariant 6 says the item is brought back in line with the
// CRM on the next poll, but the record is not in the feed, so the contact
// stays gone from the client while it lives on in the CRM.
func TestRegressionRejectedDeleteNeverRestored(t *testing.T) {
	f := setUp(t)
	rej := &rejectingCRM{CRM: f.env.Client}
	f.sync = syncstate.NewSyncer(f.st, rej, syncstate.SyncOptions{PushDelay: time.Hour, RetryMin: 10 * time.Millisecond})
	rec, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "Undeletable"}})
	f.round(t)
	it, _ := f.item(t, rec.ID+".vcf")
	if err := f.st.Delete(ctx(t), "alice", "contacts", it.Href, syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	rej.rejectDelete = true
	f.sync.Round(ctx(t)) // rejected
	rej.rejectDelete = false
	f.round(t)
	f.round(t)
	if _, err := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, rec.ID); err != nil {
		t.Fatalf("CRM lost the record: %v", err)
	}
	if _, err := f.st.Get(ctx(t), "alice", "contacts", it.Href); err != nil {
		t.Errorf("CRM still has the record, the client never gets it back: %v", err)
	}
}

// R3: a create the CRM refuses for good leaves the item on the client
// forever (no record in the CRM, nothing ever removes or flags it).
func TestRegressionRejectedCreateStaysForever(t *testing.T) {
	f := setUp(t)
	rej := &rejectingCRM{CRM: f.env.Client, rejectCreate: true}
	f.sync = syncstate.NewSyncer(f.st, rej, syncstate.SyncOptions{PushDelay: time.Hour, RetryMin: 10 * time.Millisecond})
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", "r.vcf", card("UID:r", "FN:Refused", "N:Refused;;;;"), syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	f.sync.Round(ctx(t))
	rej.rejectCreate = false
	f.round(t)
	if err := f.st.ForgetCursors(ctx(t)); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	list, _ := f.env.Client.List(ctx(t), crmclient.Contact, f.alice.ID)
	if _, err := f.st.Get(ctx(t), "alice", "contacts", "r.vcf"); !errors.Is(err, syncstate.ErrNotFound) || len(list) != 0 {
		t.Errorf("item whose create was rejected: get %v, CRM has %d records; want it gone from the client, listed in the status", err, len(list))
	}
	if st, _ := f.st.Status(ctx(t)); len(st.Rejected) != 1 || st.Rejected[0].Op != "create" {
		t.Errorf("status %+v", st)
	}
}

// R4: a client DELETE followed by a poll before the push: the poll finds no
// ID-map row (Delete removed it) and re-adds the record as a new item.
func TestRegressionDeleteResurrectedByPoll(t *testing.T) {
	f := setUp(t)
	rec, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "Zombie"}})
	f.round(t)
	it, _ := f.item(t, rec.ID+".vcf")
	_, rev0, _ := f.st.Changes(ctx(t), "alice", "contacts", 0)
	if err := f.st.Delete(ctx(t), "alice", "contacts", it.Href, syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	// Someone edits the record in the CRM before the push delay passes.
	cur, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, rec.ID)
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Contact, rec.ID, cur.ETag, crmclient.Columns{"jobtitle": "x"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.sync.Poll(ctx(t)); err != nil { // a poll inside the push delay (Run polls every 30s)
		t.Fatal(err)
	}
	if _, err := f.st.Get(ctx(t), "alice", "contacts", it.Href); err == nil {
		ch, _, _ := f.st.Changes(ctx(t), "alice", "contacts", rev0)
		t.Errorf("deleted item reappeared before its delete was pushed; changes %+v", ch)
	}
}

type getFailsOnce struct {
	syncstate.CRM
	fail bool
}

func (g *getFailsOnce) Get(ctx context.Context, as crmclient.User, k crmclient.Kind, id string) (crmclient.Record, error) {
	if g.fail {
		g.fail = false
		return crmclient.Record{}, &crmclient.Error{Op: "get", Status: 503, Err: crmclient.ErrUnavailable}
	}
	return g.CRM.Get(ctx, as, k, id)
}

// R8: an update the CRM rejects (too long for jobtitle) while the restore's
// Get fails: the rejected value stays in the client's card for good, even
// after the record changes in the CRM (the poll's merge sees "ours changed,
// theirs not" and drops the ToCRM it computes).
func TestRegressionRejectedUpdateNeverRestored(t *testing.T) {
	f := setUp(t)
	g := &getFailsOnce{CRM: f.env.Client}
	f.sync = syncstate.NewSyncer(f.st, g, syncstate.SyncOptions{PushDelay: time.Hour, RetryMin: 10 * time.Millisecond})
	rec, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "Rejected", "jobtitle": "ok"}})
	f.round(t)
	href := rec.ID + ".vcf"
	it, c := f.item(t, href)
	c.SetValue(vcard.FieldTitle, strings.Repeat("x", 150)) // jobtitle holds 100
	var b strings.Builder
	vcard.NewEncoder(&b).Encode(c)
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", href, []byte(b.String()), syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	g.fail = true
	if _, err := f.sync.Push(ctx(t), true); err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("push: %v", err)
	}
	// The record changes in the CRM: the feed brings it back.
	cur, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, rec.ID)
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Contact, rec.ID, cur.ETag, crmclient.Columns{"department": "Sales"}, nil); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	f.round(t)
	_, c = f.item(t, href)
	if c.Value(vcard.FieldTitle) != "ok" {
		t.Errorf("client keeps the rejected TITLE (%d chars); CRM has %q", len(c.Value(vcard.FieldTitle)), "ok")
	}
}

// Baseline: with Get working, restore brings the item back.
func TestRegressionRejectedUpdateRestoredBaseline(t *testing.T) {
	f := setUp(t)
	rec, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "Rejected", "jobtitle": "ok"}})
	f.round(t)
	_, rev0, _ := f.st.Changes(ctx(t), "alice", "contacts", 0)
	f.round(t)
	if _, rev1, _ := f.st.Changes(ctx(t), "alice", "contacts", 0); rev1 != rev0 {
		t.Errorf("idle round advanced the revision %d → %d", rev0, rev1)
	}
	href := rec.ID + ".vcf"
	it, c := f.item(t, href)
	c.SetValue(vcard.FieldTitle, strings.Repeat("x", 150))
	var b strings.Builder
	vcard.NewEncoder(&b).Encode(c)
	f.st.Put(ctx(t), "alice", "contacts", href, []byte(b.String()), syncstate.Conditions{IfMatch: it.ETag})
	f.sync.Round(ctx(t))
	_, c = f.item(t, href)
	if c.Value(vcard.FieldTitle) != "ok" {
		t.Errorf("not restored: %q", c.Value(vcard.FieldTitle))
	}
}

// R9: a CRM value the card cannot carry exactly (a two-line street) makes
// mirror ≠ snapshot for good. Merge takes the whole mirror as "ours", so the
// next 412 on an unrelated client edit counts the street as a client change
// and writes the truncated value over the CRM's.
func TestRegressionConflictOverwritesUntouchedColumn(t *testing.T) {
	f := setUp(t)
	rec, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{
		"lastname": "Street", "address1_line1": "Main St 1\nBuilding 2", "address1_city": "Town"}})
	f.round(t)
	href := rec.ID + ".vcf"
	it, c := f.item(t, href)
	c.SetValue(vcard.FieldTitle, "new title")
	var b strings.Builder
	vcard.NewEncoder(&b).Encode(c)
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", href, []byte(b.String()), syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	cur, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, rec.ID)
	f.env.Client.Update(ctx(t), f.alice, crmclient.Contact, rec.ID, cur.ETag, crmclient.Columns{"department": "Sales"}, nil)
	f.env.CRM.RecordRequests(true)
	if _, err := f.sync.Push(ctx(t), true); err != nil { // 412 → merge → retry
		t.Fatal(err)
	}
	got, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, rec.ID)
	if got.Columns["address1_line1"] != "Main St 1\nBuilding 2" {
		t.Errorf("CRM street overwritten by the gateway: %q; writes %q", got.Columns["address1_line1"], f.crmWrites())
	}
}
