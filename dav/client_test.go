package dav

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/carddav"
)

// TestGoWebdavClient drives dav with go-webdav's CardDAV client, a real
// client library, from the well-known URI to reading cards back.
func TestGoWebdavClient(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := t.Context()
	hc := webdav.HTTPClientWithBasicAuth(f.srv.Client(), "alice", "pw")

	wc, err := webdav.NewClient(hc, f.srv.URL+"/.well-known/carddav")
	if err != nil {
		t.Fatal(err)
	}
	principal, err := wc.FindCurrentUserPrincipal(ctx)
	if err != nil || principal != "/dav/principals/alice/" {
		t.Fatalf("principal %q: %v", principal, err)
	}
	cc, err := carddav.NewClient(hc, f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	home, err := cc.FindAddressBookHomeSet(ctx, principal)
	if err != nil || home != "/dav/alice/" {
		t.Fatalf("home %q: %v", home, err)
	}
	books, err := cc.FindAddressBooks(ctx, home)
	if err != nil || len(books) != 1 || books[0].Path != "/dav/alice/contacts/" || books[0].Name != "alice's contacts" {
		t.Fatalf("address books %+v: %v", books, err)
	}
	if !books[0].SupportsAddressData(vcard.MIMEType, "4.0") || books[0].MaxResourceSize != DefaultMaxBodySize {
		t.Fatalf("address book %+v", books[0])
	}
	book := books[0].Path

	c := make(vcard.Card)
	c.SetValue(vcard.FieldVersion, "4.0")
	c.SetValue(vcard.FieldUID, "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1")
	c.SetValue(vcard.FieldFormattedName, "Ann Smith")
	c.SetValue("X-CRMDAV-TEST", "kept")
	put, err := cc.PutAddressObject(ctx, book+"ann.vcf", c)
	if err != nil || put.ETag == "" {
		t.Fatalf("put %+v: %v", put, err)
	}
	c2 := make(vcard.Card)
	c2.SetValue(vcard.FieldVersion, "3.0")
	c2.SetValue(vcard.FieldUID, "bob")
	c2.SetValue(vcard.FieldFormattedName, "Bob Jones")
	if _, err := cc.PutAddressObject(ctx, book+"bob.vcf", c2); err != nil {
		t.Fatal(err)
	}

	got, err := cc.MultiGetAddressBook(ctx, book, &carddav.AddressBookMultiGet{
		Paths:       []string{book + "ann.vcf", book + "bob.vcf"},
		DataRequest: carddav.AddressDataRequest{AllProp: true},
	})
	if err != nil || len(got) != 2 {
		t.Fatalf("multiget %+v: %v", got, err)
	}
	if got[0].ETag != put.ETag || got[0].Card.Value("X-CRMDAV-TEST") != "kept" {
		t.Fatalf("multiget ann %+v, PUT ETag %q", got[0], put.ETag)
	}

	found, err := cc.QueryAddressBook(ctx, book, &carddav.AddressBookQuery{
		DataRequest: carddav.AddressDataRequest{AllProp: true},
		PropFilters: []carddav.PropFilter{{Name: vcard.FieldFormattedName, TextMatches: []carddav.TextMatch{{Text: "ann"}}}},
	})
	if err != nil || len(found) != 1 || found[0].Path != book+"ann.vcf" {
		t.Fatalf("query %+v: %v", found, err)
	}
	all, err := cc.QueryAddressBook(ctx, book, &carddav.AddressBookQuery{DataRequest: carddav.AddressDataRequest{AllProp: true}})
	if err != nil || len(all) != 2 {
		t.Fatalf("query, empty filter %+v: %v", all, err)
	}

	ao, err := cc.GetAddressObject(ctx, book+"ann.vcf")
	if err != nil || ao.ETag != put.ETag || ao.Card.Value(vcard.FieldUID) != c.Value(vcard.FieldUID) {
		t.Fatalf("get %+v: %v", ao, err)
	}
	// The bytes served are the bytes the client sent.
	var sent bytes.Buffer
	vcard.NewEncoder(&sent).Encode(c)
	if a := f.do("alice", http.MethodGet, book+"ann.vcf", ""); a.body != sent.String() {
		t.Fatalf("GET body %q, sent %q", a.body, sent.String())
	}
}
