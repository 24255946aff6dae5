package forms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store/storetest"
	"tracecraft/forms"
)

var goldenUpdate = flag.Bool("update", false, "rewrite the expected outcomes of testdata/golden/*.golden")

// goldenSeparator separates the sections of a golden file; it stands on a line of its own.
const goldenSeparator = "----------"

// goldenApp is the app every golden form lives in.
const goldenApp = "g"

// goldenEnv is what the golden files run against.
type goldenEnv struct {
	forms *forms.Service
	p     *engine.Principal
	// ids maps placeholders ("$supplier1") to the generated ids they stand for.
	ids map[string]string
}

// goldenCase is one entry of section 2.
type goldenCase struct {
	Name   string       `json:"name"`
	Data   forms.Values `json:"data"`
	Update *struct {
		Rev  int64        `json:"rev"`
		Data forms.Values `json:"data"`
	} `json:"update"`
}

// TestGolden checks "definition in, validation outcome out" for every field type, sub-tables,
// relations and definitions that must be rejected, with one golden file per subtest in
// testdata/golden (the Caddy adapt-test layout). A file has three sections separated by a line
// of ten dashes ("----------"):
//
//  1. a form definition (JSON), saved as a draft of app "g" and published; its key must be the
//     file's name without ".golden", so the files' forms never collide;
//  2. a JSON array of cases, run in order against the published form:
//     {"name": "…", "data": {…}} creates a record from data;
//     {"name": "…", "update": {"rev": 1, "data": {…}}} updates the record the last successful
//     create of the file made;
//     a definition that must be rejected has [] here;
//  3. the expected outcome, which the test renders as text:
//     a rejected definition: one line "error <pointer> <code> <params>" per field error;
//     otherwise, for each case, "case <name>: ok" and the record's data as stored (read back
//     with Get), as indented JSON with sorted keys, or "case <name>: invalid" and one line
//     "  <path> <code> <params>" per field error. Errors are sorted by path and code; params
//     are written "k=v" sorted by key, each value as JSON.
//
// `go test ./forms -run TestGolden -update` rewrites section 3 of every file; review the diff.
//
// The files run on a real kernel over a fresh embedded store, made as apitest.Start makes it
// but without HTTP: the forms service needs a clock fixed at 2026-11-25 10:00 Asia/Shanghai (so
// auto-numbers of pattern RM{yyMMdd}{seq:4} are RM2611250001, RM2611250002, …), and a kernel
// takes one forms service only. Fixtures made before the files run:
//
//   - app "g";
//   - form "supplier" (field name: text, required), published, with two records whose ids
//     stand for the placeholders "$supplier1" (绿源农场) and "$supplier2" (Blue Sea Fisheries)
//     in section 2 and in section 3;
//   - the bootstrap user "admin"; department "qc" and user "qa1" (member of qc), made by
//     engine.SystemPrincipal();
//   - two uploaded files: a 1×1 PNG made with image/png ("$png", image/png) and a text file
//     ("$txt", text/plain).
//
// Every case acts as engine.SystemPrincipal(), which may do everything: the outcomes are the
// field types' and the save pipeline's, not permissions'.
func TestGolden(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "golden", "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no golden files in testdata/golden")
	}
	env := goldenSetup(t)
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".golden")
		t.Run(name, func(t *testing.T) { goldenRun(t, env, path, name) })
	}
}

// goldenSetup starts the server and makes the fixtures described at the top of this file.
func goldenSetup(t *testing.T) *goldenEnv {
	t.Helper()
	ctx := context.Background()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, loc)
	k := engine.NewKernel(storetest.New(t), engine.KernelOptions{Log: storetest.Quiet,
		Auth: engine.AuthOptions{Argon2: engine.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1}}})
	if _, _, err := k.Auth.Bootstrap(ctx, ""); err != nil {
		t.Fatal(err)
	}
	fs := forms.New(k, forms.Options{Now: func() time.Time { return now }, Location: loc})
	enginetest.Start(t, k)
	sys := engine.SystemPrincipal()
	env := &goldenEnv{forms: fs, p: sys, ids: map[string]string{}}

	if _, err := fs.CreateApp(ctx, sys, forms.AppInput{Key: goldenApp, Name: engine.Text{ZH: "黄金文件", EN: "Golden"}}); err != nil {
		t.Fatalf("create app: %v", err)
	}
	supplier := `{"key": "supplier", "name": {"zh-CN": "供应商", "en": "Supplier"},
		"schema": {"type": "object", "required": ["name"], "properties": {
			"name": {"x-type": "text", "x-label": {"zh-CN": "名称", "en": "Name"}}}}}`
	if _, err := fs.SaveDraft(ctx, sys, goldenApp, []byte(supplier), 0); err != nil {
		t.Fatalf("save supplier: %v", err)
	}
	if _, err := fs.Publish(ctx, sys, goldenApp, "supplier"); err != nil {
		t.Fatalf("publish supplier: %v", err)
	}
	for i, name := range []string{"绿源农场", "Blue Sea Fisheries"} {
		rec, err := fs.Create(ctx, sys, goldenApp, "supplier", forms.Values{"name": name})
		if err != nil {
			t.Fatalf("create supplier %s: %v", name, err)
		}
		env.ids[fmt.Sprintf("$supplier%d", i+1)] = rec.ID
	}

	auth := k.Auth
	if _, err := auth.PutDepartment(ctx, sys, engine.Department{ID: "qc", Name: engine.Text{ZH: "质检部", EN: "Quality control"}}); err != nil {
		t.Fatalf("put department: %v", err)
	}
	if _, err := auth.CreateUser(ctx, sys, engine.UserInput{Username: "qa1", DisplayName: "QA 1", Department: "qc", Password: "Golden-Passw0rd"}); err != nil {
		t.Fatalf("create user: %v", err)
	}

	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.RGBA{R: 0x2e, G: 0x7d, B: 0x32, A: 0xff})
	var pngBytes bytes.Buffer
	if err := png.Encode(&pngBytes, img); err != nil {
		t.Fatal(err)
	}
	for _, up := range []struct {
		placeholder, name, want string
		body                    []byte
	}{
		{"$png", "sign.png", "image/png", pngBytes.Bytes()},
		{"$txt", "notes.txt", "text/plain", []byte("lot RM2611250001 received in good condition\n")},
	} {
		fi, err := fs.Upload(ctx, sys, goldenApp, up.name, bytes.NewReader(up.body))
		if err != nil {
			t.Fatalf("upload %s: %v", up.name, err)
		}
		if fi.Type != up.want {
			t.Fatalf("upload %s: type %q, want %q", up.name, fi.Type, up.want)
		}
		env.ids[up.placeholder] = fi.ID
	}
	return env
}

// goldenRun runs one golden file.
func goldenRun(t *testing.T, env *goldenEnv, path, key string) {
	ctx := context.Background()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	def, casesJSON, want, err := goldenSplit(string(raw))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var head struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(def), &head); err != nil {
		t.Fatalf("%s: section 1 is not JSON: %v", path, err)
	}
	if head.Key != key {
		t.Fatalf("%s: the definition's key is %q; it must be the file's name, %q", path, head.Key, key)
	}
	var cases []goldenCase
	dec := json.NewDecoder(strings.NewReader(env.substitute(casesJSON)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cases); err != nil {
		t.Fatalf("%s: section 2 is not a list of cases: %v", path, err)
	}

	var out strings.Builder
	_, err = env.forms.SaveDraft(ctx, env.p, goldenApp, []byte(def), 0)
	if err == nil {
		_, err = env.forms.Publish(ctx, env.p, goldenApp, key)
	}
	if err != nil {
		fe, ok := engine.AsFieldErrors(err)
		if !ok {
			t.Fatalf("save or publish: %v", err)
		}
		if len(cases) > 0 {
			t.Errorf("the definition is rejected, but section 2 has %d cases", len(cases))
		}
		goldenErrors(t, &out, "error ", fe)
	} else {
		last := ""
		for _, c := range cases {
			var rec *forms.Record
			switch {
			case c.Update != nil:
				if last == "" {
					t.Fatalf("case %q: an update needs a record created by a case before it", c.Name)
				}
				rec, err = env.forms.Update(ctx, env.p, goldenApp, key, last, c.Update.Rev, c.Update.Data)
			default:
				rec, err = env.forms.Create(ctx, env.p, goldenApp, key, c.Data)
				if err == nil {
					last = rec.ID
				}
			}
			env.outcome(t, &out, key, c.Name, rec, err)
		}
	}
	got := env.restore(out.String())

	if *goldenUpdate {
		text := def + "\n" + goldenSeparator + "\n" + casesJSON + "\n" + goldenSeparator + "\n" + got
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Errorf("%s: the outcome differs from section 3 (- want, + got; run with -update to accept it):\n%s", path, goldenDiff(want, got))
	}
}

// outcome renders one case.
func (env *goldenEnv) outcome(t *testing.T, out *strings.Builder, form, name string, rec *forms.Record, err error) {
	t.Helper()
	if err != nil {
		fe, ok := engine.AsFieldErrors(err)
		if !ok {
			// Not a validation outcome: show it, so the golden file cannot hide it.
			fmt.Fprintf(out, "case %s: error %s\n", name, err)
			return
		}
		fmt.Fprintf(out, "case %s: invalid\n", name)
		goldenErrors(t, out, "  ", fe)
		return
	}
	stored, err := env.forms.Get(context.Background(), env.p, goldenApp, form, rec.ID)
	if err != nil {
		t.Fatalf("case %q: read back: %v", name, err)
	}
	returned, storedJSON := goldenJSON(t, rec.Data), goldenJSON(t, stored.Data)
	if returned != storedJSON {
		t.Errorf("case %q: the data the save returned differs from what reads back:\nreturned %s\nstored   %s", name, returned, storedJSON)
	}
	fmt.Fprintf(out, "case %s: ok\n", name)
	for _, line := range strings.Split(strings.TrimSuffix(storedJSON, "\n"), "\n") {
		out.WriteString("  " + line + "\n")
	}
}

// goldenErrors writes field errors sorted, one a line, and checks each code has messages.
func goldenErrors(t *testing.T, out *strings.Builder, prefix string, fe engine.FieldErrors) {
	t.Helper()
	lines := make([]string, 0, len(fe))
	for _, e := range fe {
		line := e.Path + " " + e.Code
		if p := goldenParams(t, e.Params); p != "" {
			line += " " + p
		}
		lines = append(lines, line)
		for _, lang := range []string{"zh-CN", "en"} {
			if msg := engine.Message(lang, e.Code, e.Params); msg == e.Code || msg == "" {
				t.Errorf("code %s (at %s) has no %s message", e.Code, e.Path, lang)
			}
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		out.WriteString(prefix + l + "\n")
	}
}

// goldenParams writes params as "k=v" sorted by key, each value as JSON.
func goldenParams(t *testing.T, params map[string]any) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strings.TrimSuffix(goldenEncode(t, params[k], ""), "\n")
	}
	return strings.Join(parts, " ")
}

// goldenJSON is v as indented JSON with sorted keys (encoding/json sorts map keys).
func goldenJSON(t *testing.T, v any) string { return goldenEncode(t, v, "  ") }

func goldenEncode(t *testing.T, v any, indent string) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // rich text stays readable
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encode %#v: %v", v, err)
	}
	return b.String()
}

// substitute puts the fixtures' ids in place of their placeholders.
func (env *goldenEnv) substitute(s string) string {
	for _, ph := range env.placeholders() {
		s = strings.ReplaceAll(s, ph, env.ids[ph])
	}
	return s
}

// restore puts the placeholders back in place of the fixtures' ids.
func (env *goldenEnv) restore(s string) string {
	for _, ph := range env.placeholders() {
		s = strings.ReplaceAll(s, env.ids[ph], ph)
	}
	return s
}

// placeholders lists the placeholders longest first, so "$supplier1" never eats "$supplier10".
func (env *goldenEnv) placeholders() []string {
	out := make([]string, 0, len(env.ids))
	for ph := range env.ids {
		out = append(out, ph)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// goldenSplit cuts a golden file into its three sections; the first two are trimmed, the
// third is kept as it is.
func goldenSplit(text string) (def, cases, want string, err error) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	sep := "\n" + goldenSeparator + "\n"
	def, rest, ok := strings.Cut(text, sep)
	if !ok {
		return "", "", "", errors.New("no " + goldenSeparator + " line after the definition")
	}
	cases, want, ok = strings.Cut(rest, sep)
	if !ok {
		// A file not yet generated may end right after the second separator.
		if c, found := strings.CutSuffix(rest, "\n"+goldenSeparator); found {
			cases, want, ok = c, "", true
		}
	}
	if !ok {
		return "", "", "", errors.New("no " + goldenSeparator + " line after the cases")
	}
	return strings.TrimSpace(def), strings.TrimSpace(cases), want, nil
}

// goldenDiff shows the lines that differ between want and got, from a longest common
// subsequence of lines, with two lines of context.
func goldenDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			lines = append(lines, line{' ', a[i]})
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, line{'-', a[i]})
			i++
		default:
			lines = append(lines, line{'+', b[j]})
			j++
		}
	}
	const context = 2
	var out strings.Builder
	lastShown := -1
	for k, l := range lines {
		near := false
		for d := max(0, k-context); d <= min(len(lines)-1, k+context); d++ {
			if lines[d].op != ' ' {
				near = true
				break
			}
		}
		if !near {
			continue
		}
		if lastShown >= 0 && k > lastShown+1 {
			out.WriteString("   …\n")
		}
		fmt.Fprintf(&out, " %c %s\n", l.op, l.text)
		lastShown = k
	}
	return out.String()
}

// goldenXType finds the field types a definition uses.
var goldenXType = regexp.MustCompile(`"x-type"\s*:\s*"([^"]*)"`)

// TestGoldenCoversFieldTypes makes sure every registered field type is used by a golden file
// whose definition is accepted, so a new field type comes with its golden file.
func TestGoldenCoversFieldTypes(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "golden", "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		def, _, want, err := goldenSplit(string(raw))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if strings.HasPrefix(want, "error ") {
			continue // a rejected definition shows no values
		}
		for _, m := range goldenXType.FindAllStringSubmatch(def, -1) {
			used[m[1]] = true
		}
	}
	for _, id := range forms.FieldTypeIDs() {
		if !used[id] {
			t.Errorf("field type %s has no golden file in testdata/golden", id)
		}
	}
}
