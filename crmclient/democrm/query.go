package democrm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// prefs are the preferences of a Prefer header (RFC 7240) that Dataverse
// honours.
type prefs struct {
	maxPageSize    int
	trackChanges   bool
	representation bool
	annotations    bool // odata.include-annotations covering lookuplogicalname
	applied        []string
}

func parsePrefer(h http.Header) prefs {
	var p prefs
	for _, line := range h.Values("Prefer") {
		for _, item := range splitPreferences(line) {
			k, v, _ := strings.Cut(strings.TrimSpace(item), "=")
			k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`)
			switch strings.ToLower(k) {
			case "odata.maxpagesize":
				p.maxPageSize, _ = strconv.Atoi(v)
			case "odata.track-changes":
				p.trackChanges = true
			case "return":
				p.representation = v == "representation"
			case "odata.include-annotations":
				p.annotations = v == "*" || strings.Contains(v, "Microsoft.Dynamics.CRM.lookuplogicalname") || v == "Microsoft.Dynamics.CRM.*"
			}
		}
	}
	return p
}

// splitPreferences splits a Prefer header at the commas between
// preferences, not at those inside a quoted value (RFC 7240 §2:
// odata.include-annotations="A,B").
func splitPreferences(line string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, line[start:i])
				start = i + 1
			}
		}
	}
	return append(out, line[start:])
}

// queryOpts are the system query options of a request (OData v4 URL
// Conventions §5), restricted to what Dataverse supports.
type queryOpts struct {
	sel        []string // read names; nil for every column
	filter     fnode
	filterSrc  string
	orderby    []orderKey
	top        int
	expand     bool     // the activity's parties collection
	expandSel  []string // $select inside $expand
	skiptoken  string
	deltatoken string
	given      []string // options present, in a fixed order
}

type orderKey struct {
	name string
	desc bool
}

func (s *Server) parseQuery(r *http.Request, e *entity) (*queryOpts, *apiError) {
	q := &queryOpts{}
	vals := r.URL.Query()
	for k := range vals {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		switch k {
		case "$select", "$filter", "$orderby", "$top", "$expand", "$skiptoken", "$deltatoken", "$count":
			q.given = append(q.given, k)
		default:
			return nil, errBadRequest("The query parameter %s is not supported", k)
		}
	}
	sort.Strings(q.given)
	if v := vals.Get("$select"); v != "" {
		sel, err := parseSelect(v, e)
		if err != nil {
			return nil, err
		}
		q.sel = sel
	}
	if v := vals.Get("$filter"); v != "" {
		n, err := parseFilter(v, e, s.schema.byName["activityparty"])
		if err != nil {
			return nil, errBadRequest("%s", err.Error())
		}
		q.filter, q.filterSrc = n, v
	}
	if v := vals.Get("$orderby"); v != "" {
		for _, item := range strings.Split(v, ",") {
			f := strings.Fields(item)
			if len(f) == 0 || len(f) > 2 || (len(f) == 2 && f[1] != "asc" && f[1] != "desc") {
				return nil, errBadRequest("Syntax error in $orderby '%s'.", v)
			}
			if !hasReadName(e, f[0]) {
				return nil, errUnknownProperty(e, f[0])
			}
			q.orderby = append(q.orderby, orderKey{f[0], len(f) == 2 && f[1] == "desc"})
		}
	}
	if v := vals.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, errBadRequest("Invalid value '%s' for $top query option found.", v)
		}
		q.top = n
	}
	if v := vals.Get("$expand"); v != "" {
		nav, inner, _ := strings.Cut(v, "(")
		if e.partiesNav == "" || nav != e.partiesNav {
			return nil, errUnknownProperty(e, nav)
		}
		q.expand = true
		if inner != "" {
			inner = strings.TrimSuffix(inner, ")")
			sv, ok := strings.CutPrefix(inner, "$select=")
			if !ok {
				return nil, errBadRequest("Syntax error in $expand '%s'.", v)
			}
			sel, err := parseSelect(sv, s.schema.byName["activityparty"])
			if err != nil {
				return nil, err
			}
			q.expandSel = sel
		}
	}
	q.skiptoken = vals.Get("$skiptoken")
	q.deltatoken = vals.Get("$deltatoken")
	return q, nil
}

func parseSelect(v string, e *entity) ([]string, *apiError) {
	var sel []string
	for _, n := range strings.Split(v, ",") {
		n = strings.TrimSpace(n)
		if !hasReadName(e, n) {
			return nil, errUnknownProperty(e, n)
		}
		if n != e.key {
			sel = append(sel, n)
		}
	}
	return sel, nil
}

// readable returns the SQL condition restricting rows of e to those c may
// read: everything with organization-level read, otherwise the rows the
// user owns or that were shared with them.
func readable(c *caller, e *entity) (string, []any) {
	if c.orgRead() || e.name == "systemuser" || e.name == "activityparty" {
		return "", nil
	}
	uid := c.userID()
	return "(owner = ? OR id IN (SELECT id FROM shares WHERE entity = ? AND user_id = ?))", []any{uid, e.name, uid}
}

func (s *Server) canRead(c *caller, r *row) (bool, error) {
	if sql, _ := readable(c, r.entity); sql == "" || r.owner == c.userID() {
		return true, nil
	}
	return s.st.sharedWith(r.entity, r.id, c.userID())
}

func (s *Server) canWrite(c *caller, r *row) (bool, error) {
	if c.user == nil || r.owner == c.userID() {
		return true, nil
	}
	return s.st.sharedWith(r.entity, r.id, c.userID())
}

// query answers GET on an entity set: a query, or change tracking.
func (s *Server) query(w http.ResponseWriter, r *http.Request, c *caller, e *entity) *apiError {
	p := parsePrefer(r.Header)
	vals := r.URL.Query()
	tracking := p.trackChanges || vals.Get("$deltatoken") != "" || strings.Contains(vals.Get("$skiptoken"), `istracking="True"`)
	if tracking {
		// "Query options not supported in Change Tracking Web API request":
		// refused whatever else the options say.
		for _, opt := range []string{"$filter", "$orderby", "$expand", "$top"} {
			if vals.Has(opt) {
				return errTrackingOption(opt)
			}
		}
	}
	q, err := s.parseQuery(r, e)
	if err != nil {
		return err
	}
	if tracking {
		return s.changes(w, r, c, e, q, p)
	}
	pageSize := s.opts.MaxPageSize
	if p.maxPageSize > 0 && p.maxPageSize < pageSize {
		pageSize = p.maxPageSize
		p.applied = append(p.applied, "odata.maxpagesize="+strconv.Itoa(pageSize))
	}
	limit := -1
	if q.top > 0 && p.maxPageSize == 0 { // "$top is ignored" with odata.maxpagesize
		limit = q.top
	}
	where, args := readable(c, e)
	if q.filter != nil {
		if h, hargs, ok := sqlHint(q.filter, e); ok {
			where, args = and(where, args, h, hargs)
		}
	}
	match := func(rw *row) bool {
		if q.filter == nil {
			return true
		}
		b, _ := evalFilter(q.filter, rw, s.partyLister(rw), nil).(bool)
		return b
	}

	var page []*row
	next := ""
	if len(q.orderby) > 0 {
		// Sorted queries read every match, then page by position.
		var all []*row
		after := ""
		for {
			rows, err := s.st.scan(e, after, 1000, where, args...)
			if err != nil {
				return internal(err)
			}
			for _, rw := range rows {
				if match(rw) {
					all = append(all, rw)
				}
			}
			if len(rows) < 1000 {
				break
			}
			after = rows[len(rows)-1].id
		}
		sortRows(all, q.orderby)
		if limit >= 0 && len(all) > limit {
			all = all[:limit]
		}
		start, _ := strconv.Atoi(q.skiptoken)
		if start > len(all) {
			start = len(all)
		}
		end := min(start+pageSize, len(all))
		page = all[start:end]
		if end < len(all) {
			next = strconv.Itoa(end)
		}
	} else {
		after := ""
		seen := 0
		if q.skiptoken != "" {
			var ok bool
			after, seen, ok = parseCookie(q.skiptoken)
			if !ok {
				return errBadRequest("Invalid $skiptoken.")
			}
		}
		want := pageSize
		if limit >= 0 {
			want = min(want, limit-seen)
		}
		for want > 0 {
			rows, err := s.st.scan(e, after, want+1, where, args...)
			if err != nil {
				return internal(err)
			}
			for _, rw := range rows {
				if match(rw) {
					page = append(page, rw)
				}
				if len(page) == want+1 {
					break
				}
			}
			if len(page) > want || len(rows) < want+1 {
				break
			}
			after = rows[len(rows)-1].id
		}
		if len(page) > want {
			page = page[:want]
			if limit < 0 || seen+want < limit {
				next = cookie(page[len(page)-1].id, seen+want, pageNumber(q.skiptoken)+1, false)
			}
		}
	}

	var b bytes.Buffer
	b.WriteString(`{"@odata.context":`)
	writeJSONString(&b, baseURL(r)+"$metadata#"+e.set+contextSuffix(e, q))
	b.WriteString(`,"value":[`)
	for i, rw := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := s.writeRow(&b, rw, q, p.annotations); err != nil {
			return internal(err)
		}
	}
	b.WriteByte(']')
	if next != "" {
		b.WriteString(`,"@odata.nextLink":`)
		writeJSONString(&b, nextLink(r, "$skiptoken", next))
	}
	b.WriteByte('}')
	if len(p.applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(p.applied, ","))
	}
	writeJSON(w, http.StatusOK, b.Bytes())
	return nil
}

func and(where string, args []any, h string, hargs []any) (string, []any) {
	if where == "" {
		return h, hargs
	}
	return where + " AND " + h, append(args, hargs...)
}

func sortRows(rows []*row, keys []orderKey) {
	sort.SliceStable(rows, func(i, j int) bool {
		for _, k := range keys {
			a, b := normalize(rows[i].value(k.name)), normalize(rows[j].value(k.name))
			if compare("eq", a, b) {
				continue
			}
			less := a == nil || (b != nil && compare("lt", a, b))
			if k.desc {
				return !less
			}
			return less
		}
		return false
	})
}

// cookie makes a $skiptoken in the shape of Dataverse's paging cookie
// ("Page results using OData"), holding where the next page starts: page
// is the number of the next page, the inner cookie that of the page just
// answered.
func cookie(last string, seen, page int, tracking bool) string {
	inner := url.QueryEscape(fmt.Sprintf(`<cookie page="%d"><id last="%s" seen="%d" /></cookie>`, page-1, last, seen))
	istracking := "False"
	if tracking {
		istracking = "True"
	}
	return fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" istracking="%s" />`, page, inner, istracking)
}

// pageNumber is the number of the page a $skiptoken asks for; 1 without one.
func pageNumber(tok string) int {
	_, rest, found := strings.Cut(tok, `pagenumber="`)
	if !found {
		return 1
	}
	v, _, _ := strings.Cut(rest, `"`)
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func parseCookie(tok string) (last string, seen int, ok bool) {
	_, rest, found := strings.Cut(tok, `pagingcookie="`)
	if !found {
		return "", 0, false
	}
	inner, _, _ := strings.Cut(rest, `"`)
	dec, err := url.QueryUnescape(inner)
	if err != nil {
		return "", 0, false
	}
	_, rest, found = strings.Cut(dec, `last="`)
	if !found {
		return "", 0, false
	}
	last, rest, _ = strings.Cut(rest, `"`)
	_, rest, found = strings.Cut(rest, `seen="`)
	if !found {
		return "", 0, false
	}
	n, _, _ := strings.Cut(rest, `"`)
	seen, err = strconv.Atoi(n)
	return last, seen, err == nil
}

// nextLink is the request's own URL with one option replaced.
func nextLink(r *http.Request, option, value string) string {
	vals := r.URL.Query()
	vals.Set(option, value)
	u := baseURL(r) + strings.TrimPrefix(r.URL.Path, APIPath)
	return u + "?" + encodeQuery(vals)
}

// encodeQuery encodes query options keeping $ and , readable, as Dataverse
// writes its links.
func encodeQuery(vals url.Values) string {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range vals[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(strings.NewReplacer("%2C", ",", "%24", "$").Replace(url.QueryEscape(v)))
		}
	}
	return strings.ReplaceAll(b.String(), "+", "%20")
}

func selectSuffix(sel []string) string {
	if len(sel) == 0 {
		return ""
	}
	return "(" + strings.Join(sel, ",") + ")"
}

// contextSuffix is the part of a context URL that names the selected
// columns and the expanded parties with theirs (OData 4.0 §10.9:
// "accounts(name,primarycontactid(fullname))").
func contextSuffix(e *entity, q *queryOpts) string {
	parts := q.sel
	if q.expand {
		nav := e.partiesNav
		if len(q.expandSel) > 0 {
			nav += "(" + strings.Join(q.expandSel, ",") + ")"
		}
		parts = append(append([]string(nil), parts...), nav)
	}
	return selectSuffix(parts)
}

func (s *Server) partyLister(rw *row) partyLister {
	return func() []*row {
		ps, _ := s.st.partiesOf(rw.id)
		return ps
	}
}

// writeRow writes one entity as JSON: its ETag, the selected columns (all
// when none were selected), the expanded parties and its key.
func (s *Server) writeRow(b *bytes.Buffer, rw *row, q *queryOpts, annotations bool) error {
	e := rw.entity
	b.WriteString(`{"@odata.etag":`)
	writeJSONString(b, rw.etag())
	if len(q.sel) == 0 && !annotations {
		// Fast path: Data holds every non-system column, keys sorted.
		if len(rw.raw) > 2 {
			b.WriteByte(',')
			b.WriteString(rw.raw[1 : len(rw.raw)-1])
		}
		for _, n := range []string{"createdon", "modifiedon", "versionnumber", "_ownerid_value", "activitytypecode"} {
			if hasReadName(e, n) {
				writeField(b, n, rw.value(n))
			}
		}
	} else {
		names := q.sel
		if len(names) == 0 {
			for _, n := range e.names {
				if rn := e.attrs[n].readName(); rn != e.key {
					names = append(names, rn)
				}
			}
		}
		for _, n := range names {
			v := rw.value(n)
			// Annotations come before the value they annotate.
			if annotations && v != nil {
				if t := lookupType(rw, n); t != "" {
					writeField(b, n+"@Microsoft.Dynamics.CRM.lookuplogicalname", t)
				}
			}
			writeField(b, n, v)
		}
	}
	if q.expand {
		parties, err := s.st.partiesOf(rw.id)
		if err != nil {
			return err
		}
		b.WriteString(`,"` + e.partiesNav + `":[`)
		pq := &queryOpts{sel: q.expandSel}
		for i, p := range parties {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := s.writeRow(b, p, pq, annotations); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	}
	writeField(b, e.key, rw.id)
	b.WriteByte('}')
	return nil
}

// lookupType is the logical name of the record a lookup column points to.
func lookupType(rw *row, name string) string {
	switch name {
	case "_ownerid_value", "_createdby_value", "_modifiedby_value":
		return "systemuser"
	case "_partyid_value":
		t, _ := rw.value("partyobjecttypecode").(string)
		return t
	case "_regardingobjectid_value":
		t, _ := rw.value("regardingobjecttypecode").(string)
		return t
	case "_parentcustomerid_value":
		t, _ := rw.value("parentcustomeridtype").(string)
		return t
	case "_activityid_value":
		return "activitypointer"
	}
	return ""
}

func writeField(b *bytes.Buffer, name string, v any) {
	b.WriteByte(',')
	writeJSONString(b, name)
	b.WriteByte(':')
	writeValue(b, v)
}

func writeValue(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		writeJSONString(b, v)
	case json.Number:
		b.WriteString(v.String())
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	case time.Time:
		writeJSONString(b, v.UTC().Format(time.RFC3339))
	default:
		j, _ := json.Marshal(v)
		b.Write(j)
	}
}

const hexDigits = "0123456789abcdef"

// writeJSONString writes s as a JSON string (RFC 8259 §7).
func writeJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b.WriteString(s[start:i])
				b.WriteString(`\ufffd`)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// retrieve answers GET on one record.
func (s *Server) retrieve(w http.ResponseWriter, r *http.Request, c *caller, e *entity, id string) *apiError {
	q, aerr := s.parseQuery(r, e)
	if aerr != nil {
		return aerr
	}
	p := parsePrefer(r.Header)
	rw, err := s.st.get(e, id)
	if err == errNoRow {
		return errNotFound(e, id)
	}
	if err != nil {
		return internal(err)
	}
	if ok, err := s.canRead(c, rw); err != nil {
		return internal(err)
	} else if !ok {
		return errAccess(c.userID(), e, id, privilegeName("Read", e))
	}
	// "Perform conditional operations": If-None-Match with the current ETag
	// gives 304, except with $expand or annotations.
	if inm := r.Header.Get("If-None-Match"); inm == rw.etag() && !q.expand && !p.annotations {
		w.Header().Set("ETag", rw.etag())
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return s.writeEntity(w, r, http.StatusOK, rw, q, p, contextSuffix(e, q))
}

// writeEntity answers one record. sel is the $select part of its context
// URL: a retrieve names the selected columns ("#contacts(fullname)/$entity"),
// a create or update with return=representation does not
// ("#accounts/$entity" in "Create with data returned").
func (s *Server) writeEntity(w http.ResponseWriter, r *http.Request, status int, rw *row, q *queryOpts, p prefs, sel string) *apiError {
	var b bytes.Buffer
	b.WriteString(`{"@odata.context":`)
	writeJSONString(&b, baseURL(r)+"$metadata#"+rw.entity.set+sel+"/$entity")
	b.WriteByte(',')
	var inner bytes.Buffer
	if err := s.writeRow(&inner, rw, q, p.annotations); err != nil {
		return internal(err)
	}
	b.Write(inner.Bytes()[1:]) // drop the row's own "{"
	w.Header().Set("ETag", rw.etag())
	if len(p.applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(p.applied, ","))
	}
	writeJSON(w, status, b.Bytes())
	return nil
}
