package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
	"tracecraft/forms"
)

// Media types of spreadsheet files.
const (
	mimeCSV  = "text/csv"
	mimeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)

// exportZone is the time zone of the date in export file names.
var exportZone = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
}()

func (s *Server) formIORoutes() []Route {
	f := s.forms
	const base = "/api/v1/apps/:app/forms/:form/records"
	return []Route{
		{Method: "GET", Path: base + "/export", Tag: "records", Timeout: bulkTimeout,
			Summary: "Export the records matching a filter as a CSV or XLSX file (labels in the caller's language; hidden fields left out), sent as it is written (chunked); X-Export-Rows is the number of records that matched",
			Query: []Param{
				{Name: "format", Description: "csv (UTF-8 with BOM) or xlsx (default)"},
				{Name: "filter", Description: `JSON array of {field, op, value}, as for the record list`},
				{Name: "sort", Description: "field to sort by; prefix with - for descending (default -id)"},
				{Name: "fields", Description: "comma-separated field keys to export (default: every field you may see)"},
				{Name: "deleted", Type: "boolean", Description: "export deleted records instead"},
				{Name: "lang", Description: "language of headers and values: zh-CN (default) or en"},
			},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				q, err := listQueryOf(c)
				if err != nil {
					return err
				}
				format := c.Query("format", forms.FormatXLSX)
				lang := langOf(c)
				// Every check is done, and every refusal answered as JSON, before the file starts.
				exp, err := f.PrepareExport(c.UserContext(), p, c.Params("app"), c.Params("form"), q, format, lang)
				if err != nil {
					return err
				}
				c.Set(fiber.HeaderContentType, exportMIME(format))
				c.Set(fiber.HeaderContentDisposition, exportDisposition(c.Params("form"), exp.Name(), format, time.Now()))
				c.Set("X-Export-Rows", strconv.Itoa(exp.Rows))
				s.streamBody(c, func(ctx context.Context, w io.Writer) error {
					_, err := exp.Write(ctx, w)
					return err
				})
				return nil
			}},
		{Method: "POST", Path: base + "/import", Tag: "records", Body: forms.MaxImportBytes + multipartSlack, Timeout: bulkTimeout,
			Summary: "Import records from a CSV or XLSX file (multipart field \"file\", or the file as the body with Content-Type text/csv or the xlsx type; at most 10 MiB and 10,000 rows), all or nothing. By default starts a background job: 202 with the job (ImportJob) and its Location, …/imports/{id}. dryRun=1: 200 with the report and a preview of the first rows, nothing written. wait=1: runs the job and answers 200 with the report, or 422 with the report when rows have errors and nothing was written, or 503 import_timeout when the job ran longer than it may (10 minutes; what it wrote is taken back). 429 import_busy (with Retry-After) while two imports already run",
			Out:     forms.ImportJob{}, Status: fiber.StatusAccepted,
			Query: []Param{
				{Name: "format", Description: "csv or xlsx; by default taken from the file name or the content type"},
				{Name: "dryRun", Type: "boolean", Description: "check every row and report, with a preview of the first 20 rows as they would be stored, writing nothing"},
				{Name: "wait", Type: "boolean", Description: "answer when the import has ended, with its report, instead of 202 with the job"},
				{Name: "lang", Description: "language of the report's messages: zh-CN (default) or en"},
			},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				lang := langOf(c)
				r, format, err := importFile(c)
				if errors.Is(err, errImportTooLarge) {
					// Not the server's body limit, which the error mapper would name.
					return c.Status(fiber.StatusRequestEntityTooLarge).JSON(ErrorBody{Error: ErrorInfo{Code: "too_large",
						Message: engine.Message(lang, "http.too_large", map[string]any{"limit": humanBytes(forms.MaxImportBytes)})}})
				}
				if err != nil {
					return err
				}
				defer r.Close()
				app, form := strings.Clone(c.Params("app")), strings.Clone(c.Params("form"))
				if c.QueryBool("dryRun") {
					rep, err := f.Import(c.UserContext(), p, app, form, format, r, true, lang)
					if err != nil {
						return err
					}
					return c.JSON(rep)
				}
				// The job runs on when the client leaves, and stops (taking back what it wrote)
				// when the server shuts down or its time is up.
				ctx, stop := s.jobContext(c.UserContext())
				if c.QueryBool("wait") {
					defer stop()
					rep, err := f.Import(ctx, p, app, form, format, r, false, lang)
					if err != nil {
						return importTimedOut(c, ctx, lang, err)
					}
					if rep.Refused() {
						return c.Status(fiber.StatusUnprocessableEntity).JSON(rep)
					}
					return c.JSON(rep)
				}
				job, done, err := f.StartImport(ctx, p, app, form, format, r, lang)
				if err != nil {
					err = importTimedOut(c, ctx, lang, err)
					stop()
					return err
				}
				go func() {
					<-done
					stop()
				}()
				c.Location("/api/v1/apps/" + app + "/forms/" + form + "/imports/" + job.ID)
				return c.Status(fiber.StatusAccepted).JSON(job)
			}},
		{Method: "GET", Path: "/api/v1/apps/:app/forms/:form/imports/:job", Tag: "records", Out: forms.ImportJob{},
			Summary: "An import job: its state (queued, validating, writing, done, failed, rolled_back), rows, validated, written, the row errors found so far, and when it has ended its report; only for the user who started it and system administrators (404 for anyone else)",
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				job, err := f.ImportJobOf(c.UserContext(), p, c.Params("app"), c.Params("form"), c.Params("job"))
				if err != nil {
					return err
				}
				return c.JSON(job)
			}},
	}
}

// errImportTimeout ends an import job that ran longer than Options.ImportTimeout.
var errImportTimeout = errors.New("import job took longer than it may")

// jobContext is the context of work that outlives its request (an import job): it keeps the
// request's values, not its cancellation or deadline, and ends when the server shuts down or
// when Options.ImportTimeout has passed (errImportTimeout) — a stuck job must not hold one of
// the import slots until the server stops. The server's shutdown waits for it until stop is
// called.
func (s *Server) jobContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, s.opts.ImportTimeout, errImportTimeout)
	stopShutdown := context.AfterFunc(s.base, func() { cancel(errShuttingDown) })
	s.running.add()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			stopShutdown()
			cancelTimeout()
			cancel(nil)
			s.running.done()
		})
	}
}

// importTimedOut answers an import whose job ran out of time with 503 import_timeout (the job,
// if it began writing, has taken back what it wrote); any other error is returned as it is.
func importTimedOut(c *fiber.Ctx, ctx context.Context, lang string, err error) error {
	if !errors.Is(context.Cause(ctx), errImportTimeout) {
		return err
	}
	return c.Status(fiber.StatusServiceUnavailable).JSON(ErrorBody{Error: ErrorInfo{Code: "import_timeout",
		Message: engine.Message(lang, "import_timeout", nil)}})
}

var errImportTooLarge = errors.New("import file too large")

// errAnswerClosed ends a streamed answer's context once the answer is sent or cannot be.
var errAnswerClosed = errors.New("answer closed")

// streamBody makes the answer what write writes, sent as it is written (chunked), after the
// handler has returned: a file of any size passes through a pipe, never whole in memory. write
// runs under a context with the request's values and deadline that also ends when the server
// shuts down (after its grace period), when the client is seen to leave and when the answer
// cannot be sent; it must not use c. An error from write cuts the answer off before its last
// chunk, so the client sees a broken transfer rather than a file that looks complete.
func (s *Server) streamBody(c *fiber.Ctx, write func(ctx context.Context, w io.Writer) error) {
	parent := c.UserContext()
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(parent))
	cancelDeadline := context.CancelFunc(func() {})
	if dl, ok := parent.Deadline(); ok {
		ctx, cancelDeadline = context.WithDeadlineCause(ctx, dl, errRequestTimeout)
	}
	stopShutdown := context.AfterFunc(s.base, func() { cancel(errShuttingDown) })
	watch := watchConn(c.Context().Conn(), func() { cancel(errClientGone) })
	method, path := c.Method(), c.Path()
	pr, pw := io.Pipe()
	s.running.add()
	go func() {
		defer s.running.done()
		defer stopShutdown()
		defer cancelDeadline()
		err := write(ctx, pw)
		if err != nil {
			s.log.Warn("streamed answer cut short", "method", method, "path", path, "err", err, "cause", context.Cause(ctx))
		}
		pw.CloseWithError(err) // nil: the end of the answer
	}()
	var once sync.Once
	c.Context().SetBodyStream(&answerStream{PipeReader: pr, closed: func() {
		// fasthttp is done with the answer (sent, or the connection failed): the connection may
		// serve the next request, so the watch stops looking at it, and the writer stops.
		once.Do(func() {
			watch.stop()
			cancel(errAnswerClosed)
		})
	}}, -1)
}

// answerStream is the reading end of a streamed answer; fasthttp closes it when it is done.
type answerStream struct {
	*io.PipeReader
	closed func()
}

func (a *answerStream) Close() error {
	a.closed()
	return a.PipeReader.Close()
}

// importFile finds the uploaded file — the multipart field "file" or the raw body — and its
// format: ?format=, else the file name's extension, else the content type.
func importFile(c *fiber.Ctx) (io.ReadCloser, string, error) {
	format := strings.ToLower(c.Query("format"))
	mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	var r io.ReadCloser
	if mt == fiber.MIMEMultipartForm {
		fh, err := c.FormFile("file")
		if err != nil {
			return nil, "", engine.Invalid("file", "required", nil)
		}
		if fh.Size > forms.MaxImportBytes {
			return nil, "", errImportTooLarge
		}
		file, err := fh.Open()
		if err != nil {
			return nil, "", fmt.Errorf("open uploaded file: %w", err)
		}
		// Fiber keeps uploads in memory or a temporary file it removes after the request.
		r = file
		if format == "" {
			format = strings.TrimPrefix(strings.ToLower(filepath.Ext(fh.Filename)), ".")
		}
		if format == "" {
			mt, _, _ = mime.ParseMediaType(fh.Header.Get(fiber.HeaderContentType))
		}
	} else {
		if len(c.Body()) > forms.MaxImportBytes {
			return nil, "", errImportTooLarge
		}
		if len(c.Body()) == 0 {
			return nil, "", engine.Invalid("file", "required", nil)
		}
		r = io.NopCloser(bytes.NewReader(c.Body()))
	}
	if format == "" {
		switch mt {
		case mimeCSV, "application/csv", "text/comma-separated-values":
			format = forms.FormatCSV
		case mimeXLSX:
			format = forms.FormatXLSX
		}
	}
	if format != forms.FormatCSV && format != forms.FormatXLSX {
		r.Close()
		return nil, "", engine.Invalid("format", "one_of", map[string]any{"values": forms.FormatCSV + ", " + forms.FormatXLSX})
	}
	return r, format, nil
}

func exportMIME(format string) string {
	if format == forms.FormatCSV {
		return mimeCSV + "; charset=utf-8"
	}
	return mimeXLSX
}

// exportDisposition names the download: an ASCII name from the form key ("receipt-20261125.csv")
// and, per RFC 5987, the form's name in the caller's language ("来料验收-20261125.csv").
func exportDisposition(key, name, format string, now time.Time) string {
	suffix := "-" + now.In(exportZone).Format("20060102") + "." + format
	v := `attachment; filename="` + key + suffix + `"`
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(name))
	if name != "" && name != key {
		v += "; filename*=UTF-8''" + rfc5987(name+suffix)
	}
	return v
}

// rfc5987 percent-encodes every byte that is not an attr-char.
func rfc5987(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || strings.IndexByte("!#$&+-.^_`|~", ch) >= 0 {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}
