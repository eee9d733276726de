package democrm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Golden files (testdata/golden/*.json) are written from the examples of the
// Dataverse documentation, one page section each, with the doc's own shape
// (contacts in place of accounts). Each holds steps: a request, and either
// the expected response or none (a setup step, which must succeed).
//
// Values that vary are placeholders in expected strings:
//
//	<base>        the Web API root, "[Organization URI]/api/data/v9.2/"
//	<guid>        a lower-case GUID
//	<etag>        W/"<number>"
//	<datetime>    2006-01-02T15:04:05Z
//	<timestamp>   2006-01-02 15:04:05Z (Microsoft identity platform)
//	<n>           a decimal number
//	<token>       any non-empty text without quotes or spaces
//	<deltatoken>  a URL-encoded $deltatoken: <version>!<MM/dd/yyyy HH:mm:ss>
//	<cookie>      a URL-encoded $skiptoken paging cookie
//	{{name}}      a value saved by an earlier step
//
// Object keys are compared in order, so the place of @odata.nextLink or
// @odata.deltaLink in a body is checked too. An expected header of null
// must be absent.
type goldenFile struct {
	Doc struct {
		Title   string `json:"title"`
		Section string `json:"section"`
		URL     string `json:"url"`
	} `json:"doc"`
	Note  string       `json:"note"`
	Steps []goldenStep `json:"steps"`
}

type goldenStep struct {
	// Before injects faults before the request.
	Before *struct {
		ThrottleNext      int `json:"throttleNext"`
		RetryAfterSeconds int `json:"retryAfterSeconds"`
	} `json:"before"`
	Request struct {
		Method  string             `json:"method"`
		Path    string             `json:"path"`
		Headers map[string]*string `json:"headers"` // null: send none (Authorization)
		Body    json.RawMessage    `json:"body"`
		Form    map[string]string  `json:"form"`
	} `json:"request"`
	Response *struct {
		Status  int                `json:"status"`
		Headers map[string]*string `json:"headers"`
		Body    json.RawMessage    `json:"body"`
	} `json:"response"`
	// Save names values of the answer for later steps: "entityid" (the
	// GUID of OData-EntityId), "header:<name>" or "body:<path>", keys and
	// array indexes separated by "/" ("body:value/0/activityid").
	Save map[string]string `json:"save"`
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var g goldenFile
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&g); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if g.Doc.Title == "" || g.Doc.Section == "" || !strings.HasPrefix(g.Doc.URL, "https://learn.microsoft.com/") {
				t.Fatalf("%s: the doc page title, section and URL are required", f)
			}
			runGolden(t, &g)
		})
	}
}

func runGolden(t *testing.T, g *goldenFile) {
	env := newEnv(t, Options{})
	vars := map[string]string{
		"alice":        env.alice.ObjectID,
		"alice.id":     env.alice.ID,
		"bob":          env.bob.ObjectID,
		"bob.id":       env.bob.ID,
		"clientid":     testClientID,
		"clientsecret": testClientSecret,
	}
	subst := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{{"+k+"}}", v)
		}
		return s
	}
	for i, st := range g.Steps {
		where := fmt.Sprintf("step %d (%s %s)", i, st.Request.Method, st.Request.Path)
		if b := st.Before; b != nil && b.ThrottleNext > 0 {
			env.crm.ThrottleNext(b.ThrottleNext, time.Duration(b.RetryAfterSeconds)*time.Second)
		}
		a := goldenCall(t, env, &st, subst)
		if st.Response == nil {
			if a.status >= 300 {
				t.Fatalf("%s: setup answered %d: %s", where, a.status, a.body)
			}
		} else {
			checkGolden(t, where, env, a, &st, subst)
		}
		for name, src := range st.Save {
			v, ok := saved(a, src)
			if !ok {
				t.Fatalf("%s: nothing to save for %s from %s", where, name, src)
			}
			vars[name] = v
		}
	}
}

func goldenCall(t *testing.T, env *testEnv, st *goldenStep, subst func(string) string) answer {
	t.Helper()
	uri := subst(st.Request.Path)
	switch {
	case strings.HasPrefix(uri, "http://"):
	case strings.HasPrefix(uri, "/"):
		uri = env.srv.URL + uri
	default:
		uri = env.base() + uri
	}
	var body io.Reader
	contentType := ""
	switch {
	case st.Request.Form != nil:
		form := url.Values{}
		for k, v := range st.Request.Form {
			form.Set(k, subst(v))
		}
		body, contentType = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	case len(st.Request.Body) > 0:
		var v any
		if err := json.Unmarshal(st.Request.Body, &v); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(substAll(v, subst))
		if err != nil {
			t.Fatal(err)
		}
		body, contentType = bytes.NewReader(b), "application/json; charset=utf-8"
	}
	req, err := http.NewRequest(st.Request.Method, escapeSpaces(uri), body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if !strings.HasPrefix(uri, env.srv.URL+TokenPath) {
		req.Header.Set("Authorization", "Bearer "+env.token)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("OData-MaxVersion", "4.0")
		req.Header.Set("OData-Version", "4.0")
	}
	for k, v := range st.Request.Headers {
		if v == nil {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, subst(*v))
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

func substAll(v any, subst func(string) string) any {
	switch v := v.(type) {
	case string:
		return subst(v)
	case []any:
		for i := range v {
			v[i] = substAll(v[i], subst)
		}
	case map[string]any:
		for k, x := range v {
			v[k] = substAll(x, subst)
		}
	}
	return v
}

func saved(a answer, src string) (string, bool) {
	switch {
	case src == "entityid":
		loc := a.header.Get("OData-EntityId")
		if m := regexp.MustCompile(`\(([0-9a-f-]{36})\)$`).FindStringSubmatch(loc); m != nil {
			return m[1], true
		}
	case strings.HasPrefix(src, "header:"):
		v := a.header.Get(strings.TrimPrefix(src, "header:"))
		return v, v != ""
	case strings.HasPrefix(src, "body:"):
		// A path of keys and array indexes: "body:value/1/activityid".
		var v any
		if json.Unmarshal(a.body, &v) != nil {
			return "", false
		}
		for _, k := range strings.Split(strings.TrimPrefix(src, "body:"), "/") {
			switch x := v.(type) {
			case map[string]any:
				v = x[k]
			case []any:
				i, err := strconv.Atoi(k)
				if err != nil || i < 0 || i >= len(x) {
					return "", false
				}
				v = x[i]
			default:
				return "", false
			}
		}
		s, ok := v.(string)
		return s, ok
	}
	return "", false
}

func checkGolden(t *testing.T, where string, env *testEnv, a answer, st *goldenStep, subst func(string) string) {
	t.Helper()
	want := st.Response
	if a.status != want.Status {
		t.Fatalf("%s: status %d, want %d: %s", where, a.status, want.Status, a.body)
	}
	m := &matcher{base: env.base(), subst: subst}
	names := make([]string, 0, len(want.Headers))
	for k := range want.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := want.Headers[k]
		got, present := a.header[http.CanonicalHeaderKey(k)]
		switch {
		case v == nil && present:
			t.Errorf("%s: header %s: %q, want none", where, k, got)
		case v != nil && !present:
			t.Errorf("%s: header %s missing, want %q", where, k, *v)
		case v != nil:
			if err := m.str(*v, got[0]); err != nil {
				t.Errorf("%s: header %s: %v", where, k, err)
			}
		}
	}
	if len(want.Body) == 0 || string(want.Body) == "null" {
		if len(a.body) != 0 {
			t.Errorf("%s: body %s, want none", where, a.body)
		}
		return
	}
	exp, err := decodeOrdered(want.Body)
	if err != nil {
		t.Fatalf("%s: golden body: %v", where, err)
	}
	got, err := decodeOrdered(a.body)
	if err != nil {
		t.Fatalf("%s: answer body is not JSON: %v: %s", where, err, a.body)
	}
	if err := m.value("$", exp, got); err != nil {
		t.Errorf("%s: %v\nbody: %s", where, err, a.body)
	}
}

// member and object keep JSON object keys in order.
type member struct {
	key string
	val any
}

type object []member

func decodeOrdered(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		var o object
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			o = append(o, member{k.(string), v})
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return a, err
	}
	return tok, nil
}

type matcher struct {
	base  string
	subst func(string) string
}

var placeholders = map[string]string{
	"<guid>":       `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`,
	"<etag>":       `W/"[0-9]+"`,
	"<datetime>":   `[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z`,
	"<timestamp>":  `[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}Z`,
	"<n>":          `[0-9]+`,
	"<token>":      `[^"\s]+`,
	"<deltatoken>": `(?P<deltatoken>[^&"]+)`,
	"<cookie>":     `(?P<cookie>[^&"]+)`,
}

var placeholderRE = regexp.MustCompile(`<[a-z]+>`)

// Decoded forms of the encoded placeholders.
var (
	deltaTokenRE = regexp.MustCompile(`^[0-9]+![0-9]{2}/[0-9]{2}/[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}$`)
	cookieRE     = regexp.MustCompile(`^<cookie pagenumber="[0-9]+" pagingcookie="[^"]+" istracking="(False|True)" />$`)
)

// str matches got against the expected string with placeholders.
func (m *matcher) str(want, got string) error {
	want = m.subst(want)
	if !strings.Contains(want, "<") {
		if want != got {
			return fmt.Errorf("%q, want %q", got, want)
		}
		return nil
	}
	var re strings.Builder
	re.WriteString("^")
	last := 0
	for _, loc := range placeholderRE.FindAllStringIndex(want, -1) {
		re.WriteString(regexp.QuoteMeta(want[last:loc[0]]))
		ph := want[loc[0]:loc[1]]
		switch {
		case ph == "<base>":
			re.WriteString(regexp.QuoteMeta(m.base))
		case placeholders[ph] != "":
			re.WriteString(placeholders[ph])
		default:
			re.WriteString(regexp.QuoteMeta(ph))
		}
		last = loc[1]
	}
	re.WriteString(regexp.QuoteMeta(want[last:]))
	re.WriteString("$")
	rx := regexp.MustCompile(re.String())
	sub := rx.FindStringSubmatch(got)
	if sub == nil {
		return fmt.Errorf("%q does not match %q", got, want)
	}
	for i, name := range rx.SubexpNames() {
		if name == "" {
			continue
		}
		dec, err := url.QueryUnescape(sub[i])
		if err != nil {
			return fmt.Errorf("%s %q: %v", name, sub[i], err)
		}
		if name == "deltatoken" && !deltaTokenRE.MatchString(dec) {
			return fmt.Errorf("$deltatoken %q is not <version>!<MM/dd/yyyy HH:mm:ss>", dec)
		}
		if name == "cookie" && !cookieRE.MatchString(dec) {
			return fmt.Errorf("$skiptoken %q is not a paging cookie", dec)
		}
	}
	return nil
}

func (m *matcher) value(path string, want, got any) error {
	switch w := want.(type) {
	case object:
		g, ok := got.(object)
		if !ok {
			return fmt.Errorf("%s: %v, want an object", path, got)
		}
		if wk, gk := keys(w), keys(g); !slices.Equal(wk, gk) {
			return fmt.Errorf("%s: keys %v, want %v", path, gk, wk)
		}
		for i := range w {
			if err := m.value(path+"."+w[i].key, w[i].val, g[i].val); err != nil {
				return err
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: %v, want an array of %d", path, got, len(w))
		}
		for i := range w {
			if err := m.value(path+"["+strconv.Itoa(i)+"]", w[i], g[i]); err != nil {
				return err
			}
		}
	case string:
		g, ok := got.(string)
		if !ok {
			return fmt.Errorf("%s: %v, want a string", path, got)
		}
		if err := m.str(w, g); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
	case json.Number:
		g, ok := got.(json.Number)
		wf, _ := w.Float64()
		gf, _ := g.Float64()
		if !ok || wf != gf {
			return fmt.Errorf("%s: %v, want %v", path, got, w)
		}
	default: // bool, nil
		if want != got {
			return fmt.Errorf("%s: %v, want %v", path, got, want)
		}
	}
	return nil
}

func keys(o object) []string {
	out := make([]string, len(o))
	for i, m := range o {
		out[i] = m.key
	}
	return out
}
