package api

import (
	"bytes"
	"mime"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
	"tracecraft/forms"
)

func (s *Server) fileRoutes() []Route {
	f := s.forms
	return []Route{
		{Method: "POST", Path: "/api/v1/apps/:app/files", Tag: "files", Status: 201, Out: forms.FileInfo{},
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
				var buf bytes.Buffer
				fi, err := f.Download(c.UserContext(), p, c.Params("app"), c.Params("id"), &buf)
				if err != nil {
					return err
				}
				c.Set(fiber.HeaderContentType, fi.Type)
				c.Set(fiber.HeaderContentLength, strconv.FormatInt(fi.Size, 10))
				c.Set(fiber.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": fi.Name}))
				c.Set(fiber.HeaderCacheControl, "private, max-age=3600")
				return c.Send(buf.Bytes())
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
