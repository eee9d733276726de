package democrm

import (
	"net/http"
	"testing"
)

func TestParsePrefer(t *testing.T) {
	for _, tc := range []struct {
		header []string
		want   prefs
	}{
		{[]string{"odata.maxpagesize=2"}, prefs{maxPageSize: 2}},
		{[]string{"odata.track-changes, odata.maxpagesize=3"}, prefs{trackChanges: true, maxPageSize: 3}},
		{[]string{"return=representation", `odata.include-annotations="*"`}, prefs{representation: true, annotations: true}},
		{[]string{`odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname",return=representation`},
			prefs{representation: true, annotations: true}},
		{[]string{`odata.include-annotations="OData.Community.Display.V1.FormattedValue"`}, prefs{}},
		{[]string{"return=minimal"}, prefs{}},
	} {
		got := parsePrefer(http.Header{"Prefer": tc.header})
		if got.maxPageSize != tc.want.maxPageSize || got.trackChanges != tc.want.trackChanges ||
			got.representation != tc.want.representation || got.annotations != tc.want.annotations {
			t.Errorf("Prefer %q: %+v, want %+v", tc.header, got, tc.want)
		}
	}
}
