package dav

import (
	"net/url"
	"testing"
)

var hrefSeeds = []string{
	"/dav/alice/contacts/a.vcf",
	"/dav/alice/contacts/0f3a-11ef-9a3b.vcf",
	"/",
	"/dav/alice/contacts/",
	"/dav/alice/contacts/a%20b.vcf",
	"/dav/alice/contacts/%zz",
	"/dav/alice/contacts/a.vcf?x=1",
	"/dav/alice/contacts/a.vcf?",
	"/dav/alice/contacts/a.vcf#f",
	"/dav/alice/contacts/a b.vcf",
	"/dav/alice/contacts/a\\b.vcf",
	"/dav/alice/contacts/a\x7f.vcf",
	"/dav/alice/contacts/a\x00.vcf",
	"/dav/alice/contacts/é.vcf",
	"/dav/alice/contacts/a+b;c=d:e@f!$&'()*,.vcf",
	"//host/dav/alice/contacts/a.vcf",
	"///dav/alice/contacts/a.vcf",
	"http://host/dav/alice/contacts/a.vcf",
	"https://host:8443/dav/alice/contacts/a%40b.vcf",
	"HTTP://host/dav/alice/contacts/a.vcf",
	"dav/alice/contacts/a.vcf",
	"a:b/c",
	":bad",
	"%zz",
	"",
	"*",
	"/./dav/../x",
}

// TestHrefPathOf: the plain-path shortcut gives what url.Parse gives.
func TestHrefPathOf(t *testing.T) {
	for _, raw := range hrefSeeds {
		checkHref(t, raw)
	}
	if !plainHref("/dav/alice/contacts/a.vcf") {
		t.Error("a plain href is not taken as it is")
	}
}

func checkHref(t *testing.T, raw string) {
	t.Helper()
	got, err := hrefPathOf(raw)
	u, werr := url.Parse(raw)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: error %v, url.Parse's %v", raw, err, werr)
	}
	if err == nil && got != u.Path {
		t.Fatalf("%q: path %q, url.Parse's %q", raw, got, u.Path)
	}
}

func FuzzHrefPathOf(f *testing.F) {
	for _, s := range hrefSeeds {
		f.Add(s)
	}
	f.Fuzz(checkHref)
}
