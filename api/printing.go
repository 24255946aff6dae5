package api

import (
	"io"
	"mime"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
	"tracecraft/printing"
)

// printTimeout bounds a print request: reading its records, drawing the labels and sending
// the file (the engine's own bound, printing.Options.Timeout, covers the drawing).
const printTimeout = 5 * time.Minute

// HeaderPrintJob names the print job a print's answer made.
const HeaderPrintJob = "X-Print-Job"

// printRoutes are the printing engine's routes: print templates of an app (designers), a
// form's published templates (its readers), the preview, printing and the template's print
// jobs.
func (s *Server) printRoutes() []Route {
	e := s.printing
	if e == nil {
		return nil
	}
	const base = "/api/v1/apps/:app/print-templates/:template"
	routes := definitionRoutes(definitionAPI[printing.Template, printing.TemplateVersion]{
		plural: "print-templates", param: "template", noun: "print template", read: engine.PermAppDesign, in: printing.Definition{},
		list: e.ListTemplates, get: e.GetTemplate, save: e.SaveDraft, publish: e.Publish, versions: e.Versions,
		publishSummary: "Publish the draft as the template's next version, the one prints use",
	})
	return append(routes, []Route{
		{Method: "GET", Path: "/api/v1/apps/:app/forms/:form/print-templates", Tag: "print-templates",
			Summary: "The form's published print templates, for anyone who may read its records: key, name, kind, what a label is made for, the version printed and the label's size (never a draft)",
			Out:     []printing.FormTemplate{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				l, err := e.FormTemplates(c.UserContext(), p, c.Params("app"), c.Params("form"))
				if err != nil {
					return err
				}
				return c.JSON(l)
			}},
		{Method: "POST", Path: base + "/preview", Tag: "print-templates", AppAction: engine.PermAppDesign,
			Summary: "Draw the template's draft (or the unsaved definition given) as a PDF: with a record's values as you may see them, or sample values from the fields' labels; at most 20 labels, nothing recorded",
			In:      printing.PreviewInput{}, Timeout: printTimeout, Body: 2 << 20,
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in printing.PreviewInput
				if err := bind(c, &in); err != nil {
					return err
				}
				if in.Lang == "" {
					in.Lang = langOf(c)
				}
				pdf, err := e.Preview(c.UserContext(), p, c.Params("app"), c.Params("template"), in)
				if err != nil {
					return err
				}
				c.Set(fiber.HeaderContentType, "application/pdf")
				c.Set(fiber.HeaderContentDisposition, mime.FormatMediaType("inline", map[string]string{"filename": c.Params("template") + "-preview.pdf"}))
				c.Set(fiber.HeaderCacheControl, "no-store")
				return c.Send(pdf)
			}},
		{Method: "POST", Path: base + "/print", Tag: "print-templates",
			Summary: "Print records (at most 1000) with the template's latest published version: a PDF, or a ZIP of PDFs past 10,000 labels, as a download (the job's id in X-Print-Job), or to a label printer (the job as JSON). Every record must be one you may read; hidden fields print empty. With serials (补打) and a reason, those printed codes of the one record are printed again and each is recorded as a reprint (update on the record).",
			In:      printing.PrintInput{}, Out: printing.Job{}, Timeout: printTimeout,
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in printing.PrintInput
				if err := bind(c, &in); err != nil {
					return err
				}
				out, err := e.Print(c.UserContext(), p, c.Params("app"), c.Params("template"), in)
				if err != nil {
					return err
				}
				c.Set(HeaderPrintJob, out.Job.ID)
				if out.ContentType == "" {
					out.Close()
					return c.JSON(out.Job)
				}
				c.Set(fiber.HeaderContentType, out.ContentType)
				c.Set(fiber.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": out.Name}))
				c.Set(fiber.HeaderCacheControl, "no-store")
				c.Set("X-Print-Labels", strconv.Itoa(out.Job.Labels))
				// The file is removed once it is sent (or the client is gone).
				return c.SendStream(closingReader{out}, int(out.Size))
			}},
		{Method: "GET", Path: base + "/jobs", Tag: "print-templates", AppAction: engine.PermAppDesign,
			Summary: "The template's print jobs, newest first: version, records with their form versions, labels, output, who and when",
			Out:     printing.JobList{},
			Query:   []Param{{Name: "limit", Type: "integer"}, {Name: "next", Description: "continue from the previous page's next"}},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var fe engine.FieldErrors
				limit := intQuery(c, "limit", 50, 1, 200, &fe)
				if err := fe.Err(); err != nil {
					return err
				}
				l, err := e.Jobs(c.UserContext(), p, c.Params("app"), c.Params("template"), limit, c.Query("next"))
				if err != nil {
					return err
				}
				return c.JSON(l)
			}},
	}...)
}

// closingReader is a print's file as a response body: fasthttp closes it once the response is
// written or dropped, which removes the file.
type closingReader struct{ *printing.Output }

var _ io.ReadCloser = closingReader{}
