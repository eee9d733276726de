// Package dataverse is the crmclient adapter for Microsoft Dataverse
// (Dynamics 365) through its Web API v9.2: OAuth2 client credentials, OData
// v4 JSON, server paging, change tracking with delta links, optimistic
// concurrency with ETags, impersonation with CallerObjectId, and the
// service protection limits (429 + Retry-After).
//
// Reads of change feeds run as the application user; every write runs as
// the CRM user it is given, through the CallerObjectId header.
package dataverse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/crmdav/crmdav/crmclient"
)

// Config says how to reach one Dataverse environment.
type Config struct {
	// URL is the environment URL, https://org.crm.dynamics.com; the Web API
	// is at URL/api/data/v9.2/.
	URL string
	// TokenURL, ClientID and ClientSecret are the application registration
	// (Microsoft Entra ID: https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token).
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Scopes default to URL + "/.default".
	Scopes []string

	// Transport carries the requests (http.DefaultTransport when nil).
	Transport http.RoundTripper
	// RequestTimeout bounds one attempt of one request (30s).
	RequestTimeout time.Duration
	// MaxAttempts is how often a request is tried when the CRM is
	// unavailable or throttles (6).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between attempts after a
	// 5xx or a broken connection (500ms, 30s); jitter is added.
	MinBackoff, MaxBackoff time.Duration
	// PageSize is the odata.maxpagesize asked for (5000, Dataverse's most).
	PageSize int
	// Select lists the columns read per kind; all columns when absent.
	Select map[crmclient.Kind][]string

	Logger *slog.Logger
}

// Client is a Dataverse adapter; it implements crmclient.CRM and is safe for
// concurrent use.
type Client struct {
	cfg  Config
	api  string // Web API root, ending in "/"
	http *http.Client
	ts   *tokenSource
	log  *slog.Logger

	gate sync.Mutex
	// notBefore is when the CRM allows the next request after a 429.
	notBefore time.Time

	metaMu sync.Mutex
	meta   map[crmclient.Kind]map[string]string // column → AttributeType
}

var _ crmclient.CRM = (*Client)(nil)

// New makes a Client. It does not contact the CRM.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" || cfg.TokenURL == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("dataverse: URL, token URL, client id and client secret are all required")
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{cfg.URL + "/.default"}
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 5000 {
		cfg.PageSize = 5000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cc := &clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     cfg.TokenURL,
		Scopes:       cfg.Scopes,
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	tokenHTTP := &http.Client{Transport: cfg.Transport, Timeout: cfg.RequestTimeout}
	ts := &tokenSource{cc: cc, ctx: context.WithValue(context.Background(), oauth2.HTTPClient, tokenHTTP)}
	return &Client{
		cfg:  cfg,
		api:  cfg.URL + "/api/data/v9.2/",
		http: &http.Client{Transport: &oauth2.Transport{Source: ts, Base: cfg.Transport}},
		ts:   ts,
		log:  cfg.Logger,
		meta: map[crmclient.Kind]map[string]string{},
	}, nil
}

// tokenSource caches the application's access token and can drop it when
// the CRM says it is no longer valid.
type tokenSource struct {
	cc  *clientcredentials.Config
	ctx context.Context // carries the HTTP client for the token endpoint
	mu  sync.Mutex
	tok *oauth2.Token
}

func (t *tokenSource) Token() (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok.Valid() {
		return t.tok, nil
	}
	tok, err := t.cc.Token(t.ctx)
	if err != nil {
		return nil, err
	}
	t.tok = tok
	return tok, nil
}

func (t *tokenSource) invalidate() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tok = nil
}

// entitySet is the Web API entity set of a kind.
func entitySet(k crmclient.Kind) string {
	switch k {
	case crmclient.Fax:
		return "faxes"
	case crmclient.Email:
		return "emails"
	}
	return string(k) + "s"
}

// primaryKey is the primary key column of a kind.
func primaryKey(k crmclient.Kind) string {
	if k.IsActivity() {
		return "activityid"
	}
	return string(k) + "id"
}

func partiesNav(k crmclient.Kind) string { return string(k) + "_activity_parties" }

func checkKind(op string, k crmclient.Kind) error {
	if !k.Valid() {
		return &crmclient.Error{Op: op, Kind: k, Err: fmt.Errorf("%w: unknown kind %q", crmclient.ErrRejected, k)}
	}
	return nil
}
