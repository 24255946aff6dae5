package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"tracecraft/engine"
)

// cmdBus lists failing event deliveries and revives dead ones, on a store the server does not
// hold (stop it first on the embedded store; with servers running, use the HTTP API, whose
// retry starts at once).
func cmdBus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "failed" && args[0] != "retry" {
		return errors.New("bus: say failed or retry")
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("bus "+sub, stderr)
	var sf storeFlags
	sf.register(fs)
	all := fs.Bool("all", false, "retry every dead delivery (retry)")
	// Flags may come before, between or after the delivery keys.
	var keys []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		keys = append(keys, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if sub == "failed" && len(keys) > 0 {
		return fmt.Errorf("bus failed: unexpected argument %q", keys[0])
	}
	if sub == "retry" && len(keys) == 0 && !*all {
		return errors.New("bus retry: give the keys of dead deliveries (see tracecraft bus failed), or --all")
	}
	k, err := sf.openKernel(ctx, newLogger(stderr, slog.LevelWarn))
	if err != nil {
		return err
	}
	defer k.Close(context.Background())
	failed, err := k.Bus.Failed(ctx)
	if err != nil {
		return err
	}
	if sub == "failed" {
		if len(failed) == 0 {
			fmt.Fprintln(stdout, "no failing deliveries")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tSTATE\tATTEMPTS\tEVENT\tTARGET\tLAST FAILED\tERROR")
		for _, d := range failed {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", d.Key, d.State, d.Attempts, d.Event.Type, d.Event.Target,
				d.LastFailed.Format(time.RFC3339), oneLine(d.Error, 100))
		}
		return tw.Flush()
	}
	if *all {
		for _, d := range failed {
			if d.State == engine.DeliveryDead {
				keys = append(keys, d.Key)
			}
		}
		if len(keys) == 0 {
			fmt.Fprintln(stdout, "no dead deliveries")
			return nil
		}
	}
	var errs []error
	for _, key := range keys {
		if err := k.RetryDelivery(ctx, engine.SystemPrincipal(), key); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: marked for delivery when the server next starts\n", key)
	}
	return errors.Join(errs...)
}

// oneLine shortens s to at most n runes on one line, for a table cell.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
