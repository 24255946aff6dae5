package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/forms"
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

// startKillTest starts the real binary on a fresh data folder and signs in as the
// administrator, as every kill test does (skipped with -short: it builds and runs the binary);
// startServer(t, data, s.addr) starts it again after a kill.
func startKillTest(t *testing.T) (s *server, data, token string) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped with -short: it builds and runs the binary")
	}
	data = filepath.Join(t.TempDir(), "d")
	s = startServer(t, data, freePort(t))
	return s, data, s.login()
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

// callList is call for answers that are JSON arrays.
func (s *server) callList(method, path, token string) (int, []map[string]any) {
	req, _ := http.NewRequest(method, "http://"+s.addr+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	var out []map[string]any
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

// plantWithFlow makes the app plant with the form key (its fields props, required ones
// required), published, and a published flow flowKey that starts on each new record and waits
// for admin's approval.
func (s *server) plantWithFlow(token, key, name string, required []string, props map[string]any, flowKey string) {
	s.must("POST", "/api/v1/apps", token, map[string]any{"key": "plant", "name": map[string]string{"zh-CN": "工厂"}}, 201)
	def := map[string]any{
		"key":    key,
		"name":   map[string]string{"zh-CN": name, "en": key},
		"schema": map[string]any{"type": "object", "required": required, "properties": props},
	}
	s.must("POST", "/api/v1/apps/plant/forms", token, def, 201)
	s.must("POST", "/api/v1/apps/plant/forms/"+key+"/publish", token, nil, 201)
	flow := map[string]any{
		"key": flowKey, "name": map[string]string{"zh-CN": "复核", "en": "Check"}, "form": key,
		"trigger": map[string]any{"on": "create"},
		"nodes": []map[string]any{
			{"id": "start", "type": "start", "next": "qa"},
			{"id": "qa", "type": "approval", "mode": "any", "assignees": []map[string]any{{"kind": "user", "users": []string{"admin"}}}, "next": "ok"},
			{"id": "ok", "type": "end", "outcome": "approved"},
		},
	}
	s.must("POST", "/api/v1/apps/plant/flows", token, flow, 201)
	s.must("POST", "/api/v1/apps/plant/flows/"+flowKey+"/publish", token, nil, 201)
}

// TestKillLosesNoAcknowledgedWrite runs the real binary, writes records from four clients, kills
// the server with SIGKILL at a random moment, restarts it and checks that every record whose
// creation was acknowledged is there, that no auto-number was handed out twice, and that the
// audit chain verifies.
//
// Issue 8 item 4, no stored write without its effects: every record in the store after the
// restart — acknowledged or not (its client got no answer) — has exactly one audit entry and its
// flow instance, no entry claims a create that is not stored unless it was voided, and audit
// verify fails on a record revision written behind the log's back.
func TestKillLosesNoAcknowledgedWrite(t *testing.T) {
	s, data, token := startKillTest(t)
	s.plantWithFlow(token, "receipt", "收货", []string{"qty"}, map[string]any{
		"lot": map[string]any{"x-type": "autonumber", "x-label": map[string]string{"zh-CN": "批次"}, "x-options": map[string]any{"pattern": "RM{yyMMdd}{seq:5}", "reset": "day"}},
		"qty": map[string]any{"x-type": "number", "x-label": map[string]string{"zh-CN": "数量"}, "minimum": 0},
	}, "release")

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

	s = startServer(t, data, s.addr)
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
	stored := crashStoredRecords(t, s, token)
	for _, a := range done {
		if !stored[a.id] {
			t.Fatalf("acknowledged record %s is not listed", a.id)
		}
	}
	crashCheckAudit(t, s, token, stored)
	crashCheckFlows(t, s, token, stored)
	t.Logf("%d records in the store after the restart, %d of them acknowledged", len(stored), len(done))

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

	// A record revision stored behind the log's back — a new record, and a second revision of
	// an acknowledged one — is reported.
	crashForge(t, data, done[0].id)
	verify, err = exec.Command(binary(t), "audit", "verify", "--data", data).CombinedOutput()
	if err == nil || !strings.Contains(string(verify), "2 stored revisions have no audit entry") {
		t.Fatalf("audit verify after writes behind the log's back: %v: %s", err, verify)
	}
}

// crashStoredRecords lists the ids of every record of plant/receipt.
func crashStoredRecords(t *testing.T, s *server, token string) map[string]bool {
	t.Helper()
	return crashStoredRecordsOf(t, s, token, "receipt")
}

// crashStoredRecordsOf lists the ids of every record of plant/form.
func crashStoredRecordsOf(t *testing.T, s *server, token, form string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	cursor := ""
	for {
		path := "/api/v1/apps/plant/forms/" + form + "/records?limit=500"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		out := s.must("GET", path, token, nil, 200)
		items, _ := out["items"].([]any)
		for _, it := range items {
			ids[it.(map[string]any)["id"].(string)] = true
		}
		cursor, _ = out["next"].(string)
		if cursor == "" {
			return ids
		}
	}
}

// crashCheckAudit checks that each stored record has exactly one record.create entry that is not
// voided, and that every create entry not voided is of a stored record.
func crashCheckAudit(t *testing.T, s *server, token string, stored map[string]bool) {
	t.Helper()
	crashCheckAuditOf(t, s, token, "receipt", stored)
}

// crashCheckAuditOf is crashCheckAudit for the records of plant/form.
func crashCheckAuditOf(t *testing.T, s *server, token, form string, stored map[string]bool) {
	t.Helper()
	entries, voided := s.liveAudit(t, token, "record.create")
	live := map[string]int{}
	for _, e := range entries {
		target := e["target"].(string)
		live[target]++
		id, ok := strings.CutPrefix(target, "plant/"+form+"/")
		if ok && !stored[id] {
			t.Errorf("audit entry %.0f says record %s was created, but it is not stored and the entry is not voided", e["seq"], id)
		}
	}
	for id := range stored {
		if n := live["plant/"+form+"/"+id]; n != 1 {
			t.Errorf("record %s has %d record.create audit entries, want exactly 1", id, n)
		}
	}
	t.Logf("%d audit entries voided at start-up (writes the kill cut between entry and record)", voided)
}

// liveAudit pages through the whole audit log and returns its entries of action that no
// audit.void entry voids (start-up voids the entries of writes a kill cut short), and how many
// audit.void entries there are.
func (s *server) liveAudit(t *testing.T, token, action string) ([]map[string]any, int) {
	t.Helper()
	var entries []map[string]any
	voided := map[string]bool{} // seq (zero-padded) → voided
	before := ""
	for {
		path := "/api/v1/audit?limit=500"
		if before != "" {
			path += "&before=" + before
		}
		st, out := s.callList("GET", path, token)
		if st != 200 {
			t.Fatalf("list audit: %d", st)
		}
		if len(out) == 0 {
			break
		}
		for _, e := range out {
			switch e["action"] {
			case action:
				entries = append(entries, e)
			case "audit.void":
				voided[e["target"].(string)] = true
			}
			before = fmt.Sprintf("%.0f", e["seq"].(float64))
		}
	}
	live := entries[:0]
	for _, e := range entries {
		if !voided[fmt.Sprintf("%016.0f", e["seq"].(float64))] {
			live = append(live, e)
		}
	}
	return live, len(voided)
}

// crashCheckFlows waits until the bus has started the flow on every stored record, and checks it
// started exactly one instance on each.
func crashCheckFlows(t *testing.T, s *server, token string, stored map[string]bool) {
	t.Helper()
	crashCheckFlowsOf(t, s, token, "receipt", stored)
}

// crashCheckFlowsOf is crashCheckFlows for the records of plant/form.
func crashCheckFlowsOf(t *testing.T, s *server, token, form string, stored map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for id := range stored {
		for {
			st, out := s.callList("GET", "/api/v1/apps/plant/forms/"+form+"/records/"+id+"/flows", token)
			if st != 200 {
				t.Fatalf("flows of %s: %d", id, st)
			}
			if len(out) > 1 {
				t.Fatalf("record %s has %d flow instances, want 1", id, len(out))
			}
			if len(out) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("record %s has no flow instance two minutes after the restart", id)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// crashForge writes, with the server stopped, a record and a second revision of record id
// straight into the store, without audit entries.
func crashForge(t *testing.T, data, id string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: data, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	coll := forms.RecordsCollection("plant", "receipt")
	doc := bson.D{{Key: "app", Value: "plant"}, {Key: "form", Value: "receipt"}, {Key: "version", Value: 1},
		{Key: "data", Value: bson.D{{Key: "qty", Value: 7.0}, {Key: "lot", Value: "FORGED"}}}}
	if err := st.Create(ctx, coll, "0000forged00000000000000", doc); err != nil {
		t.Fatal(err)
	}
	var cur bson.D
	if err := st.Get(ctx, coll, id, &cur); err != nil {
		t.Fatal(err)
	}
	var rev int64
	for i, e := range cur {
		if e.Key == store.RevField {
			rev = e.Value.(int64)
		}
		if e.Key == "data" {
			cur[i].Value = bson.D{{Key: "qty", Value: 0.0}, {Key: "lot", Value: "CHANGED"}}
		}
	}
	if _, err := st.Update(ctx, coll, id, rev, cur); err != nil {
		t.Fatal(err)
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
