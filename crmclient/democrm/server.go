// Package democrm is an embedded CRM that speaks the subset of the Microsoft
// Dataverse Web API (v9.2) that crmdav uses, as strictly as Dataverse does:
// the OAuth2 client-credentials token endpoint, impersonation with
// CallerObjectId, OData queries with server paging, change tracking with
// delta links, optimistic concurrency with ETags, activity parties, service
// protection limits (429 + Retry-After) and Dataverse's error codes. It
// stores its tables in one SQLite file through gorm.
//
// It is the CRM of every test and of the out-of-the-box demo, so the real
// Dataverse adapter (crmclient/dataverse) runs against it unchanged. Faults
// (latency, 503 bursts, dropped connections, throttling) can be injected.
package democrm

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// APIPath is where the Web API is served.
const APIPath = "/api/data/v9.2/"

// TokenPath is where the token endpoint is served.
const TokenPath = "/oauth2/token"

// Options configure a Server. Zero values take Dataverse's defaults.
type Options struct {
	// Dir holds the SQLite file democrm.db; it must exist.
	Dir string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// AccessTokenLifetime is how long an access token is valid (1h).
	AccessTokenLifetime time.Duration
	// ChangeTrackingExpiry is how long a delta token stays usable
	// (Organization.ExpireChangeTrackingInDays: 7 days).
	ChangeTrackingExpiry time.Duration
	// MaxPageSize is the page size when a request asks for none or more (5000).
	MaxPageSize int
	// Throttle, when Requests > 0, limits each application to Requests
	// requests per Window (service protection, 429 + Retry-After).
	Throttle Throttle
	// PastExpansion and FutureExpansion bound the expansion of a recurring
	// series into instances around now (Organization.PastExpansionWindow,
	// FutureExpansionWindow: 12 months each); ExpansionMax bounds its
	// count (RecurrenceExpansionSynchCreateMax: 1000). See recurrence.go.
	PastExpansion, FutureExpansion time.Duration
	ExpansionMax                   int
	Logger                         *slog.Logger
}

// Throttle is a service protection limit: at most Requests in any Window.
type Throttle struct {
	Requests int
	Window   time.Duration
}

// Client is an application registration allowed to get tokens.
type Client struct {
	ID     string
	Secret string
	// UserLevelRead gives the application user only user-level read, as a
	// salesperson has; Dataverse then refuses it change tracking.
	UserLevelRead bool
}

// Server is the embedded CRM. Its Handler serves the token endpoint and the
// Web API; its Go methods administer it (users, clients, sharing, faults).
type Server struct {
	opts   Options
	log    *slog.Logger
	schema *schema
	st     *store

	mu       sync.Mutex
	clients  map[string]*appClient
	tokens   map[string]accessToken
	faults   faults
	recorded []Request
	record   bool
}

type appClient struct {
	Client
	userID string // the application user's systemuserid
	window []time.Time
}

type accessToken struct {
	clientID string
	expires  time.Time
}

// Request is a Web API request as the server received it, for tests that
// assert what an adapter sent.
type Request struct {
	At     time.Time
	Method string
	URI    string // path and query
	Header http.Header
	Body   []byte
}

// Open opens (or creates) the embedded CRM in opts.Dir.
func Open(opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("democrm: no data directory")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AccessTokenLifetime <= 0 {
		opts.AccessTokenLifetime = time.Hour
	}
	if opts.ChangeTrackingExpiry <= 0 {
		opts.ChangeTrackingExpiry = 7 * 24 * time.Hour
	}
	if opts.MaxPageSize <= 0 || opts.MaxPageSize > 5000 {
		opts.MaxPageSize = 5000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PastExpansion <= 0 {
		opts.PastExpansion = 365 * 24 * time.Hour
	}
	if opts.FutureExpansion <= 0 {
		opts.FutureExpansion = 365 * 24 * time.Hour
	}
	if opts.ExpansionMax <= 0 {
		opts.ExpansionMax = 1000
	}
	sc := newSchema()
	st, err := openStore(opts.Dir, sc)
	if err != nil {
		return nil, err
	}
	return &Server{
		opts: opts, log: opts.Logger, schema: sc, st: st,
		clients: map[string]*appClient{}, tokens: map[string]accessToken{},
	}, nil
}

// Close closes the database.
func (s *Server) Close() error { return s.st.close() }

func (s *Server) now() time.Time { return s.opts.Now().UTC().Truncate(time.Second) }

// Handler serves the token endpoint and the Web API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TokenPath, s.serveToken)
	mux.HandleFunc(APIPath, s.serveAPI)
	return mux
}

// RecordRequests turns recording of Web API requests on or off; Requests
// returns what was recorded since.
func (s *Server) RecordRequests(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record = on
	s.recorded = nil
}

// Requests returns the Web API requests recorded so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.recorded...)
}

func newSecret() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// serveToken is the OAuth 2.0 client credentials grant (RFC 6749 §4.4) in
// the form of the Microsoft identity platform's token endpoint.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeTokenError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		s.writeTokenError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type '"+gt+"'.")
		return
	}
	s.mu.Lock()
	c := s.clients[id]
	s.mu.Unlock()
	if c == nil {
		s.writeTokenError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application with identifier '"+id+"' was not found in the directory.")
		return
	}
	if secret != c.Secret {
		s.writeTokenError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+id+"'.")
		return
	}
	tok := newSecret()
	life := s.opts.AccessTokenLifetime
	s.mu.Lock()
	now := s.opts.Now()
	for k, t := range s.tokens { // forget expired tokens
		if now.After(t.expires) {
			delete(s.tokens, k)
		}
	}
	s.tokens[tok] = accessToken{clientID: id, expires: now.Add(life)}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	secs := int(life / time.Second)
	fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":%d,"ext_expires_in":%d,"access_token":%q}`, secs, secs, tok)
}

// writeTokenError answers in the shape of the Microsoft identity
// platform's "Error response": the AADSTS code leads the description, which
// ends with the trace, correlation and time that are also given apart.
func (s *Server) writeTokenError(w http.ResponseWriter, status int, code, desc string) {
	aadsts, _, _ := strings.Cut(strings.TrimPrefix(desc, "AADSTS"), ":")
	n, _ := strconv.Atoi(aadsts)
	trace, corr := uuid.NewString(), uuid.NewString()
	ts := s.opts.Now().UTC().Format("2006-01-02 15:04:05Z")
	desc += "\r\nTrace ID: " + trace + "\r\nCorrelation ID: " + corr + "\r\nTimestamp: " + ts
	var b bytes.Buffer
	b.WriteString(`{"error":`)
	writeJSONString(&b, code)
	b.WriteString(`,"error_description":`)
	writeJSONString(&b, desc)
	fmt.Fprintf(&b, `,"error_codes":[%d],"timestamp":%q,"trace_id":%q,"correlation_id":%q}`, n, ts, trace, corr)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// caller is who a Web API request acts as.
type caller struct {
	app  *appClient
	user *row // the impersonated user; nil when the application acts itself
}

// userID is the systemuserid the request acts as.
func (c *caller) userID() string {
	if c.user != nil {
		return c.user.id
	}
	return c.app.userID
}

// orgRead reports whether the caller reads the whole organization.
func (c *caller) orgRead() bool { return c.user == nil && !c.app.UserLevelRead }

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	if err != nil {
		writeError(w, &apiError{http.StatusRequestEntityTooLarge, "0x0", "Request body too large.", nil})
		return
	}
	s.mu.Lock()
	if s.record {
		s.recorded = append(s.recorded, Request{At: time.Now(), Method: r.Method, URI: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
	}
	s.mu.Unlock()
	if s.injectFault(w, r) {
		return
	}

	if s.takeLoseAnswer() {
		// The request is carried out, but its answer is lost with the
		// connection: what a client sees when a network fails mid-answer.
		s.handle(&discardWriter{h: http.Header{}}, r, body)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	s.handle(w, r, body)
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	c, aerr := s.authenticate(r)
	if aerr == nil {
		aerr = s.throttle(c.app)
	}
	if aerr == nil {
		aerr = s.route(w, r, c, body)
	}
	if aerr != nil {
		if aerr.status >= 500 {
			s.log.Error("democrm request failed", "method", r.Method, "uri", r.URL.RequestURI(), "err", aerr)
		}
		writeError(w, aerr)
	}
}

func writeError(w http.ResponseWriter, e *apiError) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	w.Header().Set("OData-Version", "4.0")
	if e.status == http.StatusUnauthorized {
		w.WriteHeader(e.status)
		return
	}
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.WriteHeader(e.status)
	var b bytes.Buffer
	b.WriteString(`{"error":{"code":`)
	writeJSONString(&b, e.code)
	b.WriteString(`,"message":`)
	writeJSONString(&b, e.message)
	b.WriteString("}}")
	w.Write(b.Bytes())
}

func internal(err error) *apiError {
	return &apiError{http.StatusInternalServerError, "0x80040216", "An unexpected error occurred: " + err.Error(), nil}
}

func (s *Server) authenticate(r *http.Request) (*caller, *apiError) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, errUnauthorized()
	}
	s.mu.Lock()
	t, ok := s.tokens[tok]
	var app *appClient
	if ok && s.opts.Now().Before(t.expires) {
		app = s.clients[t.clientID]
	}
	s.mu.Unlock()
	if app == nil {
		return nil, errUnauthorized()
	}
	c := &caller{app: app}
	// "Impersonate another user using the Web API": CallerObjectId carries the
	// user's Microsoft Entra object id; MSCRMCallerID (legacy) the systemuserid.
	if oid := r.Header.Get("CallerObjectId"); oid != "" {
		u, err := s.userBy("azureactivedirectoryobjectid", oid)
		if err != nil {
			return nil, internal(err)
		}
		if u == nil {
			return nil, &apiError{http.StatusForbidden, "0x80040225", fmt.Sprintf("The user with CallerObjectId = %s does not exist or is disabled.", oid), nil}
		}
		c.user = u
	} else if id := r.Header.Get("MSCRMCallerID"); id != "" {
		u, err := s.userBy("systemuserid", id)
		if err != nil {
			return nil, internal(err)
		}
		if u == nil {
			return nil, &apiError{http.StatusForbidden, "0x80040225", fmt.Sprintf("The user with SystemUserId = %s does not exist or is disabled.", id), nil}
		}
		c.user = u
	}
	if c.user != nil && c.user.fields()["isdisabled"] == true {
		return nil, &apiError{http.StatusForbidden, "0x80040225", fmt.Sprintf("The user with SystemUserId=%s is disabled.", c.user.id), nil}
	}
	return c, nil
}

func (s *Server) userBy(column, value string) (*row, error) {
	e := s.schema.byName["systemuser"]
	if column == "systemuserid" {
		r, err := s.st.get(e, strings.ToLower(value))
		if errors.Is(err, errNoRow) {
			return nil, nil
		}
		return r, err
	}
	rows, err := s.st.scanAll(e, func(r *row) bool {
		v, _ := r.fields()[column].(string)
		return strings.EqualFold(v, value)
	})
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}

// route dispatches a Web API request by its path.
func (s *Server) route(w http.ResponseWriter, r *http.Request, c *caller, body []byte) *apiError {
	path := strings.TrimPrefix(r.URL.Path, APIPath)
	switch {
	case path == "WhoAmI":
		if r.Method != http.MethodGet {
			return errNoResource(requestURI(r))
		}
		return s.whoAmI(w, r, c)
	case strings.HasPrefix(path, "EntityDefinitions("):
		return s.entityDefinitions(w, r, path)
	}
	seg, key, hasKey, err := splitSegment(path)
	if err != nil {
		return err
	}
	e := s.schema.bySet[seg]
	if e == nil {
		return errSegment(seg)
	}
	switch {
	case !hasKey && r.Method == http.MethodGet:
		return s.query(w, r, c, e)
	case !hasKey && r.Method == http.MethodPost:
		return s.create(w, r, c, e, body)
	case hasKey && r.Method == http.MethodGet:
		return s.retrieve(w, r, c, e, key)
	case hasKey && r.Method == http.MethodPatch:
		return s.update(w, r, c, e, key, body)
	case hasKey && r.Method == http.MethodDelete:
		return s.delete(w, r, c, e, key)
	}
	return &apiError{http.StatusMethodNotAllowed, "0x80040216", fmt.Sprintf("The HTTP method '%s' is not supported for this resource.", r.Method), nil}
}

// splitSegment splits "contacts(guid)" into the entity set and the key.
func splitSegment(path string) (set, key string, hasKey bool, err *apiError) {
	if strings.Contains(path, "/") {
		return "", "", false, errSegment(path[strings.Index(path, "/")+1:])
	}
	open := strings.IndexByte(path, '(')
	if open < 0 {
		return path, "", false, nil
	}
	if !strings.HasSuffix(path, ")") {
		return "", "", false, errSegment(path)
	}
	key = path[open+1 : len(path)-1]
	if !isGUID(key) {
		return "", "", false, errBadRequest("Bad Request - Error in query syntax.")
	}
	return path[:open], strings.ToLower(key), true, nil
}

func (s *Server) whoAmI(w http.ResponseWriter, r *http.Request, c *caller) *apiError {
	var b bytes.Buffer
	b.WriteString(`{"@odata.context":`)
	writeJSONString(&b, baseURL(r)+"$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")
	fmt.Fprintf(&b, `,"BusinessUnitId":%q,"UserId":%q,"OrganizationId":%q}`, orgID, c.userID(), orgID)
	writeJSON(w, http.StatusOK, b.Bytes())
	return nil
}

// orgID names the single organization (and business unit) of the embedded CRM.
const orgID = "00000000-0000-0000-0000-0000000000a1"

// baseURL is the absolute Web API root as the client addressed it
// ("[Organization URI]/api/data/v9.2/" in the documentation's examples).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + APIPath
}

// requestURI is the absolute URI of r, as error messages quote it.
func requestURI(r *http.Request) string {
	return baseURL(r) + strings.TrimPrefix(r.URL.RequestURI(), APIPath)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	w.Write(body)
}
