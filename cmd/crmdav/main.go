// Command crmdav is the CRM ⇄ CalDAV/CardDAV gateway.
//
//	crmdav democrm [flags]   run the embedded Dataverse-compatible CRM alone
//	crmdav serve [flags]     run the gateway (not built yet)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `crmdav: a gateway that shows CRM contacts and activities as CardDAV and CalDAV collections.

Usage:
  crmdav democrm [flags]   run the embedded Dataverse-compatible CRM on its own
  crmdav serve [flags]     run the gateway

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
