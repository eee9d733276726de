package dataverse

import (
	"encoding/json"
	"fmt"
	"testing"
)

// FuzzScanObject checks scanObject against encoding/json: it accepts the
// objects encoding/json accepts (duplicate names aside) and gives the same
// values.
func FuzzScanObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"@odata.etag":"W/\"12\"","contactid":"0b6f0c8e-3d5c-4b7e-9a6c-2f1e5d4c3b2a","n":null,"b":true,"x":-1.5e3}`,
		`{"s":"caf\u00e9 \"q\"","nav":[{"a":"}"}],"o":{"k":[1,2,{"z":"]"}]}}`, ` { "a" : "b" } `, `{"a":}`, `{"a":1,}`, `[1]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := map[string]string{}
		dup := false
		err := scanObject(b, func(m *member) error {
			if _, ok := got[m.name]; ok {
				dup = true
			}
			got[m.name] = fmt.Sprint(m.isStr, m.text())
			return nil
		})
		var want map[string]json.RawMessage
		werr := json.Unmarshal(b, &want)
		if werr == nil && b[0] != '{' && b[0] != ' ' && b[0] != '\t' && b[0] != '\n' && b[0] != '\r' {
			werr = fmt.Errorf("not an object")
		}
		if werr == nil && want == nil {
			werr = fmt.Errorf("null")
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("scanObject err %v, encoding/json err %v on %q", err, werr, b)
		}
		if err != nil || dup {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%d members, want %d", len(got), len(want))
		}
		for k, raw := range want {
			var s string
			isStr := raw[0] == '"' && json.Unmarshal(raw, &s) == nil
			w := fmt.Sprint(isStr, s)
			if !isStr {
				w = fmt.Sprint(false, string(raw))
				if string(raw) == "null" {
					w = fmt.Sprint(false, "")
				}
			}
			if got[k] != w {
				t.Fatalf("%q: got %s, want %s", k, got[k], w)
			}
		}
	})
}
