package mapping

import (
	"encoding/base64"
	"testing"

	"github.com/emersion/go-vcard"
)

// typicalCard is a contact as phones send it: names, two e-mails, three
// phones, an address, a 6 kB photo and a few X- properties.
func typicalCard(tb testing.TB) vcard.Card {
	photo := make([]byte, 6<<10)
	for i := range photo {
		photo[i] = byte(i * 131)
	}
	card := ContactCard(fullContact(), nil, "bench")
	card.Add(vcard.FieldPhoto, &vcard.Field{
		Value:  base64.StdEncoding.EncodeToString(photo),
		Params: vcard.Params{"ENCODING": {"b"}, vcard.ParamType: {"JPEG"}},
	})
	card.AddValue("X-ABSHOWAS", "INDIVIDUAL")
	card.AddValue("X-PHONETIC-FIRST-NAME", "Än")
	card.Add("X-ABLABEL", &vcard.Field{Value: "_$!<Other>!$_", Group: "item1"})
	card.AddValue(vcard.FieldCategories, "Customers,VIP")
	return decode(tb, encodeLF(tb, card))
}

func encodeLF(tb testing.TB, card vcard.Card) string {
	s := encode(tb, card)
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\r' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

func BenchmarkCardColumns(b *testing.B) {
	card := typicalCard(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CardColumns(card); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkContactCard(b *testing.B) {
	card := typicalCard(b)
	cols := mustColumns(b, card)
	cols["jobtitle"] = "Chief Tea Officer"
	cols["telephone1"] = "+1 555 0199"
	b.ReportAllocs()
	for b.Loop() {
		ContactCard(cols, card, "bench")
	}
}
