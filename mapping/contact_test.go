package mapping

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/emersion/go-vcard"
)

// cardInputs are vCards, written as clients write them, whose columns are
// pinned in testdata/columns/<name>.json.
var cardInputs = []struct{ name, text string }{
	{"v3-basic", `BEGIN:VCARD
VERSION:3.0
UID:basic
FN:Ann Smith
N:Smith;Ann;Marie;Dr.;PhD
NICKNAME:Annie
TITLE:Head of Sales
ORG:Acme\, Inc.;Sales;EMEA
NOTE:Line one\nLine two\, with comma\; and semicolon
URL:https://acme.example/ann
EMAIL;TYPE=INTERNET;TYPE=WORK:ann@acme.example
EMAIL;TYPE=INTERNET;TYPE=HOME:ann@home.example
TEL;TYPE=WORK,VOICE:+1 555 0100
TEL;TYPE=HOME:+1 555 0101
TEL;TYPE=CELL:+1 555 0102
TEL;TYPE=WORK;TYPE=FAX:+1 555 0103
TEL;TYPE=PAGER:+1 555 0104
TEL:+1 555 0105
ADR;TYPE=WORK:PO 7;Suite 100;1 Main St;Springfield;IL;62701;USA
ADR;TYPE=HOME:;;2 Elm St\nBack house;Shelbyville;IL;62565;USA
BDAY:1980-05-01
X-ANNIVERSARY:2005-06-18
END:VCARD`},
	{"v3-pref-order", `BEGIN:VCARD
VERSION:3.0
UID:pref
FN:Pref Order
N:Order;Pref;;;
EMAIL;TYPE=INTERNET:first@example.com
EMAIL;TYPE=INTERNET:second@example.com
EMAIL;TYPE=INTERNET;TYPE=pref:preferred@example.com
EMAIL;TYPE=INTERNET:fourth@example.com
TEL;TYPE=work:+1 1
TEL;TYPE=work;TYPE=pref:+1 2
item1.URL:https://one.example
item2.URL;TYPE=pref:https://two.example
END:VCARD`},
	{"v3-adr-three-lines", `BEGIN:VCARD
VERSION:3.0
UID:adr
FN:Three Lines
N:Lines;Three;;;
ADR;TYPE=work:;Apt 4;Building A\nFloor 2\nWing C\nDoor 9;Town;;1234;Land
ADR:;;Only street;Else;;;
END:VCARD`},
	{"v3-bday-forms", `BEGIN:VCARD
VERSION:3.0
UID:bday
FN:Bday Forms
N:Forms;Bday;;;
BDAY:19800501
ANNIVERSARY:1999-12-31T00:00:00Z
END:VCARD`},
	{"v3-bday-noyear", `BEGIN:VCARD
VERSION:3.0
UID:noyear
FN:No Year
N:Year;No;;;
BDAY:--0501
END:VCARD`},
	{"v4-forms", `BEGIN:VCARD
VERSION:4.0
UID:urn:uuid:4a3b
FN:Vier Punkt Null
N:Null;Vier;Punkt;;
TEL;VALUE=uri;TYPE="work,voice";PREF=1:tel:+49-30-1234567
TEL;VALUE=uri;TYPE=cell:tel:+49-170-7654321
TEL;TYPE=home:+49 30 7654321
EMAIL;TYPE=work:vier@example.de
EMAIL;PREF=1:bevorzugt@example.de
ADR;TYPE=home:;;Hauptstraße 1;Berlin;;10115;Deutschland
BDAY:19850415
ANNIVERSARY:20100612
ORG:Beispiel GmbH;Entwicklung
END:VCARD`},
	{"v4-no-name", `BEGIN:VCARD
VERSION:4.0
UID:noname
FN:Just a display name
BDAY;VALUE=text:circa 1800
END:VCARD`},
}

// crmInputs are CRM contacts whose vCard 3.0 rendering is pinned in
// testdata/cards/<name>.vcf.
var crmInputs = []struct {
	name string
	cols crmclient.Columns
}{
	{"minimal", crmclient.Columns{"firstname": "Max", "lastname": "Muster"}},
	{"fullname", crmclient.Columns{"firstname": "Max", "lastname": "Muster", "salutation": "Herr", FullName: "Herr Max Muster"}},
	{"full", fullContact()},
	{"unicode-escapes", crmclient.Columns{
		"firstname": "Zoë", "lastname": "Åström; Sr", "middlename": "Jörg, Jr",
		"description":   "Line 1\nLine 2, with comma; and semicolon\\ and a backslash",
		"jobtitle":      "R&D, Müller; Co",
		"department":    "Forschung; Entwicklung",
		"websiteurl":    "https://例え.jp/パス",
		"emailaddress1": "zoë@example.com",
	}},
	{"no-name", crmclient.Columns{"emailaddress1": "only@example.com"}},
	{"email-gap", crmclient.Columns{"lastname": "Gap", "emailaddress1": "", "emailaddress2": "", "emailaddress3": "third@example.com"}},
}

func fullContact() crmclient.Columns {
	return crmclient.Columns{
		"firstname": "Ann", "lastname": "Smith", "middlename": "Marie", "salutation": "Dr.", "suffix": "PhD",
		"nickname": "Annie", "jobtitle": "Head of Sales", "department": "Sales",
		"description":   "Met at the fair.\nLikes tea.",
		"websiteurl":    "https://acme.example/ann",
		"emailaddress1": "ann@acme.example", "emailaddress2": "ann@home.example", "emailaddress3": "ann@other.example",
		"telephone1": "+1 555 0100", "telephone2": "+1 555 0101", "telephone3": "+1 555 0105",
		"mobilephone": "+1 555 0102", "fax": "+1 555 0103", "pager": "+1 555 0104",
		"address1_postofficebox": "PO 7", "address1_line1": "1 Main St", "address1_line2": "Suite 100",
		"address1_line3": "", "address1_city": "Springfield", "address1_stateorprovince": "IL",
		"address1_postalcode": "62701", "address1_country": "USA",
		"address2_line1": "2 Elm St", "address2_line2": "", "address2_line3": "Back house",
		"address2_city": "Shelbyville", "address2_stateorprovince": "IL", "address2_postalcode": "62565",
		"address2_country": "USA",
		"birthdate":        "1980-05-01", "anniversary": "2005-06-18",
	}
}

func TestColumnsGolden(t *testing.T) {
	for _, in := range cardInputs {
		t.Run(in.name, func(t *testing.T) {
			cols := mustColumns(t, decode(t, in.text))
			b, err := json.MarshalIndent(cols, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "columns/"+in.name+".json", string(b)+"\n")
		})
	}
}

func TestCardGolden(t *testing.T) {
	for _, in := range crmInputs {
		t.Run(in.name, func(t *testing.T) {
			card := ContactCard(in.cols, nil, "0f8fad5b-d9cb-469f-a165-70867728950e")
			text := strings.ReplaceAll(encode(t, card), "\r\n", "\n")
			checkGolden(t, "cards/"+in.name+".vcf", text)
		})
	}
}

// restrict returns the mapped columns of c, "" for those not given.
func restrict(c crmclient.Columns) crmclient.Columns {
	out := crmclient.Columns{}
	for _, k := range ContactColumns {
		out[k] = c[k]
	}
	return out
}

// A CRM-born contact reads back as the columns it was made from, in memory
// and through go-vcard's encoder and decoder.
func TestCRMBornRoundTrip(t *testing.T) {
	for _, in := range crmInputs {
		t.Run(in.name, func(t *testing.T) {
			want := restrict(in.cols)
			card := ContactCard(in.cols, nil, "id-1")
			if v := card.Value(vcard.FieldVersion); v != "3.0" {
				t.Errorf("VERSION %q, want 3.0", v)
			}
			if v := card.Value(vcard.FieldUID); v != "id-1" {
				t.Errorf("UID %q, want the CRM id", v)
			}
			if card.Get(vcard.FieldFormattedName) == nil || card.Get(vcard.FieldName) == nil {
				t.Errorf("a 3.0 card needs FN and N:\n%s", encode(t, card))
			}
			sameColumns(t, "in memory", mustColumns(t, card), want)
			wire := decode(t, strings.ReplaceAll(encode(t, card), "\r\n", "\n"))
			sameColumns(t, "through the wire", mustColumns(t, wire), want)
		})
	}
}

func TestFormattedName(t *testing.T) {
	base := decode(t, `BEGIN:VCARD
VERSION:3.0
UID:fn
FN:Chairman Wesker
N:Wesker;Albert;;Dr.;
END:VCARD`)
	cols := mustColumns(t, base)

	// Names unchanged: the client's FN stays, whatever the CRM computed.
	cols[FullName] = "Dr. Albert Wesker"
	if got := ContactCard(cols, base, "x").Value(vcard.FieldFormattedName); got != "Chairman Wesker" {
		t.Errorf("FN = %q, want the client's", got)
	}
	// Names changed: FN is derived from them, not from a stale fullname.
	cols["firstname"] = "Alfred"
	if got := ContactCard(cols, base, "x").Value(vcard.FieldFormattedName); got != "Alfred Wesker" {
		t.Errorf("FN = %q, want Alfred Wesker", got)
	}
	// A new card takes fullname when the CRM gave it.
	if got := ContactCard(crmclient.Columns{"firstname": "A", "lastname": "B", FullName: "B, A"}, nil, "x").Value(vcard.FieldFormattedName); got != "B, A" {
		t.Errorf("FN = %q, want fullname", got)
	}
	if got := ContactCard(crmclient.Columns{"firstname": " A ", "lastname": "B"}, nil, "x").Value(vcard.FieldFormattedName); got != "A B" {
		t.Errorf("FN = %q, want A B", got)
	}
}

func TestCardColumnsErrors(t *testing.T) {
	for _, tc := range []struct {
		text string
		err  error
	}{
		{"BEGIN:VCARD\nVERSION:2.1\nFN:x\nEND:VCARD", ErrVersion},
		{"BEGIN:VCARD\nFN:x\nEND:VCARD", ErrVersion},
		{"BEGIN:VCARD\nVERSION:4.0\nKIND:group\nFN:x\nEND:VCARD", ErrNotContact},
		{"BEGIN:VCARD\nVERSION:3.0\nX-ADDRESSBOOKSERVER-KIND:group\nFN:x\nEND:VCARD", ErrNotContact},
	} {
		if _, err := CardColumns(decode(t, tc.text)); !errors.Is(err, tc.err) {
			t.Errorf("%q: err %v, want %v", tc.text, err, tc.err)
		}
	}
}

// Table of single mappings that the golden files show less directly.
func TestColumnValues(t *testing.T) {
	for _, tc := range []struct {
		name, props string // props go between VERSION and END
		col, want   string
	}{
		{"tel uri", "TEL;VALUE=uri;TYPE=cell:tel:+1-555-123-4567", "mobilephone", "+1-555-123-4567"},
		{"tel uri param without scheme", "TEL;TYPE=cell;VALUE=URI:67545678", "mobilephone", "67545678"},
		{"tel type case", "TEL;TYPE=Cell:1", "mobilephone", "1"},
		{"tel type list", `TEL;TYPE="WORK,VOICE":1`, "telephone1", "1"},
		{"tel home fax is fax", "TEL;TYPE=home,fax:1", "fax", "1"},
		{"tel home fax not home", "TEL;TYPE=home,fax:1", "telephone2", ""},
		{"tel untyped is other", "TEL:1", "telephone3", "1"},
		{"tel main is other", "TEL;TYPE=MAIN:1", "telephone3", "1"},
		{"tel pref wins", "TEL;TYPE=home:1\nTEL;TYPE=home;PREF=1:2", "telephone2", "2"},
		{"bday extended", "BDAY:1980-05-01", "birthdate", "1980-05-01"},
		{"bday basic", "BDAY:19800501", "birthdate", "1980-05-01"},
		{"bday date-time", "BDAY:1980-05-01T00:00:00Z", "birthdate", "1980-05-01"},
		{"bday no year", "BDAY:--0501", "birthdate", ""},
		{"bday text", "BDAY;VALUE=text:circa 1800", "birthdate", ""},
		{"bday invalid", "BDAY:1980-02-30", "birthdate", ""},
		{"adr ext to line 2", "ADR;TYPE=work:;Suite 5;1 Main;;;;", "address1_line2", "Suite 5"},
		{"adr ext to line 3", "ADR;TYPE=work:;Suite 5;1 Main\\n2nd;;;;", "address1_line3", "Suite 5"},
		{"adr ext no room", "ADR;TYPE=work:;Suite 5;a\\nb\\nc;;;;", "address1_line3", "c"},
		{"adr rest in line 3", "ADR;TYPE=work:;;a\\nb\\nc\\nd;;;;", "address1_line3", "c\nd"},
		{"adr home only is not address 1", "ADR;TYPE=home:;;Home 1;;;;", "address1_line1", ""},
		{"adr home only is address 2", "ADR;TYPE=home:;;Home 1;;;;", "address2_line1", "Home 1"},
		{"adr untyped is address 1", "ADR:;;Somewhere;;;;", "address1_line1", "Somewhere"},
		{"adr escaped semicolon", `ADR;TYPE=work:;;a\;b;c;;;`, "address1_city", "c"},
		{"org unit", `ORG:Acme\, Inc.;Sales`, "department", "Sales"},
		{"org name alone", `ORG:Acme`, "department", ""},
		{"url escaped colon", `URL:http\://example.com`, "websiteurl", "http://example.com"},
		{"n escaped semicolon", `N:Doe\;Smith;John;;;`, "lastname", "Doe;Smith"},
		{"note \\N", `NOTE:a\Nb`, "description", "a\nb"},
		{"anniversary 3.0 x-", "X-ANNIVERSARY:2009-07-03", "anniversary", "2009-07-03"},
		{"anniversary 3.0 fallback", "ANNIVERSARY:2009-07-03", "anniversary", "2009-07-03"},
		{"email pref param", "EMAIL:a@x\nEMAIL;PREF=1:b@x", "emailaddress1", "b@x"},
		{"email fourth stays", "EMAIL:a\nEMAIL:b\nEMAIL:c\nEMAIL:d", "emailaddress3", "c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []string{"3.0", "4.0"} {
				card := decode(t, "BEGIN:VCARD\nVERSION:"+v+"\nUID:u\nFN:f\n"+tc.props+"\nEND:VCARD")
				if got := mustColumns(t, card)[tc.col]; got != tc.want {
					t.Errorf("%s: %s = %q, want %q", v, tc.col, got, tc.want)
				}
			}
		})
	}
}

// A 4.0 card stays 4.0 in the forms it writes; a 3.0 card stays 3.0.
func TestVersionForms(t *testing.T) {
	for _, tc := range []struct {
		version, bdayOld, bdayNew string
		emailTypes                []string
	}{
		{"4.0", "19850415", "19900102", []string{"work"}},
		{"4.0", "1985-04-15", "1990-01-02", []string{"work"}},
		{"3.0", "1985-04-15", "1990-01-02", []string{"INTERNET", "work"}},
		{"3.0", "19850415", "19900102", []string{"INTERNET", "work"}},
	} {
		base := decode(t, "BEGIN:VCARD\nVERSION:"+tc.version+"\nUID:u\nFN:f\nN:L;F;;;\n"+
			"TEL;VALUE=uri;TYPE=\"work,voice\":tel:+1-555-0100\nBDAY:"+tc.bdayOld+"\nEND:VCARD")
		cols := mustColumns(t, base)
		cols["birthdate"] = "1990-01-02"
		cols["telephone1"] = "+1-555-0199"
		cols["emailaddress1"] = "new@example.com"
		cols["anniversary"] = "2001-02-03"
		card := ContactCard(cols, base, "x")
		if v := card.Value(vcard.FieldVersion); v != tc.version {
			t.Errorf("VERSION %s, want %s", v, tc.version)
		}
		if got := card.Value(vcard.FieldBirthday); got != tc.bdayNew {
			t.Errorf("%s: BDAY %s, want %s", tc.version, got, tc.bdayNew)
		}
		tel := card.Get(vcard.FieldTelephone)
		if tel.Value != "tel:+1-555-0199" || !hasType(tel, "work") || !hasType(tel, "voice") || tel.Params.Get(vcard.ParamValue) != "uri" {
			t.Errorf("%s: TEL %+v, want the URI form and params kept", tc.version, tel)
		}
		if got := card.Get(vcard.FieldEmail).Params[vcard.ParamType]; strings.Join(got, ",") != strings.Join(tc.emailTypes, ",") {
			t.Errorf("%s: EMAIL TYPE %q, want %q", tc.version, got, tc.emailTypes)
		}
		annKey := map[string]string{"3.0": "X-ANNIVERSARY", "4.0": "ANNIVERSARY"}[tc.version]
		if card.Get(annKey) == nil {
			t.Errorf("%s: no %s in %v", tc.version, annKey, keys(card))
		}
		sameColumns(t, tc.version, mustColumns(t, card), cols)
	}
}

// Clearing and changing columns keeps every column where the CRM put it.
func TestWriteEdges(t *testing.T) {
	base := decode(t, `BEGIN:VCARD
VERSION:3.0
UID:edges
FN:Edge Case
N:Case;Edge;;;
TITLE:First title
TITLE:Second title
EMAIL:a@x
EMAIL:b@x
EMAIL:c@x
EMAIL:d@x
TEL;TYPE=work:1
TEL;TYPE=work:2
ADR;TYPE=work:;Suite 5;1 Main;Town;;;
ADR;TYPE=home:;Flat 2;a\nb\nc;Town;;;
BDAY;ALTID=1:19850415
BDAY;ALTID=1;VALUE=text:April 15th 1985
END:VCARD`)
	for _, tc := range []struct {
		name string
		set  crmclient.Columns
		want func(vcard.Card) string // "" when fine
	}{
		{"clear middle email keeps the place", crmclient.Columns{"emailaddress2": ""}, func(c vcard.Card) string {
			if got := c.Values(vcard.FieldEmail); strings.Join(got, " ") != "a@x  c@x d@x" {
				return "EMAIL " + strings.Join(got, "|")
			}
			return ""
		}},
		{"clear title keeps the place", crmclient.Columns{"jobtitle": ""}, nil},
		{"clear work tel keeps the place", crmclient.Columns{"telephone1": ""}, nil},
		{"clear bday removes ALTID pair", crmclient.Columns{"birthdate": ""}, func(c vcard.Card) string {
			if len(c[vcard.FieldBirthday]) != 0 {
				return "BDAY left"
			}
			return ""
		}},
		{"ext line changes", crmclient.Columns{"address1_line2": "Suite 6"}, func(c vcard.Card) string {
			if got := c.Get(vcard.FieldAddress).Value; got != ";Suite 6;1 Main;Town;;;" {
				return "ADR " + got
			}
			return ""
		}},
		{"line after ext folds it into the street", crmclient.Columns{"address1_line3": "Back"}, func(c vcard.Card) string {
			if got := c.Get(vcard.FieldAddress).Value; got != ";;1 Main\nSuite 5\nBack;Town;;;" {
				return "ADR " + got
			}
			return ""
		}},
		{"unplaced ext stays", crmclient.Columns{"address2_line3": ""}, func(c vcard.Card) string {
			if got := c[vcard.FieldAddress][1].Value; got != ";Flat 2;a\nb\n;Town;;;" {
				return "ADR " + got
			}
			return ""
		}},
		{"clear address", crmclient.Columns{"address1_line1": "", "address1_line2": "", "address1_city": ""}, func(c vcard.Card) string {
			if len(c[vcard.FieldAddress]) != 1 {
				return "ADR left"
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cols := mustColumns(t, base)
			for k, v := range tc.set {
				cols[k] = v
			}
			card := ContactCard(cols, base, "x")
			sameColumns(t, "after write", mustColumns(t, card), cols)
			if tc.want != nil {
				if msg := tc.want(card); msg != "" {
					t.Errorf("%s\n%s", msg, encode(t, card))
				}
			}
		})
	}
}

// ContactCard never modifies its base.
func TestBaseUntouched(t *testing.T) {
	text := cardInputs[0].text
	base := decode(t, text)
	cols := fullContact()
	cols["firstname"] = "Other"
	cols["emailaddress2"] = ""
	ContactCard(cols, base, "x")
	sameCard(t, decode(t, text), base)
}
