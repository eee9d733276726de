package syncstate_test

import (
	"golang.org/x/crypto/bcrypt"

	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-vcard"
	"github.com/google/uuid"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/crmtest"
	"github.com/crmdav/crmdav/syncstate"
)

type fixture struct {
	env   *crmtest.Env
	dir   string
	st    *syncstate.Store
	sync  *syncstate.Syncer
	alice crmclient.User // the CRM user behind gateway user "alice"
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// setUp starts the embedded CRM over HTTP, opens the state in a SQLite file
// and adds gateway user alice. The push delay is long: pushes happen in
// explicit rounds only.
func setUp(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{env: crmtest.Start(t, crmtest.Options{}), dir: t.TempDir()}
	f.alice = f.env.Users[0]
	f.open(t)
	if _, err := f.st.AddUser(ctx(t), "alice", "correct horse battery", f.alice); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	st, err := syncstate.Open(f.dir, syncstate.Options{PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	f.sync = syncstate.NewSyncer(st, f.env.Client, syncstate.SyncOptions{PushDelay: time.Hour, RetryMin: 10 * time.Millisecond})
}

func (f *fixture) round(t *testing.T) {
	t.Helper()
	if err := f.sync.Round(ctx(t)); err != nil {
		t.Fatalf("sync round: %v", err)
	}
}

func (f *fixture) item(t *testing.T, href string) (syncstate.Item, vcard.Card) {
	t.Helper()
	it, err := f.st.Get(ctx(t), "alice", "contacts", href)
	if err != nil {
		t.Fatalf("get %s: %v", href, err)
	}
	card, err := vcard.NewDecoder(strings.NewReader(string(it.Body))).Decode()
	if err != nil {
		t.Fatalf("stored body of %s: %v\n%s", href, err, it.Body)
	}
	return it, card
}

func (f *fixture) crmWrites() []string {
	var out []string
	for _, r := range f.env.CRM.Requests() {
		if r.Method != http.MethodGet {
			out = append(out, r.Method+" "+string(r.Body))
		}
	}
	return out
}

const crlf = "\r\n"

func card(lines ...string) []byte {
	return []byte(strings.Join(append(append([]string{"BEGIN:VCARD", "VERSION:3.0"}, lines...), "END:VCARD"), crlf) + crlf)
}

// TestWorkedExample is the scenario of the method: the client changes A
// (job title), B (business phone) and C (e-mail) and adds properties the CRM
// has no column for; a moment later the CRM changes A and B. One round
// later both sides hold A and B from the CRM and C from the client, the
// CRM got one PATCH with C only, and the client's card kept its extras.
func TestWorkedExample(t *testing.T) {
	f := setUp(t)
	rec, err := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{
		"firstname": "Ada", "lastname": "Lovelace", "jobtitle": "A0", "telephone1": "B0", "emailaddress1": "c0@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	f.round(t)
	href := rec.ID + ".vcf"
	it, c := f.item(t, href)
	if c.Value(vcard.FieldUID) != rec.ID || c.Value(vcard.FieldTitle) != "A0" {
		t.Fatalf("CRM-born card: %s", it.Body)
	}

	// The client edits A, B and C, and adds an X- property and CATEGORIES.
	c.SetValue(vcard.FieldTitle, "A1")
	for _, tel := range c[vcard.FieldTelephone] {
		if tel.Value == "B0" {
			tel.Value = "B1"
		}
	}
	for _, e := range c[vcard.FieldEmail] {
		if e.Value == "c0@example.com" {
			e.Value = "c1@example.com"
		}
	}
	c.Add("X-MOOD", &vcard.Field{Value: "curious"})
	c.Add(vcard.FieldCategories, &vcard.Field{Value: "VIP,Math"})
	var body strings.Builder
	if err := vcard.NewEncoder(&body).Encode(c); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", href, []byte(body.String()), syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	// Later (past the CRM's one-second precision), inside the push delay,
	// the CRM changes A and B.
	time.Sleep(1100 * time.Millisecond)
	cur, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, rec.ID)
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Contact, rec.ID, cur.ETag, crmclient.Columns{"jobtitle": "A2", "telephone1": "B2"}, nil); err != nil {
		t.Fatal(err)
	}

	f.env.CRM.RecordRequests(true)
	f.round(t)
	writes := f.crmWrites()
	if len(writes) != 1 || !strings.HasPrefix(writes[0], "PATCH ") {
		t.Fatalf("CRM writes %q, want one PATCH", writes)
	}
	var sent map[string]any
	json.Unmarshal([]byte(strings.TrimPrefix(writes[0], "PATCH ")), &sent)
	if len(sent) != 1 || sent["emailaddress1"] != "c1@example.com" {
		t.Errorf("PATCH body %s, want only emailaddress1", writes[0])
	}
	got, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, rec.ID)
	if got.Columns["jobtitle"] != "A2" || got.Columns["telephone1"] != "B2" || got.Columns["emailaddress1"] != "c1@example.com" {
		t.Errorf("CRM has %v", got.Columns)
	}
	it2, c2 := f.item(t, href)
	tels := []string{}
	for _, tel := range c2[vcard.FieldTelephone] {
		tels = append(tels, tel.Value)
	}
	if c2.Value(vcard.FieldTitle) != "A2" || !strings.Contains(strings.Join(tels, ","), "B2") || c2.Value(vcard.FieldEmail) != "c1@example.com" {
		t.Errorf("client card after the round:\n%s", it2.Body)
	}
	if c2.Value("X-MOOD") != "curious" || c2.Value(vcard.FieldCategories) == "" {
		t.Errorf("client card lost properties the CRM has no column for:\n%s", it2.Body)
	}

	// An idle round changes nothing on either side.
	f.env.CRM.RecordRequests(true)
	f.round(t)
	if w := f.crmWrites(); len(w) != 0 {
		t.Errorf("idle round wrote to the CRM: %q", w)
	}
	if it3, _ := f.item(t, href); it3.ETag != it2.ETag {
		t.Errorf("idle round changed the ETag %s → %s", it2.ETag, it3.ETag)
	}
}

func TestCreateBothWays(t *testing.T) {
	f := setUp(t)
	// Client-born.
	body := card("UID:client-1", "FN:Grace Hopper", "N:Hopper;Grace;;;", "TITLE:Rear Admiral", "EMAIL;TYPE=INTERNET:grace@example.com", "X-EXTRA:kept")
	etag, created, err := f.st.Put(ctx(t), "alice", "contacts", "grace.vcf", body, syncstate.Conditions{IfNoneMatch: "*"})
	if err != nil || !created || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("put: %q %v %v", etag, created, err)
	}
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", "grace.vcf", body, syncstate.Conditions{IfNoneMatch: "*"}); !errors.Is(err, syncstate.ErrPrecondition) {
		t.Fatalf("second create with If-None-Match: *: %v", err)
	}
	f.round(t)
	list, err := f.env.Client.List(ctx(t), crmclient.Contact, f.alice.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("CRM has %d contacts, %v", len(list), err)
	}
	rec, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, list[0].ID)
	if rec.Columns["lastname"] != "Hopper" || rec.Columns["jobtitle"] != "Rear Admiral" || rec.Columns["emailaddress1"] != "grace@example.com" || rec.Owner != f.alice.ID {
		t.Errorf("CRM record %+v", rec)
	}
	it, c := f.item(t, "grace.vcf")
	if c.Value("X-EXTRA") != "kept" || c.Value(vcard.FieldUID) != "client-1" {
		t.Errorf("client card after push:\n%s", it.Body)
	}
	// CRM-born.
	crmRec, err := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"firstname": "Alan", "lastname": "Turing"}})
	if err != nil {
		t.Fatal(err)
	}
	f.round(t)
	_, c = f.item(t, crmRec.ID+".vcf")
	if c.Value(vcard.FieldUID) != crmRec.ID || !strings.Contains(c.Value(vcard.FieldFormattedName), "Turing") || c.Value(vcard.FieldVersion) != "3.0" {
		t.Errorf("CRM-born card %v", c)
	}
	// Only alice's contacts: bob's do not appear.
	bob := f.env.Users[1]
	if _, err := f.env.Client.Create(ctx(t), bob, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "NotAlices"}}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	n := 0
	f.st.Items(ctx(t), "alice", "contacts", false, func(syncstate.Item) error { n++; return nil })
	if n != 2 {
		t.Errorf("alice has %d items, want 2", n)
	}
}

func TestDeleteBothWays(t *testing.T) {
	f := setUp(t)
	a, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "DeletedByClient"}})
	b, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "DeletedInCRM"}})
	f.round(t)
	_, rev0, err := f.st.Changes(ctx(t), "alice", "contacts", 0)
	if err != nil {
		t.Fatal(err)
	}
	it, _ := f.item(t, a.ID+".vcf")
	if err := f.st.Delete(ctx(t), "alice", "contacts", a.ID+".vcf", syncstate.Conditions{IfMatch: `"stale"`}); !errors.Is(err, syncstate.ErrPrecondition) {
		t.Fatalf("delete with a stale If-Match: %v", err)
	}
	if err := f.st.Delete(ctx(t), "alice", "contacts", a.ID+".vcf", syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	cur, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, b.ID)
	if err := f.env.Client.Delete(ctx(t), f.alice, crmclient.Contact, b.ID, cur.ETag); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	if _, err := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, a.ID); !errors.Is(err, crmclient.ErrNotFound) {
		t.Errorf("client delete did not reach the CRM: %v", err)
	}
	if _, err := f.st.Get(ctx(t), "alice", "contacts", b.ID+".vcf"); !errors.Is(err, syncstate.ErrNotFound) {
		t.Errorf("CRM delete did not reach the client: %v", err)
	}
	changes, _, err := f.st.Changes(ctx(t), "alice", "contacts", rev0)
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, c := range changes {
		if c.Deleted {
			deleted = append(deleted, c.Href)
		}
	}
	sort.Strings(deleted)
	want := []string{a.ID + ".vcf", b.ID + ".vcf"}
	sort.Strings(want)
	if strings.Join(deleted, " ") != strings.Join(want, " ") {
		t.Errorf("change log deletions %v, want %v", deleted, want)
	}
}

// TestRestartBetweenPutAndPush: an accepted change survives a restart and
// reaches the CRM once.
func TestRestartBetweenPutAndPush(t *testing.T) {
	f := setUp(t)
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", "x.vcf", card("UID:x", "FN:Restart Test", "N:Test;Restart;;;"), syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	f.st.Close()
	f.open(t)
	// The first answer is lost after the CRM committed: the retry finds
	// the record instead of making a second one.
	f.env.CRM.LoseNextAnswers(1)
	f.round(t)
	f.round(t)
	list, err := f.env.Client.List(ctx(t), crmclient.Contact, f.alice.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("CRM has %d contacts, %v", len(list), err)
	}
}

func TestBadInputStoresNothing(t *testing.T) {
	f := setUp(t)
	for name, body := range map[string][]byte{
		"not a vcard": []byte("hello"),
		"no UID":      card("FN:No Uid", "N:Uid;No;;;"),
		"two cards":   append(card("UID:a", "FN:A", "N:A;;;;"), card("UID:b", "FN:B", "N:B;;;;")...),
	} {
		if _, _, err := f.st.Put(ctx(t), "alice", "contacts", "bad.vcf", body, syncstate.Conditions{}); !errors.Is(err, syncstate.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, _, err := f.st.Put(ctx(t), "alice", "nosuchcollection", "a.vcf", card("UID:a", "FN:A", "N:A;;;;"), syncstate.Conditions{}); !errors.Is(err, syncstate.ErrNotFound) {
		t.Errorf("unknown collection: %v", err)
	}
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", "../x.vcf", card("UID:a", "FN:A", "N:A;;;;"), syncstate.Conditions{}); !errors.Is(err, syncstate.ErrInvalid) {
		t.Errorf("bad href: %v", err)
	}
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", "a.vcf", card("UID:same", "FN:A", "N:A;;;;"), syncstate.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", "b.vcf", card("UID:same", "FN:B", "N:B;;;;"), syncstate.Conditions{}); !errors.Is(err, syncstate.ErrConflict) {
		t.Errorf("UID used twice: %v", err)
	}
	_, rev, _ := f.st.Changes(ctx(t), "alice", "contacts", 0)
	if rev != 1 {
		t.Errorf("revision %d after one accepted PUT, want 1", rev)
	}
	f.env.CRM.RecordRequests(true)
	f.round(t)
	if w := f.crmWrites(); len(w) != 1 {
		t.Errorf("CRM writes %q, want the one create", w)
	}
}

// TestExpiredTokenFindsDeletions: when the delta token expires, a full read
// finds what the feed would have said, deletions included.
func TestExpiredTokenFindsDeletions(t *testing.T) {
	f := setUp(t)
	a, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "Gone"}})
	f.round(t)
	if err := f.env.Client.Delete(ctx(t), f.alice, crmclient.Contact, a.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.st.ForgetCursors(ctx(t)); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	if _, err := f.st.Get(ctx(t), "alice", "contacts", a.ID+".vcf"); !errors.Is(err, syncstate.ErrNotFound) {
		t.Errorf("deletion missed after a full read: %v", err)
	}
}

// TestClientLaterWins: both sides change the same column; the client's
// change is the later one and reaches the CRM.
func TestClientLaterWins(t *testing.T) {
	f := setUp(t)
	rec, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "Later", "jobtitle": "J0"}})
	f.round(t)
	cur, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, rec.ID)
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Contact, rec.ID, cur.ETag, crmclient.Columns{"jobtitle": "crm"}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	it, c := f.item(t, rec.ID+".vcf")
	c.SetValue(vcard.FieldTitle, "client")
	var b strings.Builder
	vcard.NewEncoder(&b).Encode(c)
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", it.Href, []byte(b.String()), syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	f.round(t)
	got, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, rec.ID)
	if got.Columns["jobtitle"] != "client" {
		t.Errorf("CRM jobtitle %q, want the later client value", got.Columns["jobtitle"])
	}
	if _, c := f.item(t, rec.ID+".vcf"); c.Value(vcard.FieldTitle) != "client" {
		t.Errorf("client TITLE %q", c.Value(vcard.FieldTitle))
	}
}

// TestBurstCoalesces: PUTs within the push delay become one CRM write,
// sent by the background loop.
func TestBurstCoalesces(t *testing.T) {
	f := setUp(t)
	// The push delay runs from an item's last change: a second leaves room
	// for slow durable PUTs on a loaded machine.
	f.sync = syncstate.NewSyncer(f.st, f.env.Client, syncstate.SyncOptions{PushDelay: time.Second, PollInterval: time.Hour})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.sync.Run(runCtx) }()
	defer func() { stop(); <-done }()
	time.Sleep(200 * time.Millisecond) // the first poll
	f.env.CRM.RecordRequests(true)
	etag := ""
	for i, title := range []string{"one", "two", "three"} {
		cond := syncstate.Conditions{IfMatch: etag}
		if i == 0 {
			cond = syncstate.Conditions{IfNoneMatch: "*"}
		}
		var err error
		etag, _, err = f.st.Put(ctx(t), "alice", "contacts", "burst.vcf", card("UID:burst", "FN:Burst Test", "N:Test;Burst;;;", "TITLE:"+title), cond)
		if err != nil {
			t.Fatal(err)
		}
		f.sync.Kick()
		time.Sleep(50 * time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(f.crmWrites()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	w := f.crmWrites()
	if len(w) != 1 || !strings.HasPrefix(w[0], "POST ") || !strings.Contains(w[0], `"jobtitle":"three"`) {
		t.Errorf("CRM writes %q, want one create with the last title", w)
	}
}

// TestRejectedChange: a change the CRM refuses for good (a job title longer
// than the column holds) is recorded and visible, is not retried, and the
// item is brought back in line with the CRM (invariant 6).
func TestRejectedChange(t *testing.T) {
	f := setUp(t)
	rec, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "Reject", "jobtitle": "Short"}})
	f.round(t)
	it, c := f.item(t, rec.ID+".vcf")
	c.SetValue(vcard.FieldTitle, strings.Repeat("Very long title ", 10))
	var b strings.Builder
	vcard.NewEncoder(&b).Encode(c)
	if _, _, err := f.st.Put(ctx(t), "alice", "contacts", it.Href, []byte(b.String()), syncstate.Conditions{IfMatch: it.ETag}); err != nil {
		t.Fatal(err)
	}
	if err := f.sync.Round(ctx(t)); err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Errorf("round with a refused change: %v", err)
	}
	st, err := f.st.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 0 || len(st.Rejected) != 1 || st.Rejected[0].Href != it.Href || !strings.Contains(st.Rejected[0].Error, "0x80044331") {
		t.Errorf("status %+v", st)
	}
	if _, c := f.item(t, it.Href); c.Value(vcard.FieldTitle) != "Short" {
		t.Errorf("item not restored to the CRM's value: TITLE %q", c.Value(vcard.FieldTitle))
	}
	got, _ := f.env.Client.Get(ctx(t), f.alice, crmclient.Contact, rec.ID)
	if got.Columns["jobtitle"] != "Short" {
		t.Errorf("CRM jobtitle %q", got.Columns["jobtitle"])
	}
	f.env.CRM.RecordRequests(true)
	f.round(t)
	if w := f.crmWrites(); len(w) != 0 {
		t.Errorf("a rejected change was retried: %q", w)
	}
}

// forgetfulFeed loses what a change feed says, as a feed can miss things.
type forgetfulFeed struct{ syncstate.CRM }

func (f forgetfulFeed) Changes(ctx context.Context, k crmclient.Kind, token string) (crmclient.ChangeSet, error) {
	cs, err := f.CRM.Changes(ctx, k, token)
	if token != "" {
		cs.Changed, cs.Deleted = nil, nil
	}
	return cs, err
}

// TestReconcileFindsWhatTheFeedMissed: a deletion and an update the feed
// never reported are found by the periodic reconcile.
func TestReconcileFindsWhatTheFeedMissed(t *testing.T) {
	f := setUp(t)
	gone, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "Gone"}})
	changed, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "Changed", "jobtitle": "old"}})
	f.round(t)
	f.sync = syncstate.NewSyncer(f.st, forgetfulFeed{f.env.Client}, syncstate.SyncOptions{PushDelay: time.Hour})
	if err := f.env.Client.Delete(ctx(t), f.alice, crmclient.Contact, gone.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.Client.Update(ctx(t), f.alice, crmclient.Contact, changed.ID, changed.ETag, crmclient.Columns{"jobtitle": "new"}, nil); err != nil {
		t.Fatal(err)
	}
	added, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Contact, ID: uuid.NewString(), Columns: crmclient.Columns{"lastname": "Added"}})
	f.round(t)
	if _, err := f.st.Get(ctx(t), "alice", "contacts", gone.ID+".vcf"); err != nil {
		t.Fatalf("the forgetful feed already reported the deletion: %v", err)
	}
	f.env.CRM.RecordRequests(true)
	if err := f.sync.Reconcile(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Get(ctx(t), "alice", "contacts", gone.ID+".vcf"); !errors.Is(err, syncstate.ErrNotFound) {
		t.Errorf("deleted record still served after reconcile: %v", err)
	}
	if _, c := f.item(t, changed.ID+".vcf"); c.Value(vcard.FieldTitle) != "new" {
		t.Errorf("missed update: TITLE %q", c.Value(vcard.FieldTitle))
	}
	if _, err := f.st.Get(ctx(t), "alice", "contacts", added.ID+".vcf"); err != nil {
		t.Errorf("missed create: %v", err)
	}
	gets := 0
	for _, r := range f.env.CRM.Requests() {
		if r.Method == http.MethodGet && strings.Contains(r.URI, "contacts(") {
			gets++
		}
	}
	if gets != 2 {
		t.Errorf("reconcile read %d records, want 2 (the changed and the added; unchanged ones cost nothing)", gets)
	}
}

// brokenFeed fails the change feed of one kind.
type brokenFeed struct {
	syncstate.CRM
	kind crmclient.Kind
}

func (b brokenFeed) Changes(ctx context.Context, k crmclient.Kind, token string) (crmclient.ChangeSet, error) {
	if k == b.kind {
		return crmclient.ChangeSet{}, &crmclient.Error{Op: "changes", Kind: k, Status: 400, Err: crmclient.ErrRejected, Message: "change tracking is not enabled"}
	}
	return b.CRM.Changes(ctx, k, token)
}

// TestOneBrokenFeedDoesNotStopTheOthers: a kind whose feed fails is
// reported, and the other kinds are still read.
func TestOneBrokenFeedDoesNotStopTheOthers(t *testing.T) {
	f := setUp(t)
	f.sync = syncstate.NewSyncer(f.st, brokenFeed{f.env.Client, crmclient.Contact}, syncstate.SyncOptions{PushDelay: time.Hour})
	task, _ := f.env.Client.Create(ctx(t), f.alice, crmclient.Record{Kind: crmclient.Task, ID: uuid.NewString(), Columns: crmclient.Columns{"subject": "Still read"}})
	err := f.sync.Poll(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "poll contact") {
		t.Errorf("poll error %v, want the contact feed named", err)
	}
	if _, err := f.st.Get(ctx(t), "alice", "tasks", task.ID+".ics"); err != nil {
		t.Errorf("the task feed was not read: %v", err)
	}
}
