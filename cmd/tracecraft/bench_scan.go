package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// benchScan measures the public scan page against a static route of the same server: it runs
// `tracecraft serve` as a child process on a fresh data folder (no rate limit), issues codes
// for a lot over the API (one issuance) and reads their serials back a page at a
// time, then loads /healthz and /t/{serial} from this process over loopback with the same
// number of keep-alive clients for the same time, and prints the scan page's requests per
// second as a ratio of the static route's — twice: serials taken in turn, each scanned once
// until all were (what consumers do: mostly distinct codes, each look-up counted and stored),
// and 200 serials at random (codes looked up again, their counters in memory). It says how
// many of the first load's scans were a code's first.
func benchScan(ctx context.Context, stdout io.Writer, clients int, dur time.Duration, codes int) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tcscan")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	const pw = "bench-Scan-pw1"
	cmd := exec.CommandContext(ctx, exe, "serve", "--addr", addr, "--data", dir, "--scan-rate", "1000000000")
	cmd.Env = append(os.Environ(), "TRACECRAFT_ADMIN_PASSWORD="+pw)
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	base := "http://" + addr
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2}, Timeout: 30 * time.Second}
	for start := time.Now(); ; {
		if res, err := hc.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			break
		}
		if time.Since(start) > time.Minute {
			return errors.New("bench scan: the server did not come up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	call := func(method, path, token string, body any, want int) (map[string]any, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var out map[string]any
		raw, _ := io.ReadAll(res.Body)
		_ = json.Unmarshal(raw, &out)
		if res.StatusCode != want {
			return nil, fmt.Errorf("%s %s: %d: %s", method, path, res.StatusCode, raw)
		}
		return out, nil
	}
	out, err := call("POST", "/api/v1/auth/login", "", map[string]string{"username": "admin", "password": pw}, 200)
	if err != nil {
		return err
	}
	token := out["token"].(string)
	steps := []struct {
		path string
		body any
	}{
		{"/api/v1/apps", map[string]any{"key": "plant", "name": map[string]string{"zh-CN": "工厂"}}},
		{"/api/v1/apps/plant/forms", map[string]any{"key": "product", "name": map[string]string{"zh-CN": "产品"},
			"schema": map[string]any{"type": "object", "properties": map[string]any{
				"name": map[string]any{"x-type": "text", "x-public": true, "x-label": map[string]string{"zh-CN": "品名"}},
				"gtin": map[string]any{"x-type": "text", "x-label": map[string]string{"zh-CN": "商品条码"}}}}}},
		{"/api/v1/apps/plant/forms", map[string]any{"key": "lot", "name": map[string]string{"zh-CN": "生产批"},
			"schema": map[string]any{"type": "object", "properties": map[string]any{
				"lot_no":  map[string]any{"x-type": "text", "x-public": true, "x-label": map[string]string{"zh-CN": "批号"}},
				"made_on": map[string]any{"x-type": "date", "x-public": true, "x-label": map[string]string{"zh-CN": "生产日期"}},
				"product": map[string]any{"x-type": "relation", "x-options": map[string]any{"form": "product"}, "x-label": map[string]string{"zh-CN": "产品"}}}}}},
	}
	for _, s := range steps {
		if _, err := call("POST", s.path, token, s.body, 201); err != nil {
			return err
		}
	}
	for _, f := range []string{"product", "lot"} {
		if _, err := call("POST", "/api/v1/apps/plant/forms/"+f+"/publish", token, nil, 201); err != nil {
			return err
		}
	}
	p, err := call("POST", "/api/v1/apps/plant/forms/product/records", token, map[string]any{"data": map[string]any{"name": "纯牛奶 250mL", "gtin": "6901234567892"}}, 201)
	if err != nil {
		return err
	}
	lot, err := call("POST", "/api/v1/apps/plant/forms/lot/records", token, map[string]any{"data": map[string]any{"lot_no": "L2603A", "made_on": "2026-03-01", "product": p["id"]}}, 201)
	if err != nil {
		return err
	}
	lotCodes := "/api/v1/apps/plant/forms/lot/records/" + lot["id"].(string) + "/codes"
	is, err := call("POST", lotCodes, token, map[string]any{"count": codes, "gtinField": "product.gtin"}, 201)
	if err != nil {
		return err
	}
	serials := make([]string, 0, codes)
	for after := ""; ; {
		page, err := call("GET", lotCodes+"/"+is["id"].(string)+"/serials?limit=1000&after="+after, token, nil, 200)
		if err != nil {
			return err
		}
		items, _ := page["items"].([]any)
		for _, it := range items {
			serials = append(serials, it.(map[string]any)["serial"].(string))
		}
		next, _ := page["next"].(string)
		if next == "" {
			break
		}
		after = next
	}
	if len(serials) != codes {
		return fmt.Errorf("bench scan: %d serials listed of %d issued", len(serials), codes)
	}
	load := func(path func() string) (float64, int64, error) {
		var n, failed atomic.Int64
		var wg sync.WaitGroup
		deadline := time.Now().Add(dur)
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					res, err := hc.Get(base + path())
					if err != nil {
						failed.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						failed.Add(1)
						continue
					}
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		if f := failed.Load(); f > 0 {
			return 0, 0, fmt.Errorf("bench scan: %d requests failed", f)
		}
		return float64(n.Load()) / time.Since(start).Seconds(), n.Load(), nil
	}
	// Warm the connections and the static route; the scan path is warmed by the lot's first
	// scan only (its facts cached), not by scanning the codes measured.
	if _, _, err := load(func() string { return "/healthz" }); err != nil {
		return err
	}
	if _, err := call("GET", "/t/"+serials[len(serials)-1]+"?format=json", "", nil, 200); err != nil {
		return err
	}
	static, _, err := load(func() string { return "/healthz" })
	if err != nil {
		return err
	}
	var next atomic.Int64
	distinct, scans, err := load(func() string { return "/t/" + serials[int(next.Add(1)-1)%(len(serials)-1)] })
	if err != nil {
		return err
	}
	firsts := min(scans, int64(len(serials)-1))
	few := serials[:min(200, len(serials))]
	repeat, _, err := load(func() string { return "/t/" + few[rand.IntN(len(few))] })
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "scan page vs static route, %d clients over loopback, %s each, %d codes of one lot, server in a separate process\n", clients, dur, len(serials))
	fmt.Fprintf(stdout, "  GET /healthz                 %8.0f req/s\n", static)
	fmt.Fprintf(stdout, "  GET /t/{serial}, distinct    %8.0f req/s  ratio %.2f (target ≥ 0.30): %d scans, %d of them a code's first (%.0f%%)\n",
		distinct, distinct/static, scans, firsts, 100*float64(firsts)/float64(max(scans, 1)))
	fmt.Fprintf(stdout, "  GET /t/{serial}, 200 again   %8.0f req/s  ratio %.2f (codes looked up before)\n", repeat, repeat/static)
	return nil
}
