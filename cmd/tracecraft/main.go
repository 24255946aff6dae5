// Command tracecraft is the Tracecraft binary: the server, and the administration commands that
// work on its store directly.
//
//	tracecraft serve [--addr 127.0.0.1:8080] [--data DIR] [--mongo-uri URI]
//	tracecraft user add|passwd|list …
//	tracecraft audit verify|seal
//	tracecraft bus failed|retry …
//	tracecraft cert init --hosts NAME,IP,…
//	tracecraft bench
//	tracecraft version
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "tracecraft:", err)
		os.Exit(1)
	}
}

const usage = `Tracecraft — low-code forms, workflow and food traceability.

Usage:
  tracecraft serve [--addr 127.0.0.1:8080] [--data ./data] [--mongo-uri URI]
                   [--tls-cert FILE --tls-key FILE | --tls-auto [--tls-hosts NAME,IP,...]]
  tracecraft user add USERNAME [--name NAME] [--roles admin,...] [--password-stdin]
  tracecraft user passwd USERNAME [--password-stdin]
  tracecraft user list
  tracecraft audit verify
  tracecraft audit seal
  tracecraft bus failed
  tracecraft bus retry KEY... | --all
  tracecraft cert init --hosts plant.local,192.168.1.10 [--name PLANT]
  tracecraft bench [--n 2000] [--docs 100000] [--records 5000] [--import-rows 10000] [--sqlite-sync normal|full] [--mongo-uri URI]
  tracecraft version

Every command takes --data DIR (the embedded store's folder, default ./data; --sqlite-sync normal
or full, see docs/operations.md) or --mongo-uri URI (also TRACECRAFT_MONGO_URI) to use a MongoDB
instead, and --audit-key-file FILE (also TRACECRAFT_AUDIT_KEY_FILE, or the key itself in
TRACECRAFT_AUDIT_KEY): the audit log's key, required with MongoDB; on the embedded store
DIR/audit.key is made when missing. Commands other than serve open the store themselves: on the
embedded store, stop the server first.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "user":
		return cmdUser(ctx, args[1:], stdin, stdout, stderr)
	case "audit":
		return cmdAudit(ctx, args[1:], stdout, stderr)
	case "bus":
		return cmdBus(ctx, args[1:], stdout, stderr)
	case "bench":
		return cmdBench(ctx, args[1:], stdout, stderr)
	case "cert":
		return cmdCert(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "tracecraft", version())
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
