package api

import (
	"context"
	"io"
	"mime"
	"time"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
	"tracecraft/forms"
)

func (s *Server) fileRoutes() []Route {
	f := s.forms
	return []Route{
		{Method: "POST", Path: "/api/v1/apps/:app/files", Tag: "files", Status: 201, Out: forms.FileInfo{}, Body: forms.MaxUploadSize + multipartSlack,
			Summary: "Upload a file (multipart/form-data, field \"file\"; at most 50 MiB) for attachment, image and signature fields",
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				fh, err := c.FormFile("file")
				if err != nil {
					return engine.Invalid("file", "required", nil)
				}
				if fh.Size > forms.MaxUploadSize {
					return engine.Invalid("file", "file_too_large", map[string]any{"max": "50 MiB"})
				}
				r, err := fh.Open()
				if err != nil {
					return err
				}
				defer r.Close()
				fi, err := f.Upload(c.UserContext(), p, c.Params("app"), fh.Filename, r)
				if err != nil {
					return err
				}
				return c.Status(201).JSON(fi)
			}},
		{Method: "GET", Path: "/api/v1/apps/:app/files/:id", Tag: "files",
			Summary: "Download a file (always as an attachment, never rendered inline as markup)",
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				// The content is read one chunk at a time while it is sent, which goes on after
				// the handler returns (and its context ends): under a context of its own that
				// closing the stream ends.
				ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), downloadTimeout)
				fi, r, err := f.OpenFile(ctx, p, c.Params("app"), c.Params("id"))
				if err != nil {
					cancel()
					return err
				}
				c.Set(fiber.HeaderContentType, fi.Type)
				c.Set(fiber.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": fi.Name}))
				c.Set(fiber.HeaderCacheControl, "private, max-age=3600")
				return c.SendStream(streamBody{r, cancel}, int(fi.Size))
			}},
		{Method: "GET", Path: "/api/v1/apps/:app/files/:id/info", Tag: "files", Out: forms.FileInfo{},
			Summary: "A file's name, size and type",
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				fi, err := f.FileInfo(c.UserContext(), p, c.Params("app"), c.Params("id"))
				if err != nil {
					return err
				}
				return c.JSON(fi)
			}},
	}
}

// downloadTimeout bounds how long one download may take to send.
const downloadTimeout = 30 * time.Minute

// streamBody is a download's content; fasthttp closes it once the response is written or
// dropped, which ends the context its chunks are read under.
type streamBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b streamBody) Close() error {
	b.cancel()
	return b.ReadCloser.Close()
}
