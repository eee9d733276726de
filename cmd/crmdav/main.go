// Command crmdav is the CRM ⇄ CalDAV/CardDAV gateway.
//
//	crmdav serve [flags]     run the gateway
//	crmdav user …            manage users
//	crmdav democrm [flags]   run the embedded Dataverse-compatible CRM alone
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/crmdav/crmdav/crmclient/dataverse"
)

const usage = `crmdav: a gateway that shows CRM contacts and activities as CardDAV and CalDAV collections.

Usage:
  crmdav serve [flags]     run the gateway (without --crm-url: with the embedded demo CRM)
  crmdav user add|list|remove
                           manage the gateway's users and their app passwords
  crmdav status [--data DIR]
                           pending changes, changes the CRM refused, last feed reads
  crmdav democrm [flags]   run the embedded Dataverse-compatible CRM on its own

Run "crmdav COMMAND -h" for the flags of a command.
`

// errUsage marks a command line that cannot be run; main exits with 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status: 0, 1 for a
// failure, 2 for a bad command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "democrm":
		err = runDemoCRM(ctx, args[1:], stdout, stderr)
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "user":
		err = runUser(ctx, args[1:], os.Stdin, stdout, stderr)
	case "status":
		err = runStatus(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "crmdav: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "crmdav %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "crmdav %s: %v\n", args[0], err)
		return 1
	}
}

// newFlagSet makes a flag set that reports errors through errUsage instead
// of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("crmdav "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args; a bad flag gives errUsage with flag's own
// message, which it has already printed with the usage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(os.Stdout)
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: %v (see -h)", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (see -h)", errUsage, fs.Arg(0))
	}
	return nil
}

// crmConfig is how to reach a real CRM (Dataverse), from flags or the
// environment; the secret is never printed.
type crmConfig struct {
	url, tokenURL, clientID, clientSecret string
}

// crmFlags declares the --crm-* flags, defaulting to CRMDAV_CRM_*.
func crmFlags(fs *flag.FlagSet) *crmConfig {
	c := &crmConfig{}
	fs.StringVar(&c.url, "crm-url", os.Getenv("CRMDAV_CRM_URL"), "Dataverse environment URL, e.g. https://org.crm.dynamics.com (env CRMDAV_CRM_URL); none: the embedded demo CRM")
	fs.StringVar(&c.tokenURL, "crm-token-url", os.Getenv("CRMDAV_CRM_TOKEN_URL"), "OAuth2 token URL (env CRMDAV_CRM_TOKEN_URL)")
	fs.StringVar(&c.clientID, "crm-client-id", os.Getenv("CRMDAV_CRM_CLIENT_ID"), "OAuth2 client id (env CRMDAV_CRM_CLIENT_ID)")
	fs.StringVar(&c.clientSecret, "crm-client-secret", os.Getenv("CRMDAV_CRM_CLIENT_SECRET"), "OAuth2 client secret (env CRMDAV_CRM_CLIENT_SECRET)")
	return c
}

func (c *crmConfig) client(log *slog.Logger) (*dataverse.Client, error) {
	if c.tokenURL == "" || c.clientID == "" || c.clientSecret == "" {
		return nil, fmt.Errorf("%w: --crm-url needs --crm-token-url, --crm-client-id and --crm-client-secret (or CRMDAV_CRM_* variables)", errUsage)
	}
	return dataverse.New(dataverse.Config{URL: c.url, TokenURL: c.tokenURL, ClientID: c.clientID, ClientSecret: c.clientSecret, Logger: log})
}

// randomSecret makes a password or client secret: 24 random bytes,
// URL-safe base64.
func randomSecret() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
