package democrm

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Change tracking, as "Use change tracking to synchronize data with external
// systems" describes it: a GET with Prefer: odata.track-changes returns every
// record and, on its last page, an @odata.deltaLink; a GET of that link
// returns the records changed since (each once, in its latest state) and
// then the deleted ones as $deletedEntity entries, with a new delta link.
//
// A delta token is "<version>!<MM/dd/yyyy HH:mm:ss>" (UTC): the highest
// version the answer covers and when it was issued. A token older than
// ChangeTrackingExpiry is refused with ExpiredVersionStamp.

const deltaTimeLayout = "01/02/2006 15:04:05"

func formatDeltaToken(version int64, at time.Time) string {
	return strconv.FormatInt(version, 10) + "!" + at.UTC().Format(deltaTimeLayout)
}

func parseDeltaToken(tok string) (int64, time.Time, bool) {
	v, ts, ok := strings.Cut(tok, "!")
	if !ok {
		return 0, time.Time{}, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, time.Time{}, false
	}
	at, err := time.Parse(deltaTimeLayout, ts)
	if err != nil {
		return 0, time.Time{}, false
	}
	return n, at, true
}

// trackCursor is where a paged change-tracking answer goes on: the phase
// (0 initial read by id, 1 changed rows by version, 2 deleted rows by
// version), the last id or version returned, the version the whole answer
// covers, and the version it started from.
type trackCursor struct {
	phase    int
	afterID  string
	afterVer int64
	upto     int64
	from     int64
}

func (c trackCursor) String() string {
	return fmt.Sprintf("%d:%s:%d:%d:%d", c.phase, c.afterID, c.afterVer, c.upto, c.from)
}

func parseTrackCursor(s string) (trackCursor, bool) {
	f := strings.Split(s, ":")
	if len(f) != 5 {
		return trackCursor{}, false
	}
	var c trackCursor
	var err error
	if c.phase, err = strconv.Atoi(f[0]); err != nil || c.phase < 0 || c.phase > 2 {
		return c, false
	}
	c.afterID = f[1]
	if c.afterVer, err = strconv.ParseInt(f[2], 10, 64); err != nil {
		return c, false
	}
	if c.upto, err = strconv.ParseInt(f[3], 10, 64); err != nil {
		return c, false
	}
	if c.from, err = strconv.ParseInt(f[4], 10, 64); err != nil {
		return c, false
	}
	return c, true
}

func (s *Server) changes(w http.ResponseWriter, r *http.Request, c *caller, e *entity, q *queryOpts, p prefs) *apiError {
	if e.name == "activityparty" {
		return errBadRequest("Change tracking is not enabled for entity 'activityparty'.")
	}
	// "The calling user must have organization level read access to the
	// table. If the user has limited read access, the system throws a
	// privilege check error."
	if !c.orgRead() {
		return errPrivilege(c.userID(), privilegeName("Read", e)+" (organization level)", e)
	}
	pageSize := s.opts.MaxPageSize
	if p.maxPageSize > 0 && p.maxPageSize < pageSize {
		pageSize = p.maxPageSize
	}

	var cur trackCursor
	switch {
	case q.skiptoken != "":
		last, _, ok := parseCookie(q.skiptoken)
		if !ok {
			return errBadRequest("Invalid $skiptoken.")
		}
		if cur, ok = parseTrackCursor(last); !ok {
			return errBadRequest("Invalid $skiptoken.")
		}
	case q.deltatoken != "":
		from, at, ok := parseDeltaToken(q.deltatoken)
		if !ok {
			return errBadRequest("Invalid $deltatoken '%s'.", q.deltatoken)
		}
		if s.opts.Now().Sub(at) > s.opts.ChangeTrackingExpiry {
			return errExpiredToken()
		}
		upto, err := s.st.currentVersion()
		if err != nil {
			return internal(err)
		}
		cur = trackCursor{phase: 1, afterVer: from, upto: upto, from: from}
	default:
		upto, err := s.st.currentVersion()
		if err != nil {
			return internal(err)
		}
		cur = trackCursor{phase: 0, upto: upto}
	}

	// b collects the value array; the answer is assembled at the end,
	// when it is known whether it carries a next link or a delta link.
	var b bytes.Buffer
	delta := cur.phase > 0
	ctx := baseURL(r) + "$metadata#" + e.set + selectSuffix(q.sel)
	if delta {
		ctx += "/$delta"
	}
	n := 0
	sep := func() {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
	}
	done := false
	for n < pageSize && !done {
		want := pageSize - n
		switch cur.phase {
		case 0:
			rows, err := s.st.scan(e, cur.afterID, want, "version <= ?", cur.upto)
			if err != nil {
				return internal(err)
			}
			for _, rw := range rows {
				sep()
				if err := s.writeRow(&b, rw, q, p.annotations); err != nil {
					return internal(err)
				}
				cur.afterID = rw.id
			}
			done = len(rows) < want // the initial read returns no deletions
		case 1:
			rows, err := s.st.changedSince(e, cur.afterVer, cur.upto, want)
			if err != nil {
				return internal(err)
			}
			for _, rw := range rows {
				sep()
				if err := s.writeRow(&b, rw, q, p.annotations); err != nil {
					return internal(err)
				}
				cur.afterVer = rw.version
			}
			if len(rows) < want {
				cur.phase, cur.afterVer = 2, cur.from
			}
		case 2:
			ts, err := s.st.deletedSince(e, cur.afterVer, cur.upto, want)
			if err != nil {
				return internal(err)
			}
			for _, t := range ts {
				sep()
				b.WriteString(`{"@odata.context":`)
				writeJSONString(&b, baseURL(r)+"$metadata#"+e.set+"/$deletedEntity")
				b.WriteString(`,"id":`)
				writeJSONString(&b, t.ID)
				b.WriteString(`,"reason":"deleted"}`)
				cur.afterVer = t.Version
			}
			done = len(ts) < want
		}
	}
	var out bytes.Buffer
	out.WriteString(`{"@odata.context":`)
	writeJSONString(&out, ctx)
	if done {
		// The documentation's examples put the delta link before the
		// value, and $select before $deltatoken in it.
		link := baseURL(r) + e.set + "?"
		if sel := r.URL.Query().Get("$select"); sel != "" {
			link += encodeQuery(url.Values{"$select": {sel}}) + "&"
		}
		link += encodeQuery(url.Values{"$deltatoken": {formatDeltaToken(cur.upto, s.opts.Now())}})
		out.WriteString(`,"@odata.deltaLink":`)
		writeJSONString(&out, link)
	}
	out.WriteString(`,"value":[`)
	out.Write(b.Bytes())
	out.WriteByte(']')
	if !done {
		// More to come: a next link carrying the cursor, after the value
		// as in "Page results using OData". Whether the page was exactly
		// the last one is only known on the next request.
		out.WriteString(`,"@odata.nextLink":`)
		writeJSONString(&out, nextLink(r, "$skiptoken", cookie(cur.String(), n, pageNumber(q.skiptoken)+1, true)))
	}
	out.WriteByte('}')
	applied := []string{}
	if p.trackChanges {
		applied = append(applied, "odata.track-changes")
	}
	if p.maxPageSize > 0 {
		applied = append(applied, "odata.maxpagesize="+strconv.Itoa(pageSize))
	}
	if len(applied) > 0 {
		w.Header().Set("Preference-Applied", strings.Join(applied, ","))
	}
	writeJSON(w, http.StatusOK, out.Bytes())
	return nil
}
