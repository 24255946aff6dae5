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
	"strings"
	"sync"
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
	// Serials, with a per-code template and one record, print those codes of the record again
	// (补打; at most MaxRecords, of one issuance, each printed already and not void); each is
	// recorded as a reprint with Reason, which they need.
	Serials []string `json:"serials,omitempty"`
	Reason  string   `json:"reason,omitempty"`
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
	in.validateReprint(&fe)
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
	Codes []JobCodes `json:"codes,omitempty" bson:"codes,omitempty"`
	// Serials are the codes a reprint (补打) printed again, each recorded as a reprint with
	// Reason.
	Serials []string `json:"serials,omitempty" bson:"serials,omitempty"`
	Reason  string   `json:"reason,omitempty" bson:"reason,omitempty"`
	// Labels are the labels made (a table's continuation labels included) — for a printer
	// job, those the printer took whole; Total, when set, the labels the job held.
	Labels int `json:"labels" bson:"labels"`
	Total  int `json:"total,omitempty" bson:"total,omitempty"`
	// Status is JobDone, JobFailed (the printer stopped taking the job: Labels and Codes say
	// how far it went, Error why), JobPending (a print action is printing it) or JobUnknown
	// (a print action found its earlier run still pending: whether the printer printed it is
	// for a person to find out). "" is a job stored before jobs had a status: done.
	Status string `json:"status,omitempty" bson:"status,omitempty"`
	Error  string `json:"error,omitempty" bson:"error,omitempty"`
	// Output is "pdf", "zip" (Files PDFs), "printer:<name>" or "file:<id>" (the print action's
	// PDF attached to the record).
	Output string `json:"output" bson:"output"`
	Files  int    `json:"files,omitempty" bson:"files,omitempty"`
	Size   int64  `json:"size,omitempty" bson:"size,omitempty"`
	// Sent is the bytes of a printer job the printer's connection took (of Size).
	Sent   int64  `json:"sent,omitempty" bson:"sent,omitempty"`
	SHA256 string `json:"sha256,omitempty" bson:"sha256,omitempty"`
	// By is who printed (a user, or rule:<key>@<version> for the print action); Key the
	// action run it made (its idempotence key).
	By  string    `json:"by" bson:"by"`
	Key string    `json:"key,omitempty" bson:"key,omitempty"`
	At  time.Time `json:"at" bson:"at"`
	// Rev is the stored revision (a pending job is finished from revision 1).
	Rev int64 `json:"-" bson:"_rev"`
}

// Job statuses (Job.Status).
const (
	JobDone    = "done"
	JobFailed  = "failed"
	JobPending = "pending"
	JobUnknown = "unknown"
)

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"error.print_codes_printed": {ZH: "批次 {issuance} 没有待打印的码（均已打印或作废）：要再打某个码，请用“补打”并填写原因",
			EN: "issuance {issuance} has no codes left to print (all are printed or void): to print one again, reprint it with a reason"},
		"error.printer_failed_job": {ZH: "打印机 {name} 未能收完打印任务：{detail}。已送出 {sent}/{labels} 张标签，已记为打印任务 {job}",
			EN: "printer {name} did not take the whole job: {detail}. {sent} of {labels} labels went out; recorded as print job {job}"},
		"error.print_render": {ZH: "模板无法生成 PDF：{detail}", EN: "the template cannot be drawn as a PDF: {detail}"},
	})
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
		// At most PreviewPages labels, continuation labels of a table counted.
		ps := e.newPageSource(p, c, []string{in.Record}, "", in.Lang)
		if _, err := ps.count(ctx); err != nil {
			return nil, err
		}
		ps.stopAt = PreviewPages
		pages = ps.pages(ctx)
	}
	var buf bytes.Buffer
	if err := e.renderPDF(ctx, &buf, p, app, &c.Def, in.Lang, PreviewPages, pages); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Print prints records with the template's latest published version: as one PDF, as a ZIP of
// PDFs of LabelsPerFile labels each past that, or to a label printer. p needs app.read and
// must be able to read every record (a record p may not read fails the print, which records
// nothing). With in.Serials it prints those codes of its one record again (补打): p must be
// allowed to update the record, and each code is recorded as a reprint with in.Reason. The
// job is stored with its audit entry before the output is returned.
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
	pages := ps.pages
	// Counted before anything is drawn: a job past MaxLabels fails at once, and every page
	// knows {{pages}}.
	if len(in.Serials) > 0 {
		codes, err := e.reprintCodes(ctx, p, c, &in)
		if err != nil {
			return nil, err
		}
		if err := ps.countCodes(ctx, codes); err != nil {
			return nil, err
		}
		pages = func(ctx context.Context) iter.Seq2[*PageData, error] { return ps.codePages(ctx, codes) }
		job.Reason = strings.TrimSpace(in.Reason)
		for _, ic := range codes {
			job.Serials = append(job.Serials, ic.Serial)
		}
	} else if _, err := ps.count(ctx); err != nil {
		return nil, err
	}
	if in.Output == OutputPrinter {
		printers := e.labelPrinters()
		if printers == nil {
			return nil, engine.Invalid("output", "not_allowed", map[string]any{"value": in.Output})
		}
		job.Output = "printer:" + in.Printer
		if err := e.printLabels(ctx, p, printers, in.Printer, c, ps, pages(ctx), job, true); err != nil {
			return nil, err
		}
		return &Output{Job: job}, nil
	}
	out, err := e.writeFiles(ctx, p, app, &c.Def, ps.lang, pages(ctx))
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

// printLabels sends pages (made by ps) to a label printer and records the job: done, or —
// when the printer stopped taking it — failed, with the labels and item codes that went out
// whole (only those codes count as printed, only those reprints are recorded). A job that
// could not be written (a template a printer cannot print, an unreadable record) sent nothing
// and is not recorded; nor, unless recordUnsent, one the printer took nothing of (it could not
// be reached).
func (e *Engine) printLabels(ctx context.Context, p *engine.Principal, printers Printers, printer string, c *Compiled, ps *pageSource, pages iter.Seq2[*PageData, error], job *Job, recordUnsent bool) error {
	release, err := e.acquireRender(ctx)
	if err != nil {
		return err
	}
	var once sync.Once
	done := func() { once.Do(release) }
	opt := e.printOptions(p, c.App, ps.lang)
	opt.Written = done
	res, err := printers.Print(ctx, p, c.App, printer, &c.Def, pages, opt)
	done()
	job.Records, job.Size, job.Sent = ps.seen, res.Bytes, res.BytesSent
	if err == nil {
		job.Status, job.Labels, job.Codes = JobDone, res.Labels, ps.codes
		return e.recordJob(ctx, p, job)
	}
	var ce *engine.CodedError
	if res.Bytes == 0 || !errors.As(err, &ce) || (ce.Code != "printer_failed" && ce.Code != "printer_unreachable") ||
		(res.BytesSent == 0 && !recordUnsent) {
		return err
	}
	job.Status, job.Error = JobFailed, err.Error()
	job.Labels, job.Total, job.Codes = res.Sent, res.Labels, ps.codesUpTo(res.PagesSent)
	if job.Serials != nil {
		// A reprint's codes were printed before: only the reprints that went out are recorded.
		job.Codes, job.Serials = nil, job.Serials[:min(res.PagesSent, len(job.Serials))]
	}
	if rerr := e.recordJob(ctx, p, job); rerr != nil {
		return errors.Join(err, rerr)
	}
	params := map[string]any{"job": job.ID, "sent": res.Sent, "labels": res.Labels}
	for k, v := range ce.Params {
		params[k] = v
	}
	if ce.Code == "printer_unreachable" {
		// Nothing went out: the printer's own message says enough.
		return engine.Coded(engine.ErrConflict, ce.Code, params)
	}
	return engine.Coded(engine.ErrConflict, "printer_failed_job", params)
}

// printOptions are a label job's options: its language and the template's own images.
func (e *Engine) printOptions(p *engine.Principal, app, lang string) PrintOptions {
	return PrintOptions{Lang: lang, StaticImage: func(ctx context.Context, id string) ([]byte, error) {
		return e.readAsset(ctx, p, app, id)
	}}
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
	// A file holds at most LabelsPerFile labels, a table's continuation labels counted (a
	// page with more than that alone is a file of its own).
	chunk := func() iter.Seq2[*PageData, error] {
		return func(yield func(*PageData, error) bool) {
			for n := 0; more && n < LabelsPerFile; {
				d, err := ahead, aheadErr
				if err == nil && d != nil {
					k := labelsOf(def, d)
					if n > 0 && n+k > LabelsPerFile {
						return
					}
					n += k
				}
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
		if err := e.renderPDF(ctx, f, p, app, def, lang, 0, chunk()); err != nil {
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

// recordJobTimeout bounds storing a job once its labels are made.
const recordJobTimeout = 30 * time.Second

// recordJob stores a job with its audit entry and event, and tells the code source what it
// printed. A job with Rev 1 finishes the pending job stored under its id (a print action's).
func (e *Engine) recordJob(ctx context.Context, p *engine.Principal, job *Job) error {
	if job.ID == "" {
		job.ID = newJobID(e.now())
	}
	if job.Status == "" {
		job.Status = JobDone
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
	from := job.Rev
	w := engine.Write{Coll: jobsCollection, ID: job.ID, Rev: from + 1,
		Entry: engine.AuditEntry{Actor: job.By, IP: ipOf(p), Action: "print.job", Kind: "print_job", Target: target,
			After: map[string]any{"template": job.Template, "version": job.Version, "form": job.Form, "records": versions,
				"labels": job.Labels, "total": job.Total, "status": job.Status, "error": job.Error,
				"output": job.Output, "issuance": job.Issuance, "codes": job.Codes, "sha256": job.SHA256,
				"serials": job.Serials, "reason": job.Reason}},
		Event: &engine.Event{Type: EventPrinted, App: job.App, Data: map[string]any{"job": job.ID, "template": job.Template, "version": job.Version, "status": job.Status}}}
	// The job is recorded after the print is made: a cancelled request must not lose the job
	// of labels made, and the write has its own bound, not the caller's (perhaps spent) one.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordJobTimeout)
	defer cancel()
	_, err := e.k.Commit(ctx, w, func(ctx context.Context, journal func(context.Context) error) error {
		if from > 0 {
			rev, err := e.st.UpdateWith(ctx, jobsCollection, job.ID, from, job, journal)
			job.Rev = rev
			return err
		}
		job.Rev = 1
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
	if err := e.recordReprints(ctx, p, job); err != nil {
		return fmt.Errorf("record print job %s: %w", job.ID, err)
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

// renderPDF draws pages of def as one PDF of at most maxPages pages (0: any) to w; image
// placeholders read their files as p may, file-id images are the template's assets. At most
// Options.Renders renders run at once. A template or value the PDF cannot carry is
// print_render (invalid input), naming the element.
func (e *Engine) renderPDF(ctx context.Context, w io.Writer, p *engine.Principal, app string, def *Definition, lang string, maxPages int, pages iter.Seq2[*PageData, error]) error {
	opts := RenderOptions{Lang: lang, Title: def.Name.In(lang), MaxPages: maxPages}
	if e.opts.ReadFile != nil {
		opts.Image = func(id string) ([]byte, error) { return e.opts.ReadFile(ctx, p, app, id) }
	}
	opts.StaticImage = func(id string) ([]byte, error) { return e.readAsset(ctx, p, app, id) }
	release, err := e.acquireRender(ctx)
	if err != nil {
		return err
	}
	defer release()
	_, err = Render(ctx, w, def, pages, opts)
	if errors.Is(err, ErrRender) {
		return engine.Coded(engine.ErrInvalid, "print_render", map[string]any{"detail": strings.TrimPrefix(err.Error(), ErrRender.Error()+": ")})
	}
	return err
}
