package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"tracecraft/engine"
	"tracecraft/forms"
)

func cmdUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("user: say add, passwd or list")
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("user "+sub, stderr)
	var sf storeFlags
	sf.register(fs)
	name := fs.String("name", "", "display name (add)")
	roles := fs.String("roles", "", "comma-separated roles (add)")
	dept := fs.String("department", "", "department id (add)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (otherwise a random one is printed)")
	// Flags may come after the user name: parse, take the name, parse the rest.
	if err := fs.Parse(args); err != nil {
		return err
	}
	var username string
	if rest := fs.Args(); len(rest) > 0 {
		username = rest[0]
		if err := fs.Parse(rest[1:]); err != nil {
			return err
		}
	}
	if sub != "list" && username == "" {
		return fmt.Errorf("user %s: give a user name", sub)
	}
	k, err := sf.openKernel(ctx, newLogger(stderr, slog.LevelWarn))
	if err != nil {
		return err
	}
	defer k.Close(context.Background())
	sys := engine.SystemPrincipal()
	// The first command on a new store sets it up as serve would, so that an admin exists.
	created, adminPW, err := k.Auth.Bootstrap(ctx, os.Getenv("TRACECRAFT_ADMIN_PASSWORD"))
	if err != nil {
		return err
	}
	if created && adminPW != "" {
		fmt.Fprintf(stdout, "new store: created user admin with password: %s\n", adminPW)
	}

	password := func() (string, bool, error) {
		if *fromStdin {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return "", false, err
			}
			return strings.TrimRight(line, "\r\n"), false, nil
		}
		return randomPassword(), true, nil
	}
	switch sub {
	case "add":
		pw, generated, err := password()
		if err != nil {
			return err
		}
		var rs []string
		for _, r := range strings.Split(*roles, ",") {
			if r = strings.TrimSpace(r); r != "" {
				rs = append(rs, r)
			}
		}
		u, err := k.Auth.CreateUser(ctx, sys, engine.UserInput{Username: username, DisplayName: *name, Roles: rs, Department: *dept, Password: pw})
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "created user %s\n", u.Username)
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", pw)
		}
		return nil
	case "passwd":
		pw, generated, err := password()
		if err != nil {
			return err
		}
		if err := k.Auth.SetPassword(ctx, sys, username, pw); err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "password of %s changed; their sessions are ended\n", username)
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", pw)
		}
		return nil
	case "list":
		users, err := k.Auth.ListUsers(ctx, sys)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tNAME\tROLES\tDEPARTMENT\tSTATUS")
		for _, u := range users {
			status := "active"
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.DisplayName, strings.Join(u.Roles, ","), u.Department, status)
		}
		return tw.Flush()
	}
	return fmt.Errorf("user: unknown subcommand %q (add, passwd, list)", sub)
}

// describe spells out field errors for a terminal.
func describe(err error) error {
	if fe, ok := engine.AsFieldErrors(err); ok {
		var parts []string
		for _, f := range fe {
			parts = append(parts, f.Path+" "+engine.Message(engine.LangEN, f.Code, f.Params))
		}
		return errors.New(strings.Join(parts, "; "))
	}
	return err
}

// randomPassword makes a 20-character password of letters and digits (both always present).
func randomPassword() string {
	const letters = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
	const digits = "23456789"
	const all = letters + digits
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = all[int(v)%len(all)]
	}
	out[3] = digits[int(b[3])%len(digits)]
	out[11] = letters[int(b[11])%len(letters)]
	return string(out)
}

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" && args[0] != "seal" {
		return errors.New("audit: say verify or seal")
	}
	sub := args[0]
	fs := newFlagSet("audit "+sub, stderr)
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	k, err := sf.openKernel(ctx, newLogger(stderr, slog.LevelWarn))
	if err != nil {
		return err
	}
	defer k.Close(context.Background())
	if sub == "seal" {
		n, err := k.Audit.SealLegacy(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			fmt.Fprintln(stdout, "nothing to seal: no entries without a keyed hash, or sealed already")
			return nil
		}
		fmt.Fprintf(stdout, "sealed entries 1 to %d, written before the audit key, under the key\n", n)
		return nil
	}
	// The engines say which collections the log covers: every stored revision of a record must
	// have its entry.
	forms.New(k, forms.Options{Location: k.Location()})
	rep, err := k.Audit.Verify(ctx)
	if err != nil {
		return err
	}
	if !rep.OK && rep.FirstBad == 0 {
		fmt.Fprintf(stdout, "audit log INCOMPLETE: %d entries, hash chain intact; %s\n", rep.Entries, rep.Reason)
		return fmt.Errorf("%d stored revisions have no audit entry", rep.Unaudited)
	}
	if !rep.OK {
		fmt.Fprintf(stdout, "audit log TAMPERED: %d entries; first bad entry #%d: %s\n", rep.Entries, rep.FirstBad, rep.Reason)
		return fmt.Errorf("audit chain broken at entry %d", rep.FirstBad)
	}
	legacy := ""
	if rep.Legacy > 0 {
		legacy = fmt.Sprintf(" (the first %d, written before the key, by the keyed checkpoint over them)", rep.Legacy)
	}
	fmt.Fprintf(stdout, "audit log OK: %d entries, keyed hash chain intact%s\n", rep.Entries, legacy)
	if rep.LastHash != "" {
		fmt.Fprintf(stdout, "last entry #%d: %s (keep it elsewhere to notice removed entries later)\n", rep.Entries, rep.LastHash)
	}
	return nil
}
