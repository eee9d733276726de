package mapping

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-vcard"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// corpusDir holds real-world vCards shared by the team; the tests read them
// there and never copy them into the repository.
const corpusDir = "../../shared/corpus/vcard"

func decode(tb testing.TB, s string) vcard.Card {
	tb.Helper()
	s = strings.ReplaceAll(s, "\n", "\r\n")
	card, err := vcard.NewDecoder(strings.NewReader(s)).Decode()
	if err != nil {
		tb.Fatalf("decode: %v\n%s", err, s)
	}
	return card
}

func encode(tb testing.TB, card vcard.Card) string {
	tb.Helper()
	var b bytes.Buffer
	if err := vcard.NewEncoder(&b).Encode(card); err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return b.String()
}

// corpus returns the real-world cards by file name; it skips the test when the
// shared corpus is not there.
func corpus(tb testing.TB) map[string]vcard.Card {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.vcf"))
	if err != nil || len(files) == 0 {
		if os.Getenv("CI") != "" {
			tb.Fatalf("no vCard corpus at %s under CI (it lives in ../shared/corpus beside the checkout): %v", corpusDir, err)
		}
		tb.Skipf("no vCard corpus at %s (it lives outside the repository): %v", corpusDir, err)
	}
	out := map[string]vcard.Card{}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(name)] = decode(tb, strings.ReplaceAll(string(b), "\r\n", "\n"))
	}
	return out
}

// lines renders the fields of key in a form that compares by meaning: group and
// parameter names in upper case, TYPE values split, lower-cased and sorted,
// parameters sorted; values exactly.
func lines(card vcard.Card, key string) []string {
	var out []string
	for _, f := range card[key] {
		var params []string
		for k, vs := range f.Params {
			k = strings.ToUpper(k)
			var vals []string
			for _, v := range vs {
				if k == vcard.ParamType {
					for _, t := range strings.Split(v, ",") {
						vals = append(vals, strings.ToLower(strings.TrimSpace(t)))
					}
				} else {
					vals = append(vals, v)
				}
			}
			sort.Strings(vals)
			params = append(params, k+"="+strings.Join(vals, ","))
		}
		sort.Strings(params)
		out = append(out, fmt.Sprintf("%s.%s;%s:%q", strings.ToUpper(f.Group), key, strings.Join(params, ";"), f.Value))
	}
	return out
}

func keys(cards ...vcard.Card) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cards {
		for k := range c {
			if !seen[k] && len(c[k]) > 0 {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// diffCards lists, per property, the fields only in a and only in b.
func diffCards(a, b vcard.Card) map[string][2][]string {
	out := map[string][2][]string{}
	for _, k := range keys(a, b) {
		onlyA, onlyB := multisetDiff(lines(a, k), lines(b, k))
		if len(onlyA)+len(onlyB) > 0 {
			out[k] = [2][]string{onlyA, onlyB}
		}
	}
	return out
}

func multisetDiff(a, b []string) (onlyA, onlyB []string) {
	n := map[string]int{}
	for _, s := range b {
		n[s]++
	}
	for _, s := range a {
		if n[s] > 0 {
			n[s]--
		} else {
			onlyA = append(onlyA, s)
		}
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		if m[s] > 0 {
			m[s]--
		} else {
			onlyB = append(onlyB, s)
		}
	}
	return onlyA, onlyB
}

// sameCard fails unless a and b hold the same properties, in the same order
// within each property.
func sameCard(tb testing.TB, a, b vcard.Card) {
	tb.Helper()
	for _, k := range keys(a, b) {
		la, lb := lines(a, k), lines(b, k)
		if strings.Join(la, "\n") != strings.Join(lb, "\n") {
			tb.Errorf("%s differs:\n got %q\nwant %q", k, lb, la)
		}
	}
}

func sameColumns(tb testing.TB, what string, got, want crmclient.Columns) {
	tb.Helper()
	for _, k := range ContactColumns {
		if got[k] != want[k] {
			tb.Errorf("%s: %s = %q, want %q", what, k, got[k], want[k])
		}
	}
	if len(got) != len(ContactColumns) {
		tb.Errorf("%s: %d columns, want %d", what, len(got), len(ContactColumns))
	}
}

// mustColumns is CardColumns that fails the test on error.
func mustColumns(tb testing.TB, card vcard.Card) crmclient.Columns {
	tb.Helper()
	cols, err := CardColumns(card)
	if err != nil {
		tb.Fatalf("CardColumns: %v", err)
	}
	return cols
}

// changedValue is a new value for column k that differs from old, with the
// characters vCard escapes.
func changedValue(k, old string) string {
	switch k {
	case "birthdate", "anniversary":
		if old == "1999-12-31" {
			return "1999-12-30"
		}
		return "1999-12-31"
	}
	if old == "" {
		return "Neu; Wert, ü"
	}
	return old + " (geändert)"
}

// properties lists the properties column k may change.
func properties(k string) []string {
	switch {
	case contains(nameCols, k):
		return []string{vcard.FieldName, vcard.FieldFormattedName}
	case contains(emailCols, k):
		return []string{vcard.FieldEmail}
	case contains(telCols, k):
		return []string{vcard.FieldTelephone}
	case contains(adrCols[0], k), contains(adrCols[1], k):
		return []string{vcard.FieldAddress}
	case k == "department":
		return []string{vcard.FieldOrganization}
	case k == "birthdate":
		return []string{vcard.FieldBirthday}
	case k == "anniversary":
		return []string{vcard.FieldAnniversary, "X-ANNIVERSARY"}
	}
	for i, c := range singleCols {
		if c == k {
			return []string{singleKeys[i]}
		}
	}
	panic("no properties for " + k)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkGolden compares got with testdata/name, or writes it there with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}
