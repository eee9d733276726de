package syncstate

import (
	"fmt"
	"testing"

	"github.com/crmdav/crmdav/crmclient"
)

func TestSnapshotRoundTrip(t *testing.T) {
	cols := crmclient.Columns{
		"firstname": "Zoë", "lastname": "O'Brien & <Sons>", "description": "line 1\r\nline 2\tx",
		"birthdate": "", "bad": "nul\x00byte \xff", "jobtitle": "]]> CDATA end",
	}
	b, err := EncodeSnapshot(crmclient.Contact, "id-1", cols)
	if err != nil {
		t.Fatal(err)
	}
	kind, id, got, err := DecodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if kind != crmclient.Contact || id != "id-1" || fmt.Sprint(got) != fmt.Sprint(cols) {
		t.Errorf("round trip gave %s %s %q\nfrom %s", kind, id, got, b)
	}
	if _, _, _, err := DecodeSnapshot([]byte("<snapshot><c")); err == nil {
		t.Error("truncated XML accepted")
	}
}

func FuzzSnapshot(f *testing.F) {
	f.Add("firstname", "Ada", "description", "a\r\nb")
	f.Add("x", "\x00", "y", "\xff\xfe")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		cols := crmclient.Columns{k1: v1, k2: v2}
		b, err := EncodeSnapshot(crmclient.Task, "id", cols)
		if err != nil {
			return // a column name XML cannot carry as an attribute
		}
		_, _, got, err := DecodeSnapshot(b)
		if err != nil {
			t.Fatalf("decode of our own snapshot %q: %v", b, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(cols) {
			t.Fatalf("round trip %q gave %q", cols, got)
		}
	})
}
