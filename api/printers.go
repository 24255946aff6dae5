package api

import (
	"net/url"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
	"tracecraft/printing"
)

// printerRoutes are the label printers: administrators configure them (host, port 9100,
// ZPL or TSPL, resolution, timeout); anyone signed in lists their names to print to one.
func (s *Server) printerRoutes() []Route {
	ps := s.printers
	if ps == nil {
		return nil
	}
	return []Route{
		{Method: "GET", Path: "/api/v1/admin/printers", Tag: "admin", Action: engine.PermSystemAdmin,
			Summary: "The configured label printers with the revision of their list", Out: printing.PrinterList{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				l, err := ps.List(c.UserContext(), p)
				if err != nil {
					return err
				}
				return c.JSON(l)
			}},
		{Method: "PUT", Path: "/api/v1/admin/printers", Tag: "admin", Action: engine.PermSystemAdmin,
			Summary: "Replace the configured label printers (rev: the revision read, 0 for the first list); audited as printers.update",
			In:      printing.PrinterList{}, Out: printing.PrinterList{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in printing.PrinterList
				if err := bind(c, &in); err != nil {
					return err
				}
				l, err := ps.Put(c.UserContext(), p, in)
				if err != nil {
					return err
				}
				return c.JSON(l)
			}},
		{Method: "POST", Path: "/api/v1/admin/printers/:name/test", Tag: "admin", Action: engine.PermSystemAdmin,
			Summary: "Send a one-label test page (the printer's name, the time and a QR, in its language) to a configured printer; audited as printers.test; 409 printer_unreachable or printer_failed when it cannot be reached or does not take the label (at most its timeout, no more than 20 s)",
			Out:     printing.TestPrintResult{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				// Path parameters arrive as sent: a Chinese name is percent-encoded.
				name, err := url.PathUnescape(c.Params("name"))
				if err != nil {
					return engine.Invalid("name", "invalid_format", map[string]any{"detail": "bad escape"})
				}
				res, err := ps.PrintTestLabel(c.UserContext(), p, name)
				if err != nil {
					return err
				}
				return c.JSON(res)
			}},
		{Method: "GET", Path: "/api/v1/printers", Tag: "print-templates",
			Summary: "Label printers to print to: names, languages and resolutions (hosts are for administrators)", Out: []printing.PrinterInfo{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				infos, err := ps.Infos(c.UserContext(), p)
				if err != nil {
					return err
				}
				return c.JSON(infos)
			}},
	}
}
