package crmclient

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors; an *Error wraps one of them where it applies, so callers
// test with errors.Is.
var (
	ErrNotFound     = errors.New("crm: record not found")
	ErrPrecondition = errors.New("crm: record changed since it was read") // stale ETag
	ErrExists       = errors.New("crm: record exists")
	ErrForbidden    = errors.New("crm: not allowed")
	ErrRejected     = errors.New("crm: request rejected") // invalid for good; retrying will not help
	ErrThrottled    = errors.New("crm: throttled")
	ErrUnavailable  = errors.New("crm: unavailable") // retry later
	ErrTokenExpired = errors.New("crm: change token expired")
)

// Error is a failed CRM request: what was asked, of which record, and what
// the CRM answered.
type Error struct {
	Op      string // "get", "create", "update", "delete", "changes", "list", …
	Kind    Kind
	ID      string // record id, if the request named one
	Status  int    // HTTP status, 0 when no answer came
	Code    string // the CRM's error code, e.g. Dataverse "0x80040217"
	Message string // the CRM's error message
	Err     error  // sentinel (ErrNotFound, …) or the transport error
}

func (e *Error) Error() string {
	s := "crm " + e.Op
	if e.Kind != "" {
		s += " " + string(e.Kind)
	}
	if e.ID != "" {
		s += " " + e.ID
	}
	if e.Status != 0 {
		s += fmt.Sprintf(": %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Code != "" {
		s += " [" + e.Code + "]"
	}
	if e.Message != "" {
		s += ": " + e.Message
	} else if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether err is worth trying again later (throttling,
// an unavailable CRM, a broken connection) rather than a refusal for good.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrThrottled) || errors.Is(err, ErrUnavailable) {
		return true
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status == 0 || e.Status >= 500
	}
	return false
}
