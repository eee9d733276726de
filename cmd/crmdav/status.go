package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/crmdav/crmdav/syncstate"
)

// runStatus prints the state of the sync: pending changes (those retrying
// after a failure with their last error), changes the CRM refused, when
// each change feed was last read. It works while the server
// runs. It exits 1 when the CRM refused changes, so scripts can alert.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", stderr)
	dir := fs.String("data", "./crmdav-data", "directory of the gateway's state")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(*dir, "crmdav.db")); err != nil {
		return fmt.Errorf("no gateway state in %s (see --data)", *dir)
	}
	st, err := syncstate.Open(*dir, syncstate.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := st.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "users %d, objects %d, changes waiting for the CRM %d, refused by the CRM %d\n", s.Users, s.Items, s.Pending, len(s.Rejected))
	kinds := make([]string, 0, len(s.Polled))
	for k := range s.Polled {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(stdout, "  %s feed read %s\n", k, s.Polled[k].Local().Format(time.DateTime))
	}
	for _, r := range s.Retrying {
		fmt.Fprintf(stdout, "retrying: %s %s/%s %s (%s %s), accepted %s, %d attempts, next %s: %s\n", r.Op, r.User, r.Collection, r.Href, r.CRMKind, r.CRMID,
			r.AcceptedAt.Local().Format(time.DateTime), r.Attempts, r.NextAttempt.Local().Format(time.DateTime), r.Error)
	}
	for _, r := range s.Rejected {
		fmt.Fprintf(stdout, "refused: %s %s/%s %s (%s %s), accepted %s: %s\n", r.Op, r.User, r.Collection, r.Href, r.CRMKind, r.CRMID,
			r.AcceptedAt.Local().Format(time.DateTime), r.Error)
	}
	if len(s.Rejected) > 0 {
		return fmt.Errorf("%d changes were refused by the CRM", len(s.Rejected))
	}
	return nil
}
