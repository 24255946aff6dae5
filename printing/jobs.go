package printing

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Outputs of a print (PrintInput.Output).
const (
	OutputPDF     = "pdf"
	OutputPrinter = "printer"
)

// PreviewPages is the most labels a preview draws.
const PreviewPages = 20

// EventPrinted is the event of a print job once it is stored.
const EventPrinted = "print.job"

// PrintInput is what to print with a template's latest published version.
type PrintInput struct {
	// Records are the ids of the form's records to print, in order (at most MaxRecords).
	Records []string `json:"records"`
	// Issuance is the code issuance a per-code template prints ("" : the record's codes that
	// are neither printed nor voided).
	Issuance string `json:"issuance,omitempty"`
	// Output is "pdf" (default: one PDF, or a ZIP of PDFs past LabelsPerFile labels) or
	// "printer" (Printer, a configured label printer).
	Output  string `json:"output,omitempty"`
	Printer string `json:"printer,omitempty"`
	// Lang is the language values print in (zh-CN by default).
	Lang string `json:"lang,omitempty"`
}

// Validate checks the input's shape.
func (in *PrintInput) Validate() error {
	var fe engine.FieldErrors
	switch {
	case len(in.Records) == 0:
		fe.Add("records", "required", nil)
	case len(in.Records) > MaxRecords:
		fe.Add("records", "too_many", map[string]any{"max": MaxRecords})
	}
	for i, id := range in.Records {
		if id == "" || len(id) > 64 {
			fe.Add("records/"+strconv.Itoa(i), "invalid_format", map[string]any{"detail": "not a record id"})
		}
	}
	switch in.Output {
	case "", OutputPDF:
		if in.Printer != "" {
			fe.Add("printer", "not_applicable", nil)
		}
	case OutputPrinter:
		if in.Printer == "" {
			fe.Add("printer", "required", nil)
		}
	default:
		fe.Add("output", "not_allowed", map[string]any{"value": in.Output})
	}
	if len(in.Issuance) > 64 {
		fe.Add("issuance", "too_long", map[string]any{"max": 64})
	}
	return fe.Err()
}

// PreviewInput is what a preview draws: the stored draft, or Definition (an unsaved draft),
// with the values of Record, or sample values from the fields' labels when there is none.
type PreviewInput struct {
	Definition json.RawMessage `json:"definition,omitempty"`
	Record     string          `json:"record,omitempty"`
	Lang       string          `json:"lang,omitempty"`
}

// Job is one print: what was printed with which template version, for whom, by whom.
type Job struct {
	ID       string `json:"id" bson:"_id"`
	App      string `json:"app" bson:"app"`
	Template string `json:"template" bson:"template"`
	Version  int    `json:"version" bson:"version"`
	Form     string `json:"form" bson:"form"`
	// Records are the records printed with their form versions, in order.
	Records  []JobRecord `json:"records" bson:"records"`
	Issuance string      `json:"issuance,omitempty" bson:"issuance,omitempty"`
	// Codes are the item codes printed per issuance (templates printed per code).
	Codes  []JobCodes `json:"codes,omitempty" bson:"codes,omitempty"`
	Labels int        `json:"labels" bson:"labels"`
	// Output is "pdf", "zip" (Files PDFs), "printer:<name>" or "file:<id>" (the print action's
	// PDF attached to the record).
	Output string `json:"output" bson:"output"`
	Files  int    `json:"files,omitempty" bson:"files,omitempty"`
	Size   int64  `json:"size,omitempty" bson:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty" bson:"sha256,omitempty"`
	// By is who printed (a user, or rule:<key>@<version> for the print action); Key the
	// action run it made (its idempotence key).
	By  string    `json:"by" bson:"by"`
	Key string    `json:"key,omitempty" bson:"key,omitempty"`
	At  time.Time `json:"at" bson:"at"`
}

// JobRecord is one printed record and the version of its form it was in.
type JobRecord struct {
	ID      string `json:"id" bson:"id"`
	Version int    `json:"formVersion" bson:"version"`
}

// JobCodes is how many item codes of one issuance a job printed.
type JobCodes struct {
	Issuance string `json:"issuance" bson:"issuance"`
	N        int    `json:"n" bson:"n"`
}

// JobList is a page of print jobs, newest first.
type JobList struct {
	Items []Job  `json:"items"`
	Next  string `json:"next,omitempty"`
}

// Output is a print's result: its job and the file to send (a PDF or a ZIP of PDFs). Read it,
// then Close it (which removes the file).
type Output struct {
	Job         *Job
	ContentType string
	Name        string
	Size        int64
	f           *os.File
}

// Read reads the file.
func (o *Output) Read(b []byte) (int, error) {
	if o.f == nil {
		return 0, io.EOF
	}
	return o.f.Read(b)
}

// Close removes the file.
func (o *Output) Close() error {
	if o.f == nil {
		return nil
	}
	name := o.f.Name()
	err := o.f.Close()
	o.f = nil
	return errors.Join(err, os.Remove(name))
}

// Preview draws a template's draft (or in.Definition, unsaved) as a PDF for a designer: with
// the values of in.Record as the designer may read them, or sample values. At most
// PreviewPages labels are drawn; nothing is recorded.
func (e *Engine) Preview(ctx context.Context, p *engine.Principal, app, key string, in PreviewInput) ([]byte, error) {
	if err := e.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	if in.Lang == "" {
		in.Lang = engine.LangDefault
	}
	raw := []byte(in.Definition)
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		t, err := e.readDraft(ctx, app, key)
		if err != nil {
			return nil, err
		}
		raw = []byte(t.DraftJSON)
	}
	c, err := e.Compile(ctx, app, raw)
	if err != nil {
		return nil, err
	}
	if c.Def.Key != key {
		return nil, engine.Invalid("/key", "not_allowed", map[string]any{"value": c.Def.Key})
	}
	var pages iter.Seq2[*PageData, error]
	if in.Record == "" {
		sample, err := e.samplePages(ctx, c, in.Lang)
		if err != nil {
			return nil, err
		}
		pages = func(yield func(*PageData, error) bool) {
			for _, d := range sample {
				if !yield(d, nil) {
					return
				}
			}
		}
	} else {
		ps := e.newPageSource(p, c, []string{in.Record}, "", in.Lang)
		pages = firstPages(ps.pages(ctx), PreviewPages)
	}
	var buf bytes.Buffer
	if err := e.renderPDF(ctx, &buf, p, app, &c.Def, in.Lang, pages); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// firstPages yields the first n pages of pages.
func firstPages(pages iter.Seq2[*PageData, error], n int) iter.Seq2[*PageData, error] {
	return func(yield func(*PageData, error) bool) {
		i := 0
		for d, err := range pages {
			if err == nil && i >= n {
				return
			}
			i++
			if !yield(d, err) || err != nil {
				return
			}
		}
	}
}

// Print prints records with the template's latest published version: as one PDF, as a ZIP of
// PDFs of LabelsPerFile labels each past that, or to a label printer. p needs app.read and
// must be able to read every record (a record p may not read fails the print, which records
// nothing). The job is stored with its audit entry before the output is returned.
func (e *Engine) Print(ctx context.Context, p *engine.Principal, app, key string, in PrintInput) (*Output, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if err := e.k.Auth.Require(ctx, p, app, engine.PermAppRead); err != nil {
		return nil, err
	}
	c, err := e.published(ctx, app, key)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	ps := e.newPageSource(p, c, in.Records, in.Issuance, in.Lang)
	job := &Job{App: app, Template: key, Version: c.Version, Form: c.Def.Form, Issuance: in.Issuance, By: actorOf(p)}
	if in.Output == OutputPrinter {
		printers := e.labelPrinters()
		if printers == nil {
			return nil, engine.Invalid("output", "not_allowed", map[string]any{"value": in.Output})
		}
		n, err := printers.Print(ctx, p, app, in.Printer, &c.Def, ps.pages(ctx))
		if err != nil {
			return nil, err
		}
		job.Output, job.Labels = "printer:"+in.Printer, n
		job.Records, job.Codes = ps.seen, ps.codes
		if err := e.recordJob(ctx, p, job); err != nil {
			return nil, err
		}
		return &Output{Job: job}, nil
	}
	out, err := e.writeFiles(ctx, p, app, &c.Def, ps.lang, ps.pages(ctx))
	if err != nil {
		return nil, err
	}
	job.Records, job.Labels, job.Codes = ps.seen, ps.labels, ps.codes
	job.Output, job.Files, job.Size, job.SHA256 = OutputPDF, out.files, out.Size, out.sum
	if out.files > 1 {
		job.Output = "zip"
	}
	if err := e.recordJob(ctx, p, job); err != nil {
		out.Close()
		return nil, err
	}
	out.Job = job
	out.Name = key + "-" + job.ID + map[bool]string{true: ".zip", false: ".pdf"}[out.files > 1]
	return &out.Output, nil
}

// fileOutput is an Output being written.
type fileOutput struct {
	Output
	files int
	sum   string
}

// writeFiles renders pages to a temporary file: one PDF, or a ZIP of PDFs of LabelsPerFile
// labels each when there are more. Pages are read as they are drawn, so memory holds one PDF.
func (e *Engine) writeFiles(ctx context.Context, p *engine.Principal, app string, def *Definition, lang string, pages iter.Seq2[*PageData, error]) (*fileOutput, error) {
	next, stop := iter.Pull2(pages)
	defer stop()
	// Peek one page so a PDF is begun only for pages that exist.
	var ahead *PageData
	var aheadErr error
	var more bool
	peek := func() { ahead, aheadErr, more = next() }
	chunk := func() iter.Seq2[*PageData, error] {
		return func(yield func(*PageData, error) bool) {
			for n := 0; more && n < LabelsPerFile; n++ {
				d, err := ahead, aheadErr
				peek()
				if !yield(d, err) || err != nil {
					return
				}
			}
		}
	}
	peek()
	var parts []*os.File
	defer func() {
		for _, f := range parts {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	for first := true; first || more; first = false {
		if aheadErr != nil {
			return nil, aheadErr
		}
		f, err := os.CreateTemp(e.opts.TempDir, "tracecraft-print-*.pdf")
		if err != nil {
			return nil, fmt.Errorf("print: %w", err)
		}
		parts = append(parts, f)
		if err := e.renderPDF(ctx, f, p, app, def, lang, chunk()); err != nil {
			return nil, err
		}
		if aheadErr != nil {
			return nil, aheadErr
		}
	}
	out := &fileOutput{files: len(parts)}
	var f *os.File
	if len(parts) == 1 {
		f, parts = parts[0], nil
		out.ContentType = "application/pdf"
	} else {
		z, err := os.CreateTemp(e.opts.TempDir, "tracecraft-print-*.zip")
		if err != nil {
			return nil, fmt.Errorf("print: %w", err)
		}
		if err := zipParts(z, parts); err != nil {
			z.Close()
			os.Remove(z.Name())
			return nil, err
		}
		f = z
		out.ContentType = "application/zip"
	}
	h := sha256.New()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("print: %w", err)
	}
	size, err := io.Copy(h, f)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("print: %w", err)
	}
	out.f, out.Size, out.sum = f, size, hex.EncodeToString(h.Sum(nil))
	return out, nil
}

// zipParts writes the PDFs as labels-001.pdf, labels-002.pdf … (stored: PDFs are compressed).
func zipParts(w io.Writer, parts []*os.File) error {
	zw := zip.NewWriter(w)
	for i, f := range parts {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("print zip: %w", err)
		}
		entry, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("labels-%03d.pdf", i+1), Method: zip.Store, Modified: time.Now()})
		if err != nil {
			return fmt.Errorf("print zip: %w", err)
		}
		if _, err := io.Copy(entry, f); err != nil {
			return fmt.Errorf("print zip: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("print zip: %w", err)
	}
	return nil
}

// recordJob stores a job with its audit entry and event, and tells the code source what it
// printed.
func (e *Engine) recordJob(ctx context.Context, p *engine.Principal, job *Job) error {
	if job.ID == "" {
		job.ID = newJobID(e.now())
	}
	job.At = e.now().UTC()
	if job.Records == nil {
		job.Records = []JobRecord{}
	}
	target := job.App + "/" + job.ID
	versions := map[string]int{}
	for _, r := range job.Records {
		versions[r.ID] = r.Version
	}
	w := engine.Write{Coll: jobsCollection, ID: job.ID, Rev: 1,
		Entry: engine.AuditEntry{Actor: job.By, IP: ipOf(p), Action: "print.job", Kind: "print_job", Target: target,
			After: map[string]any{"template": job.Template, "version": job.Version, "form": job.Form, "records": versions,
				"labels": job.Labels, "output": job.Output, "issuance": job.Issuance, "codes": job.Codes, "sha256": job.SHA256}},
		Event: &engine.Event{Type: EventPrinted, App: job.App, Data: map[string]any{"job": job.ID, "template": job.Template, "version": job.Version}}}
	// The job is recorded after the print is made: a write that fails here must not outlive
	// the caller's deadline, but a cancelled request must not lose the job of labels made.
	ctx = context.WithoutCancel(ctx)
	_, err := e.k.Commit(ctx, w, func(ctx context.Context, journal func(context.Context) error) error {
		return e.st.CreateWith(ctx, jobsCollection, job.ID, job, journal)
	})
	if err != nil {
		return fmt.Errorf("record print job: %w", err)
	}
	if codes := e.codeSource(); codes != nil {
		for _, jc := range job.Codes {
			if err := codes.MarkPrinted(ctx, p, job.App, jc.Issuance, job.ID, jc.N); err != nil {
				return fmt.Errorf("record print job %s: %w", job.ID, err)
			}
		}
	}
	return nil
}

// Jobs lists a template's print jobs, newest first, a page at a time; it needs app.design.
func (e *Engine) Jobs(ctx context.Context, p *engine.Principal, app, key string, limit int, next string) (*JobList, error) {
	if err := e.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	if _, err := e.defs.Latest(ctx, app, key); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = engine.ErrNotFound
		}
		return nil, fmt.Errorf("template %s: %w", key, err)
	}
	page, err := e.st.Query(ctx, jobsCollection, store.Query{Where: store.And(store.Eq("app", app), store.Eq("template", key)),
		Sort: []store.SortKey{{Path: "at", Desc: true}}, Limit: min(max(limit, 1), 200), After: next})
	if err != nil {
		return nil, fmt.Errorf("jobs of template %s: %w", key, err)
	}
	out := &JobList{Items: []Job{}, Next: page.Next}
	for _, raw := range page.Docs {
		var j Job
		if err := bson.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("jobs of template %s: %w", key, err)
		}
		out.Items = append(out.Items, j)
	}
	return out, nil
}

// newJobID is sortable by time: 8 bytes of milliseconds and 6 random bytes, hex.
func newJobID(now time.Time) string {
	var b [14]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[2:])
}

func actorOf(p *engine.Principal) string {
	if p == nil {
		return engine.SystemActor
	}
	return p.Username
}

func ipOf(p *engine.Principal) string {
	if p == nil {
		return ""
	}
	return p.IP
}

// renderPDF draws pages of def as one PDF to w; image elements read their files as p may.
func (e *Engine) renderPDF(ctx context.Context, w io.Writer, p *engine.Principal, app string, def *Definition, lang string, pages iter.Seq2[*PageData, error]) error {
	opts := RenderOptions{Lang: lang, Title: def.Name.In(lang)}
	if e.opts.ReadFile != nil {
		opts.Image = func(id string) ([]byte, error) { return e.opts.ReadFile(ctx, p, app, id) }
	}
	_, err := Render(ctx, w, def, pages, opts)
	return err
}
