package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the tracecraft binary once per test run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tcbin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tracecraft")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	out  *bytes.Buffer
}

func startServer(t *testing.T, data, addr string) *server {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--addr", addr, "--data", data)
	cmd.Env = append(os.Environ(), "TRACECRAFT_ADMIN_PASSWORD=crash-Test-pw1")
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, addr: addr, out: out}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("server did not come up: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *server) call(method, path, token string, body any) (int, map[string]any) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+s.addr+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func (s *server) must(method, path, token string, body any, want int) map[string]any {
	s.t.Helper()
	st, out := s.call(method, path, token, body)
	if st != want {
		s.t.Fatalf("%s %s: %d, want %d: %v", method, path, st, want, out)
	}
	return out
}

func (s *server) login() string {
	s.t.Helper()
	return s.must("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": "crash-Test-pw1"}, 200)["token"].(string)
}

// TestKillLosesNoAcknowledgedWrite runs the real binary, writes records from four clients, kills
// the server with SIGKILL at a random moment, restarts it and checks that every record whose
// creation was acknowledged is there, that no auto-number was handed out twice, and that the
// audit chain verifies.
func TestKillLosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: it builds and runs the binary")
	}
	data := filepath.Join(t.TempDir(), "d")
	addr := freePort(t)
	s := startServer(t, data, addr)
	token := s.login()
	s.must("POST", "/api/v1/apps", token, map[string]any{"key": "plant", "name": map[string]string{"zh-CN": "工厂"}}, 201)
	def := map[string]any{
		"key":  "receipt",
		"name": map[string]string{"zh-CN": "收货", "en": "Receipt"},
		"schema": map[string]any{"type": "object", "required": []string{"qty"}, "properties": map[string]any{
			"lot": map[string]any{"x-type": "autonumber", "x-label": map[string]string{"zh-CN": "批次"}, "x-options": map[string]any{"pattern": "RM{yyMMdd}{seq:5}", "reset": "day"}},
			"qty": map[string]any{"x-type": "number", "x-label": map[string]string{"zh-CN": "数量"}, "minimum": 0},
		}},
	}
	s.must("POST", "/api/v1/apps/plant/forms", token, def, 201)
	s.must("POST", "/api/v1/apps/plant/forms/receipt/publish", token, nil, 201)

	type acked struct {
		id, lot string
		qty     float64
	}
	var mu sync.Mutex
	var done []acked
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				qty := float64(w*100000 + i)
				st, out := s.call("POST", "/api/v1/apps/plant/forms/receipt/records", token, map[string]any{"data": map[string]any{"qty": qty}})
				if st != 201 {
					continue // the server is gone: this write was never acknowledged
				}
				d := out["data"].(map[string]any)
				mu.Lock()
				done = append(done, acked{id: out["id"].(string), lot: d["lot"].(string), qty: qty})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Duration(800+rand.IntN(1500)) * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	cancel()
	wg.Wait()
	if len(done) < 10 {
		t.Fatalf("only %d writes acknowledged before the kill: %s", len(done), s.out)
	}
	t.Logf("%d writes acknowledged before SIGKILL", len(done))

	s = startServer(t, data, addr)
	token = s.login()
	lots := map[string]bool{}
	for _, a := range done {
		out := s.must("GET", "/api/v1/apps/plant/forms/receipt/records/"+a.id, token, nil, 200)
		d := out["data"].(map[string]any)
		if d["lot"] != a.lot || d["qty"] != a.qty {
			t.Fatalf("record %s came back as %v, acknowledged as lot %s qty %v", a.id, d, a.lot, a.qty)
		}
		if lots[a.lot] {
			t.Fatalf("auto-number %s handed out twice", a.lot)
		}
		lots[a.lot] = true
	}
	// New records after the restart continue the numbering without reuse.
	out := s.must("POST", "/api/v1/apps/plant/forms/receipt/records", token, map[string]any{"data": map[string]any{"qty": 1}}, 201)
	if lot := out["data"].(map[string]any)["lot"].(string); lots[lot] {
		t.Fatalf("after restart, auto-number %s reused", lot)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("graceful stop: %v: %s", err, s.out)
	}
	verify, err := exec.Command(binary(t), "audit", "verify", "--data", data).CombinedOutput()
	if err != nil || !strings.Contains(string(verify), "audit log OK") {
		t.Fatalf("audit verify after the crash: %v: %s", err, verify)
	}
}

func TestCLIUserCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(binary(t), args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("s3cret-Pass\n", "user", "add", "qa1", "--data", data, "--name", "质检员", "--password-stdin")
	if err != nil || !strings.Contains(out, "created user qa1") {
		t.Fatalf("user add: %v: %s", err, out)
	}
	if out, err = run("", "user", "add", "qa1", "--data", data); err == nil || !strings.Contains(out, "exists") {
		t.Fatalf("duplicate user add: %v: %s", err, out)
	}
	if out, err = run("short\n", "user", "passwd", "qa1", "--data", data, "--password-stdin"); err == nil || !strings.Contains(out, "password") {
		t.Fatalf("weak password accepted: %v: %s", err, out)
	}
	if out, err = run("", "user", "passwd", "qa1", "--data", data); err != nil || !strings.Contains(out, "password: ") {
		t.Fatalf("random password: %v: %s", err, out)
	}
	if out, err = run("", "user", "list", "--data", data); err != nil || !strings.Contains(out, "qa1") || !strings.Contains(out, "质检员") {
		t.Fatalf("user list: %v: %s", err, out)
	}
	if out, err = run("", "audit", "verify", "--data", data); err != nil || !strings.Contains(out, "audit log OK") {
		t.Fatalf("audit verify: %v: %s", err, out)
	}
	if out, err = run("", "version"); err != nil || !strings.HasPrefix(out, "tracecraft ") {
		t.Fatalf("version: %v: %s", err, out)
	}
	if out, err = run("", "frobnicate"); err == nil || !strings.Contains(out, "unknown command") {
		t.Fatalf("unknown command: %v: %s", err, out)
	}
}
