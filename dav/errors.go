package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// UIDConflict is the error a Store returns (it matches ErrConflict) when
// a PUT's UID is already used by another object of the collection; Name is
// that object's name, for the no-uid-conflict answer (RFC 6352 §6.3.2.1).
type UIDConflict struct {
	UID  string
	Name string
}

func (e *UIDConflict) Error() string {
	return fmt.Sprintf("UID %q in use by %q", e.UID, e.Name)
}

// Is makes errors.Is(err, ErrConflict) hold.
func (e *UIDConflict) Is(target error) bool { return target == ErrConflict }

// Namespaces of the elements we write.
const (
	nsDAV  = "DAV:"
	nsCard = "urn:ietf:params:xml:ns:carddav"
)

// Precondition elements (RFC 4918 §16, RFC 6352 §6.3.2.1, §8.6).
var (
	condValidAddressData     = xml.Name{Space: nsCard, Local: "valid-address-data"}
	condSupportedAddressData = xml.Name{Space: nsCard, Local: "supported-address-data"}
	condNoUIDConflict        = xml.Name{Space: nsCard, Local: "no-uid-conflict"}
	condPropfindFiniteDepth  = xml.Name{Space: nsDAV, Local: "propfind-finite-depth"}
	condSupportedReport      = xml.Name{Space: nsDAV, Local: "supported-report"}
	condValidSyncToken       = xml.Name{Space: nsDAV, Local: "valid-sync-token"}                 // RFC 6578 §3.2
	condSyncTraversal        = xml.Name{Space: nsDAV, Local: "sync-traversal-supported"}         // RFC 6578 §3.3
	condWithinLimits         = xml.Name{Space: nsDAV, Local: "number-of-matches-within-limits"}  // RFC 5323 §3.3
	condProtectedProperty    = xml.Name{Space: nsDAV, Local: "cannot-modify-protected-property"} // RFC 4918 §16
	// condByCRM is our own precondition for MKCOL, extended MKCOL and
	// MKCALENDAR: collections are defined by the CRM. Its content is a
	// human-readable reason (DAV:error may hold any element, RFC 4918 §16).
	condByCRM = xml.Name{Space: nsCrmdav, Local: "collections-defined-by-crm"}

	// RFC 4791 §5.3.2.1 (PUT), §7.8 (calendar-query), §9.6.
	condValidCalendarData     = ln("valid-calendar-data")
	condValidCalendarObject   = ln("valid-calendar-object-resource")
	condSupportedCalComponent = ln("supported-calendar-component")
	condSupportedCalData      = ln("supported-calendar-data")
	condCalNoUIDConflict      = ln("no-uid-conflict")
	condValidFilter           = ln("valid-filter")
	condSupportedFilter       = ln("supported-filter")
	condCalCollation          = ln("supported-collation")
	condNeedPrivileges        = dn("need-privileges") // RFC 3744 §7.1.1
	// condNotImplemented is our own element for a request option dav
	// declines (C:expand, C:limit-recurrence-set, C:limit-freebusy-set):
	// no RFC precondition says "not implemented"; its text says what.
	condNotImplemented = xml.Name{Space: nsCrmdav, Local: "not-implemented"}
	// condReason holds the reason of a refusal, beside its precondition.
	condReason = xml.Name{Space: nsCrmdav, Local: "reason"}
)

// needPrivileges is 403 with DAV:need-privileges naming the resource and
// the privilege withheld (RFC 3744 §7.1.1).
func needPrivileges(path, priv string, format string, args ...any) error {
	return &httpError{Status: http.StatusForbidden, Cond: condNeedPrivileges,
		XML: "<D:resource>" + hrefXML(path) + "<D:privilege><D:" + priv + "/></D:privilege></D:resource>",
		Err: fmt.Errorf(format, args...)}
}

// httpError is an answer other than success: a status, optionally a
// precondition element for a DAV:error body, and the reason, which is
// logged and, for 4xx, sent to the client.
type httpError struct {
	Status int
	Cond   xml.Name // zero: no DAV:error body
	Href   string   // escaped; inside Cond (no-uid-conflict)
	Text   string   // human-readable text inside Cond (our own elements)
	XML    string   // inner XML of Cond, using the root's prefixes
	Err    error
}

func (e *httpError) Error() string { return e.Err.Error() }
func (e *httpError) Unwrap() error { return e.Err }

func failf(status int, format string, args ...any) error {
	return &httpError{Status: status, Err: fmt.Errorf(format, args...)}
}

// classify turns any error of a request into its answer.
func classify(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &httpError{Status: http.StatusRequestEntityTooLarge, Err: err}
	case errors.Is(err, ErrNotFound):
		return &httpError{Status: http.StatusNotFound, Err: err}
	case errors.Is(err, ErrPrecondition):
		return &httpError{Status: http.StatusPreconditionFailed, Err: err}
	case errors.Is(err, ErrConflict):
		// RFC 6352 §6.3.2.1: the Store did not say which object holds the
		// UID, so the element carries no href.
		return &httpError{Status: http.StatusConflict, Cond: condNoUIDConflict, Err: err}
	case errors.Is(err, ErrInvalid):
		return &httpError{Status: http.StatusForbidden, Cond: condValidAddressData, Err: err}
	case errors.Is(err, context.Canceled):
		// The client went away; nothing it will read.
		return &httpError{Status: 499, Err: err}
	}
	return &httpError{Status: http.StatusInternalServerError, Err: err}
}

// serveError answers a failed request (STYLE habit 1) and logs it once.
func (h *handler) serveError(w http.ResponseWriter, r *http.Request, err error) {
	e := classify(err)
	h.logRefused(r, e.Status, e.Err.Error())
	if e.Status == 499 {
		return
	}
	if e.Cond.Local != "" {
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.WriteHeader(e.Status)
		reason := ""
		if e.Status < 500 {
			reason = e.Err.Error()
		}
		writeErrorBody(w, e.Cond, e.Href, e.Text, e.XML, reason)
		return
	}
	msg := http.StatusText(e.Status)
	if e.Status < 500 {
		// Client mistakes are explained; server faults are not (the log
		// has them).
		msg += ": " + e.Err.Error()
	}
	http.Error(w, msg, e.Status)
}

// logRefused writes the one log line of a refused or failed request.
func (h *handler) logRefused(r *http.Request, status int, reason string) {
	user, _ := UserFrom(r.Context())
	level, msg := slog.LevelInfo, "dav: request refused"
	if status >= 500 && status != 499 {
		level, msg = slog.LevelError, "dav: request failed"
	}
	h.log.LogAttrs(r.Context(), level, msg,
		slog.String("user", user), slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", status), slog.String("reason", reason))
}

// writeErrorBody writes a DAV:error body (RFC 4918 §16) holding one
// precondition element, with an href or a text inside when given, and the
// human-readable reason of a client's mistake after it in our own
// CR:reason element (DAV:error may hold any element, RFC 4918 §14.5).
func writeErrorBody(w io.Writer, cond xml.Name, href, text, inner, reason string) {
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString(`<D:error` + xmlnsDecl + `>`)
	switch {
	case href != "":
		inner = hrefXML0(href)
	case inner == "":
		inner = esc(text)
	}
	b.WriteString(element(cond, inner))
	if reason != "" {
		b.WriteString(element(condReason, esc(reason)))
	}
	b.WriteString("</D:error>\n")
	io.WriteString(w, b.String())
}

// hrefXML0 is a DAV:href of an already escaped path.
func hrefXML0(escaped string) string { return "<D:href>" + esc(escaped) + "</D:href>" }
