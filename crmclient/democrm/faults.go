package democrm

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// faults are failures injected into the Web API for tests.
type faults struct {
	latency       time.Duration
	fail          int // answer the next n requests with 503
	drop          int // close the connection of the next n requests unanswered
	throttleNext  int // answer the next n requests with 429
	throttleAfter time.Duration
	loseAnswer    int // carry out the next n requests but drop their answers
}

// LoseNextAnswers carries out the next n Web API requests but closes the
// connection instead of answering, as a network failure after the CRM
// committed would.
func (s *Server) LoseNextAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.loseAnswer = n
}

func (s *Server) takeLoseAnswer() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.loseAnswer > 0 {
		s.faults.loseAnswer--
		return true
	}
	return false
}

// SetLatency delays every Web API request by d.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = d
}

// FailNext answers the next n Web API requests with 503 Service Unavailable.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.fail = n
}

// DropNext closes the connection of the next n Web API requests without
// an answer.
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.drop = n
}

// ThrottleNext answers the next n Web API requests with 429 and a
// Retry-After of d (rounded up to whole seconds, as Dataverse sends it).
func (s *Server) ThrottleNext(n int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.throttleNext, s.faults.throttleAfter = n, d
}

// SetThrottle sets the service protection limit of every application.
func (s *Server) SetThrottle(t Throttle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Throttle = t
}

// injectFault applies the injected faults to r; it reports whether it
// answered (or dropped) the request.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	f := &s.faults
	latency := f.latency
	drop := f.drop > 0
	fail := !drop && f.fail > 0
	throttle := !drop && !fail && f.throttleNext > 0
	retry := f.throttleAfter
	switch {
	case drop:
		f.drop--
	case fail:
		f.fail--
	case throttle:
		f.throttleNext--
	}
	s.mu.Unlock()

	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return true
		}
	}
	switch {
	case drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // net/http closes the connection
	case fail:
		writeError(w, &apiError{http.StatusServiceUnavailable, "0x80040216", "The service is temporarily unavailable. Please try again later.", nil})
		return true
	case throttle:
		writeError(w, errThrottled(retry, 6000, 300))
		return true
	}
	return false
}

// errThrottled is the service protection answer ("Service protection API
// limits": 429 Too Many Requests with Retry-After in seconds).
func errThrottled(retry time.Duration, limit int, window int) *apiError {
	secs := int((retry + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(secs))
	return &apiError{http.StatusTooManyRequests, "0x80072322",
		fmt.Sprintf("Number of requests exceeded the limit of %d over time window of %d seconds.", limit, window), h}
}

// throttle enforces the configured service protection limit for app: a
// sliding window of Throttle.Window holding at most Throttle.Requests.
func (s *Server) throttle(app *appClient) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.opts.Throttle
	if t.Requests <= 0 || t.Window <= 0 {
		return nil
	}
	now := s.opts.Now()
	keep := app.window[:0]
	for _, at := range app.window {
		if now.Sub(at) < t.Window {
			keep = append(keep, at)
		}
	}
	app.window = keep
	if len(app.window) >= t.Requests {
		wait := t.Window - now.Sub(app.window[0])
		return errThrottled(wait, t.Requests, int(t.Window/time.Second))
	}
	app.window = append(app.window, now)
	return nil
}
