package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/crmdav/crmdav/crmclient"
)

// call is one Web API request, described so that it can be sent again.
type call struct {
	op     string // for errors: "get", "update", …
	kind   crmclient.Kind
	id     string
	method string
	url    string // absolute
	body   []byte
	as     *crmclient.User // impersonated user; nil for the application
	header http.Header
}

// maxResponse bounds a response body read into memory (a page of 5000
// records with every column stays well below it).
const maxResponse = 256 << 20

// do sends c, retrying what is worth retrying: 429 after its Retry-After
// (no request to this CRM goes out before it elapses), 5xx and broken
// connections with exponential backoff and jitter, and 401 once with a new
// token. It returns the final response's status, headers and body, or a
// *crmclient.Error.
func (cl *Client) do(ctx context.Context, c call) (int, http.Header, []byte, error) {
	if c.as != nil && c.as.ObjectID == "" {
		return 0, nil, nil, cl.fail(c, 0, "", "", fmt.Errorf("%w: CRM user %s has no directory object id to act as", crmclient.ErrRejected, c.as.ID))
	}
	var lastErr error
	refreshed := false
	for attempt := 1; ; attempt++ {
		if err := cl.waitGate(ctx); err != nil {
			return 0, nil, nil, cl.fail(c, 0, "", "", err)
		}
		status, h, body, err := cl.once(ctx, c)
		var retryAfter time.Duration
		switch {
		case err != nil:
			var re *oauth2.RetrieveError
			if errors.As(err, &re) {
				// The token endpoint refused the application: a
				// configuration error, not worth retrying.
				return 0, nil, nil, cl.fail(c, re.Response.StatusCode, re.ErrorCode, re.ErrorDescription,
					fmt.Errorf("%w: token endpoint: %s", crmclient.ErrRejected, re.ErrorCode))
			}
			if ctx.Err() != nil {
				return 0, nil, nil, cl.fail(c, 0, "", "", ctx.Err())
			}
			lastErr = cl.fail(c, 0, "", "", fmt.Errorf("%w: %v", crmclient.ErrUnavailable, err))
		case status == http.StatusUnauthorized && !refreshed:
			refreshed = true
			cl.ts.invalidate()
			attempt--
			continue
		case status == http.StatusTooManyRequests:
			retryAfter = parseRetryAfter(h.Get("Retry-After"))
			cl.hold(retryAfter)
			lastErr = cl.errorFrom(c, status, body)
		case status >= 500:
			lastErr = cl.errorFrom(c, status, body)
		case status >= 400:
			return status, h, body, cl.errorFrom(c, status, body)
		default:
			return status, h, body, nil
		}
		if attempt >= cl.cfg.MaxAttempts {
			return 0, nil, nil, lastErr
		}
		wait := retryAfter
		if wait == 0 {
			wait = cl.backoff(attempt)
		}
		cl.log.Debug("crm request retried", "op", c.op, "kind", c.kind, "crm_id", c.id, "attempt", attempt, "wait", wait, "err", lastErr)
		if err := sleep(ctx, wait); err != nil {
			return 0, nil, nil, cl.fail(c, 0, "", "", err)
		}
	}
}

func (cl *Client) once(ctx context.Context, c call) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, cl.cfg.RequestTimeout)
	defer cancel()
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, body)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("OData-Version", "4.0")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if c.as != nil {
		// "Impersonate another user using the Web API": CallerObjectId is
		// the user's Microsoft Entra object id.
		req.Header.Set("CallerObjectId", c.as.ObjectID)
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

// waitGate blocks until a Retry-After the CRM gave has elapsed.
func (cl *Client) waitGate(ctx context.Context) error {
	cl.gate.Lock()
	until := cl.notBefore
	cl.gate.Unlock()
	if d := time.Until(until); d > 0 {
		return sleep(ctx, d)
	}
	return nil
}

func (cl *Client) hold(d time.Duration) {
	cl.gate.Lock()
	defer cl.gate.Unlock()
	if t := time.Now().Add(d); t.After(cl.notBefore) {
		cl.notBefore = t
	}
}

// backoff is the wait before attempt+1: exponential from MinBackoff, capped
// at MaxBackoff, with ±50% jitter so that clients do not retry in step.
func (cl *Client) backoff(attempt int) time.Duration {
	d := cl.cfg.MinBackoff << min(attempt-1, 20)
	if d > cl.cfg.MaxBackoff || d <= 0 {
		d = cl.cfg.MaxBackoff
	}
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date (RFC 9110
// §10.2.3); a missing or bad value waits one second.
func parseRetryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
		return 0
	}
	return time.Second
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// odataError is the Web API error body.
type odataError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Dataverse error codes the adapter tells apart.
const (
	codeNotFound        = "0x80040217" // ObjectDoesNotExist
	codeVersionMismatch = "0x80060882" // ConcurrencyVersionMismatch
	codeDuplicate       = "0x80040237" // DuplicateRecord
	codeExpiredToken    = "0x80044352" // ExpiredVersionStamp
)

func (cl *Client) errorFrom(c call, status int, body []byte) error {
	var oe odataError
	_ = json.Unmarshal(body, &oe)
	code, msg := oe.Error.Code, oe.Error.Message
	if msg == "" && status != http.StatusUnauthorized {
		msg = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	var sentinel error
	switch {
	case code == codeExpiredToken:
		sentinel = crmclient.ErrTokenExpired
	case status == http.StatusNotFound:
		sentinel = crmclient.ErrNotFound
	case status == http.StatusPreconditionFailed && code == codeDuplicate:
		sentinel = crmclient.ErrExists
	case status == http.StatusPreconditionFailed:
		sentinel = crmclient.ErrPrecondition
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		sentinel = crmclient.ErrForbidden
	case status == http.StatusTooManyRequests:
		sentinel = crmclient.ErrThrottled
	case status >= 500:
		sentinel = crmclient.ErrUnavailable
	default:
		sentinel = crmclient.ErrRejected
	}
	return cl.fail(c, status, code, msg, sentinel)
}

func (cl *Client) fail(c call, status int, code, msg string, err error) error {
	return &crmclient.Error{Op: c.op, Kind: c.kind, ID: c.id, Status: status, Code: code, Message: msg, Err: err}
}
