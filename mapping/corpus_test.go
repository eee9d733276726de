package mapping

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"
)

// Every real-world card comes back property by property when its columns did
// not change (design invariant 4), and a changed column changes only the
// property it maps to.
func TestCorpusRoundTrip(t *testing.T) {
	cards := corpus(t)
	names := make([]string, 0, len(cards))
	for n := range cards {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		card := cards[name]
		t.Run(name, func(t *testing.T) {
			cols, err := CardColumns(card)
			if errors.Is(err, ErrNotContact) {
				t.Skipf("not a contact: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			out := ContactCard(cols, card, "crm-id")
			sameCard(t, card, out)
			sameColumns(t, "round trip", mustColumns(t, out), cols)
			// Idempotence: a second pass changes nothing either.
			sameCard(t, out, ContactCard(mustColumns(t, out), out, "crm-id"))

			for _, k := range ContactColumns {
				for _, v := range []string{changedValue(k, cols[k]), ""} {
					if v == cols[k] {
						continue
					}
					changed := cols.Clone()
					changed[k] = v
					out := ContactCard(changed, card, "crm-id")
					sameColumns(t, k+"="+v, mustColumns(t, out), changed)
					checkOnly(t, k, card, out)
				}
			}
		})
	}
}

// checkOnly fails unless out differs from card only in the properties of
// column k, and there in at most one field (plus empty place holders).
func checkOnly(t *testing.T, k string, card, out vcard.Card) {
	t.Helper()
	allowed := properties(k)
	for prop, d := range diffCards(card, out) {
		if !contains(allowed, prop) {
			t.Errorf("%s changed %s: removed %q, added %q", k, prop, d[0], d[1])
			continue
		}
		added := 0
		for _, l := range d[1] {
			if !strings.HasSuffix(l, `:""`) {
				added++
			}
		}
		if (len(d[0]) > 1 && !sameAltID(d[0])) || added > 1 {
			t.Errorf("%s changed more than one %s: removed %q, added %q", k, prop, d[0], d[1])
		}
	}
}

// The cards go through go-vcard's encoder and decoder unchanged in meaning,
// so what the gateway stores reads back as the same columns.
func TestCorpusWire(t *testing.T) {
	for name, card := range corpus(t) {
		cols, err := CardColumns(card)
		if err != nil {
			continue
		}
		var b bytes.Buffer
		if err := vcard.NewEncoder(&b).Encode(ContactCard(cols, card, "id")); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, err := vcard.NewDecoder(&b).Decode()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameColumns(t, name, mustColumns(t, again), cols)
	}
}

func FuzzCardColumns(f *testing.F) {
	for _, in := range cardInputs {
		f.Add([]byte(strings.ReplaceAll(in.text, "\n", "\r\n")))
	}
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.vcf"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		card, err := vcard.NewDecoder(bytes.NewReader(data)).Decode()
		if card == nil {
			return
		}
		_ = err // a card cut short still reaches the mapping
		cols, err := CardColumns(card)
		out := ContactCard(cols, card, "uid")
		ContactCard(cols, nil, "uid")
		if err != nil {
			return
		}
		if got := extract(out); differ(got, cols, ContactColumns) {
			t.Fatalf("round trip changed columns:\n got %q\nwant %q", got, cols)
		}
		// One column, chosen by the input, changed and then cleared.
		k := ContactColumns[len(data)%len(ContactColumns)]
		for _, v := range []string{changedValue(k, cols[k]), ""} {
			changed := cols.Clone()
			changed[k] = v
			if got := extract(ContactCard(changed, card, "uid")); differ(got, changed, ContactColumns) {
				t.Fatalf("%s=%q:\n got %q\nwant %q", k, v, got, changed)
			}
		}
	})
}

// sameAltID reports whether the fields are representations of one value
// (RFC 6350 §5.4), which are removed together.
func sameAltID(lines []string) bool {
	re := regexp.MustCompile(`;ALTID=([^;:]*)`)
	first := re.FindStringSubmatch(lines[0])
	if first == nil {
		return false
	}
	for _, l := range lines[1:] {
		if m := re.FindStringSubmatch(l); m == nil || m[1] != first[1] {
			return false
		}
	}
	return true
}
