package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
	"tracecraft/printing"
)

// codeRoutes are the routes of item codes (一物一码): issuing codes for a lot record, its
// issuances and counts, one code's detail, voiding and reprinting (printing.Codes). They are
// authorised like the lot record: reading it to look, updating it to issue, void or reprint.
func (s *Server) codeRoutes() []Route {
	cs := s.codes
	if cs == nil {
		return nil
	}
	const lotCodes = "/api/v1/apps/:app/forms/:form/records/:id/codes"
	const code = "/api/v1/apps/:app/codes/:serial"
	act := func(do func(c *fiber.Ctx, p *engine.Principal, in printing.ActInput) (any, error)) func(c *fiber.Ctx, p *engine.Principal) error {
		return func(c *fiber.Ctx, p *engine.Principal) error {
			var in printing.ActInput
			if err := bind(c, &in); err != nil {
				return err
			}
			out, err := do(c, p, in)
			if err != nil {
				return err
			}
			return c.JSON(out)
		}
	}
	return []Route{
		{Method: "POST", Path: lotCodes, Tag: "codes", Status: fiber.StatusCreated, In: printing.IssueInput{}, Out: printing.Issuance{},
			Summary: "Issue item codes for a lot record (count 1–100,000): GTIN, lot and expiry from its fields (gtinField, lotField, expiryField, or the conventional keys); needs update on the record",
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in printing.IssueInput
				if err := bind(c, &in); err != nil {
					return err
				}
				if in.Base == "" && s.opts.PublicURL == "" {
					// No public address configured: the codes link to the address this request came to.
					in.Base = c.Protocol() + "://" + c.Hostname()
				}
				is, err := cs.Issue(c.UserContext(), p, c.Params("app"), c.Params("form"), c.Params("id"), in)
				if err != nil {
					return err
				}
				return c.Status(fiber.StatusCreated).JSON(is)
			}},
		{Method: "GET", Path: lotCodes, Tag: "codes", Out: printing.LotCodes{},
			Summary: "A lot record's code issuances, oldest first, with counts issued / printed / voided / reprinted / scanned and their totals",
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				out, err := cs.Lot(c.UserContext(), p, c.Params("app"), c.Params("form"), c.Params("id"))
				if err != nil {
					return err
				}
				return c.JSON(out)
			}},
		{Method: "GET", Path: lotCodes + "/:issuance/serials", Tag: "codes", Out: printing.SerialPage{},
			Summary: "The serials of an issuance in serial order, a page at a time (after: the last serial of the previous page; limit ≤ 1000), with each code's link and void; needs read on the lot record",
			Query:   []Param{{Name: "after", Description: "continue after this serial (the previous page's next)"}, {Name: "limit", Type: "integer", Description: "1–1000 (100)"}},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var fe engine.FieldErrors
				limit := intQuery(c, "limit", 100, 1, printing.MaxSerialsPage, &fe)
				if err := fe.Err(); err != nil {
					return err
				}
				out, err := cs.Serials(c.UserContext(), p, c.Params("app"), c.Params("form"), c.Params("id"), c.Params("issuance"), strings.Clone(c.Query("after")), limit)
				if err != nil {
					return err
				}
				return c.JSON(out)
			}},
		{Method: "DELETE", Path: "/api/v1/apps/:app/code-complaints/:complaint", Tag: "codes", AppAction: engine.PermAppDesign, Status: fiber.StatusNoContent,
			Summary: "Delete a consumer's complaint (designers of the app; audited without its text)",
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				if err := cs.DeleteComplaint(c.UserContext(), p, c.Params("app"), c.Params("complaint")); err != nil {
					return err
				}
				return c.SendStatus(fiber.StatusNoContent)
			}},
		{Method: "GET", Path: "/api/v1/apps/:app/code-complaints", Tag: "codes", AppAction: engine.PermAppDesign, Out: []printing.Complaint{},
			Summary: "Consumers' complaints sent from scan pages, newest first (designers of the app)",
			Query:   []Param{{Name: "limit", Type: "integer"}},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var fe engine.FieldErrors
				limit := intQuery(c, "limit", 100, 1, 500, &fe)
				if err := fe.Err(); err != nil {
					return err
				}
				out, err := cs.Complaints(c.UserContext(), p, c.Params("app"), limit)
				if err != nil {
					return err
				}
				return c.JSON(out)
			}},
		{Method: "GET", Path: code, Tag: "codes", Out: printing.CodeDetail{},
			Summary: "One item code: its link, lot record, void, reprints and scans; needs read on the lot record",
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				out, err := cs.Get(c.UserContext(), p, c.Params("app"), strings.Clone(c.Params("serial")))
				if err != nil {
					return err
				}
				return c.JSON(out)
			}},
		{Method: "POST", Path: code + "/void", Tag: "codes", In: printing.ActInput{}, Out: printing.CodeDetail{},
			Summary: "Void a code (range: its whole issuance) with a reason; reason \"recall\" shows the recall banner on its page; audited",
			Handle: act(func(c *fiber.Ctx, p *engine.Principal, in printing.ActInput) (any, error) {
				return cs.Void(c.UserContext(), p, c.Params("app"), c.Params("serial"), in)
			})},
		{Method: "POST", Path: code + "/reprint", Tag: "codes", In: printing.ActInput{}, Out: printing.ReprintResult{},
			Summary: "Record a reprint of a code (range: its whole issuance) with a reason; audited; a void code is not reprinted",
			Handle: act(func(c *fiber.Ctx, p *engine.Principal, in printing.ActInput) (any, error) {
				return cs.Reprint(c.UserContext(), p, c.Params("app"), c.Params("serial"), in)
			})},
	}
}
