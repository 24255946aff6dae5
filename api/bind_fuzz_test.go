package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// fuzzInput has the shapes request bodies have: scalars, lists, free-form data, a nested
// struct, a time and a raw JSON document.
type fuzzInput struct {
	Name   string          `json:"name"`
	Count  int             `json:"count"`
	Ratio  float64         `json:"ratio"`
	Flag   bool            `json:"flag"`
	Tags   []string        `json:"tags"`
	Data   map[string]any  `json:"data"`
	Nested *fuzzNested     `json:"nested"`
	Raw    json.RawMessage `json:"raw"`
	Untag  string
}

type fuzzNested struct {
	Qty  int64            `json:"qty"`
	When time.Time        `json:"when"`
	Rows []map[string]int `json:"rows"`
}

// FuzzBindJSON sends any body to a route that binds it (issue 7 item 19): the answer is a clean
// 200, or a 400 that names a field, a 413 or a 415 — never a 500 or a panic. Seeds are in
// testdata/fuzz/FuzzBindJSON; run longer with go test -fuzz FuzzBindJSON ./api/.
func FuzzBindJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a","count":1,"ratio":0.5,"flag":true,"tags":["x"],"data":{"qty":1,"lines":[{"a":null}]},"nested":{"qty":2,"when":"2026-01-02T03:04:05Z","rows":[{"a":1}]},"raw":{"k":[1,2]},"Untag":"u"}`,
		`{"data":{"qty":1e400}}`, `{"name":"a","name":"b"}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", `{"name":"\u0000"}`,
		`{"nested":{"qty":1.5}}`, `{"tags":[1]}`, `[`, ``, `{} {}`, `{"untag":"x"}`, `{"Name":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	_, url := startTestServer(f, Route{Method: fiber.MethodPost, Path: "/test/bind", Public: true, Summary: "test", In: fuzzInput{},
		Handle: func(c *fiber.Ctx, _ *engine.Principal) error {
			var in fuzzInput
			if err := bind(c, &in); err != nil {
				return err
			}
			return c.JSON(in)
		}})
	client := &http.Client{Timeout: 30 * time.Second}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := client.Post(url+"/test/bind", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		switch res.StatusCode {
		case 200:
			var out bytes.Buffer
			_, _ = out.ReadFrom(res.Body)
			res.Body.Close()
			if !json.Valid(out.Bytes()) || !utf8.Valid(out.Bytes()) {
				t.Fatalf("200 with a body that is not valid JSON: %q", out.Bytes())
			}
		case 400:
			e := getError(t, res)
			if len(e.Fields) == 0 || e.Message == "" || e.Code != "invalid" {
				t.Fatalf("400 without a field: %+v for %q", e, body)
			}
		case 413, 415:
			res.Body.Close()
		default:
			e := getError(t, res)
			t.Fatalf("status %d %+v for %q", res.StatusCode, e, body)
		}
	})
}
