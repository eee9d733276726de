// Package server is the gateway's HTTP server: Basic authentication
// against app passwords, request logging, the manual sync endpoint, health,
// and the lifecycle of the background sync (start, stop, drain).
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/crmdav/crmdav/dav"
	"github.com/crmdav/crmdav/syncstate"
)

// Config is what the server runs with; cmd fills it in.
type Config struct {
	Store  *syncstate.Store
	Syncer *syncstate.Syncer
	Logger *slog.Logger
	// SyncTimeout bounds POST /sync (60s); past it the answer is 504 and
	// the round goes on in the background.
	SyncTimeout time.Duration
	// MaxBodySize bounds request bodies (10 MiB).
	MaxBodySize int64
}

// Server serves DAV for the gateway's users.
type Server struct {
	cfg      Config
	log      *slog.Logger
	dav      http.Handler
	auth     *authCache
	failures *failureLimiter
	metrics  *metrics
	round    singleflight.Group // one manual round at a time
	rounds   sync.WaitGroup     // manual rounds running
}

// New makes a Server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = 60 * time.Second
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = 10 << 20
	}
	s := &Server{cfg: cfg, log: cfg.Logger, auth: newAuthCache(5 * time.Minute), failures: newFailureLimiter(20, time.Minute)}
	s.metrics = newMetrics(cfg.Store)
	s.dav = dav.NewHandler(storeAdapter{cfg.Store, cfg.Syncer}, cfg.Logger, dav.Options{
		MaxBodySize: cfg.MaxBodySize,
		UserAddress: func(user string) string { return cfg.Store.UserAddress(context.Background(), user) },
	})
	return s
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.Handle("POST /sync", s.authenticated(http.HandlerFunc(s.serveSync)))
	mux.Handle("/", s.authenticated(s.dav))
	return s.logged(mux)
}

// Serve answers on ln and runs the background sync until ctx is done; then
// it stops accepting requests, lets those in flight finish, and stops the
// sync after the item it is pushing (DESIGN.md, STYLE habit 7).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	syncCtx, stopSync := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSync()
	g, gctx := errgroup.WithContext(context.WithoutCancel(ctx))
	g.Go(func() error {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error { return s.cfg.Syncer.Run(syncCtx) })
	g.Go(func() error {
		select {
		case <-ctx.Done():
		case <-gctx.Done(): // the listener failed
		}
		s.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := hs.Shutdown(sctx)
		stopSync()
		s.rounds.Wait() // manual rounds still running
		return err
	})
	return g.Wait()
}

// serveSync runs a full round (poll, then push) and answers when it is
// done: 200, or 504 when it takes longer than SyncTimeout (the round goes
// on). Requests that come while a round runs wait for that round rather
// than start another.
func (s *Server) serveSync(w http.ResponseWriter, r *http.Request) {
	ch := s.round.DoChan("round", func() (any, error) {
		s.rounds.Add(1)
		defer s.rounds.Done()
		return nil, s.cfg.Syncer.Round(context.WithoutCancel(r.Context()))
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			s.log.Warn("sync round failed", "err", res.Err)
			http.Error(w, "sync round failed: "+res.Err.Error(), http.StatusBadGateway)
			return
		}
		w.Write([]byte("synchronized\n"))
	case <-time.After(s.cfg.SyncTimeout):
		http.Error(w, "the sync round is still running", http.StatusGatewayTimeout)
	}
}

// authCache remembers recently verified passwords (as SHA-256, with the
// user's credential stamp) so that bcrypt runs once per user every few
// minutes, not on every request. A changed password or a removed user
// changes the stamp, which the server reads on every request, so the cache
// never outlives a credential.
type authCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]authEntry
}

type authEntry struct {
	sum     [32]byte
	stamp   string
	expires time.Time
}

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{ttl: ttl, m: map[string]authEntry{}}
}

func (c *authCache) ok(user, password, stamp string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.m[user]
	sum := sha256.Sum256([]byte(password))
	return found && e.stamp == stamp && time.Now().Before(e.expires) && subtle.ConstantTimeCompare(e.sum[:], sum[:]) == 1
}

func (c *authCache) put(user, password, stamp string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[user] = authEntry{sum: sha256.Sum256([]byte(password)), stamp: stamp, expires: time.Now().Add(c.ttl)}
}

// authenticated requires HTTP Basic authentication (RFC 7617) with a
// user's app password.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if wait := s.failures.blocked(host); wait > 0 {
			// Password guessing: no bcrypt for this address for a while.
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
			http.Error(w, "too many failed logins; try again later", http.StatusTooManyRequests)
			return
		}
		user, pass, ok := r.BasicAuth()
		if ok {
			ok = s.verify(r.Context(), user, pass)
		}
		if !ok {
			if user != "" {
				s.failures.add(host)
				s.log.Warn("authentication failed", "user", user, "remote", r.RemoteAddr)
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="crmdav", charset="UTF-8"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		setLogUser(r, user)
		next.ServeHTTP(w, r.WithContext(dav.WithUser(r.Context(), user)))
	})
}

func (s *Server) verify(ctx context.Context, user, pass string) bool {
	stamp, err := s.cfg.Store.CredentialStamp(ctx, user)
	if err == nil && s.auth.ok(user, pass, stamp) {
		return true
	}
	// Unknown users go through bcrypt too, so timing does not tell
	// which names exist.
	if _, err := s.cfg.Store.Authenticate(ctx, user, pass); err != nil {
		return false
	}
	s.auth.put(user, pass, stamp)
	return true
}

// failureLimiter counts failed logins per client address: past max in a
// window, the address is refused until the window ends.
type failureLimiter struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	m      map[string]failureCount
}

type failureCount struct {
	n     int
	since time.Time
}

func newFailureLimiter(max int, window time.Duration) *failureLimiter {
	return &failureLimiter{max: max, window: window, m: map[string]failureCount{}}
}

func (l *failureLimiter) add(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if len(l.m) > 100_000 { // bounded memory under a spray from many addresses
		for h, c := range l.m {
			if now.Sub(c.since) > l.window {
				delete(l.m, h)
			}
		}
	}
	c := l.m[host]
	if now.Sub(c.since) > l.window {
		c = failureCount{since: now}
	}
	c.n++
	l.m[host] = c
}

// blocked returns how long host must wait, 0 when it may try.
func (l *failureLimiter) blocked(host string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.m[host]
	if !ok || c.n < l.max {
		return 0
	}
	wait := l.window - time.Since(c.since)
	if wait <= 0 {
		delete(l.m, host)
		return 0
	}
	return wait
}

// statusWriter records the status of an answer for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
	user   string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type logKey struct{}

func setLogUser(r *http.Request, user string) {
	if sw, ok := r.Context().Value(logKey{}).(*statusWriter); ok {
		sw.user = user
	}
}

// logged writes one line per request: method, path, status, user, time.
func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), logKey{}, sw)))
		s.metrics.observe(r.Method, sw.status, time.Since(start))
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", sw.status,
			"user", sw.user, "duration", time.Since(start).Round(time.Microsecond))
	})
}
