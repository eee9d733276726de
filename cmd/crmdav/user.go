package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/crmdav/crmdav/crmclient"
	"github.com/crmdav/crmdav/crmclient/democrm"
	"github.com/crmdav/crmdav/syncstate"
)

const userUsage = `Usage:
  crmdav user add NAME --crm-user EMAIL [--password-stdin] [--data DIR] [--crm-* flags]
  crmdav user list [--data DIR]
  crmdav user remove NAME [--data DIR]
`

// runUser manages gateway users. It works while the server runs: the state
// is one SQLite file in WAL mode.
func runUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: a user command is needed\n%s", errUsage, userUsage)
	}
	cmd, args := args[0], args[1:]
	fs := newFlagSet("user "+cmd, stderr)
	dir := fs.String("data", "./crmdav-data", "directory of the gateway's state")
	var crmUser *string
	var fromStdin *bool
	var crm *crmConfig
	if cmd == "add" {
		crmUser = fs.String("crm-user", "", "the CRM user (sign-in name or e-mail) the gateway acts as for this user")
		fromStdin = fs.Bool("password-stdin", false, "read the app password from standard input instead of generating one")
		crm = crmFlags(fs)
	}
	// The name comes first: "user add alice --crm-user …".
	var name string
	if (cmd == "add" || cmd == "remove") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch cmd {
	case "add", "remove":
		if name == "" {
			return fmt.Errorf("%w: a user name is needed\n%s", errUsage, userUsage)
		}
	case "list":
	default:
		return fmt.Errorf("%w: unknown user command %q\n%s", errUsage, cmd, userUsage)
	}
	if _, err := os.Stat(filepath.Join(*dir, "crmdav.db")); err != nil && cmd != "add" {
		return fmt.Errorf("no gateway state in %s (see --data)", *dir)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	st, err := syncstate.Open(*dir, syncstate.Options{})
	if err != nil {
		return err
	}
	defer st.Close()

	switch cmd {
	case "list":
		us, err := st.Users(ctx)
		if err != nil {
			return err
		}
		for _, u := range us {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", u.Name, u.CRMUser, u.CreatedAt.Format("2006-01-02"))
		}
		return nil
	case "remove":
		if err := st.RemoveUser(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s\n", name)
		return nil
	}

	if *crmUser == "" {
		return fmt.Errorf("%w: --crm-user is needed", errUsage)
	}
	cu, err := lookUpCRMUser(ctx, crm, filepath.Join(*dir, "democrm"), *crmUser)
	if err != nil {
		return err
	}
	password := ""
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("no password on standard input")
		}
		password = strings.TrimRight(line, "\r\n")
	} else {
		password = randomSecret()[:20]
	}
	if _, err := st.AddUser(ctx, name, password, cu); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added %s, acting as CRM user %s\n", name, cu.DomainName)
	if !*fromStdin {
		fmt.Fprintf(stdout, "app password (shown once): %s\n", password)
	}
	return nil
}

// lookUpCRMUser finds a CRM user by sign-in name or e-mail: in the
// configured CRM, or in the embedded demo CRM's data.
func lookUpCRMUser(ctx context.Context, crm *crmConfig, demoDir, name string) (crmclient.User, error) {
	var users []crmclient.User
	if crm.url != "" {
		client, err := crm.client(slog.New(slog.DiscardHandler))
		if err != nil {
			return crmclient.User{}, err
		}
		if users, err = client.FindUsers(ctx, name); err != nil {
			return crmclient.User{}, err
		}
	} else {
		if _, err := os.Stat(filepath.Join(demoDir, "democrm.db")); err != nil {
			return crmclient.User{}, fmt.Errorf("no CRM configured (--crm-url) and no embedded CRM data in %s", demoDir)
		}
		d, err := democrm.Open(democrm.Options{Dir: demoDir})
		if err != nil {
			return crmclient.User{}, err
		}
		defer d.Close()
		all, err := d.Users()
		if err != nil {
			return crmclient.User{}, err
		}
		for _, u := range all {
			if strings.EqualFold(u.DomainName, name) || strings.EqualFold(u.Email, name) {
				users = append(users, u)
			}
		}
	}
	switch len(users) {
	case 0:
		return crmclient.User{}, fmt.Errorf("the CRM has no user %q", name)
	case 1:
		if users[0].Disabled {
			return crmclient.User{}, fmt.Errorf("CRM user %q is disabled", name)
		}
		return users[0], nil
	}
	return crmclient.User{}, fmt.Errorf("%q names %d CRM users; use the sign-in name", name, len(users))
}
