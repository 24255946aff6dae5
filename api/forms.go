package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
	"tracecraft/forms"
)

// FieldTypeInfo describes a field type for the designer's palette.
type FieldTypeInfo struct {
	ID    string      `json:"id"`
	Label engine.Text `json:"label"`
}

// RecordInput is the body of record create and update.
type RecordInput struct {
	Rev  int64        `json:"rev,omitempty"`
	Data forms.Values `json:"data"`
}

// Validate checks data is present.
func (in *RecordInput) Validate() error {
	if in.Data == nil {
		return engine.Invalid("data", "required", nil)
	}
	return nil
}

// RevInput carries the revision a caller read (delete, restore).
type RevInput struct {
	Rev int64 `json:"rev"`
}

// Validate checks the revision is given.
func (in *RevInput) Validate() error {
	if in.Rev < 1 {
		return engine.Invalid("rev", "required", nil)
	}
	return nil
}

// TransitionInput takes a status transition.
type TransitionInput struct {
	Transition string `json:"transition"`
	Rev        int64  `json:"rev"`
}

// Validate checks both fields.
func (in *TransitionInput) Validate() error {
	var fe engine.FieldErrors
	if in.Transition == "" {
		fe.Add("transition", "required", nil)
	}
	if in.Rev < 1 {
		fe.Add("rev", "required", nil)
	}
	return fe.Err()
}

func (s *Server) formRoutes() []Route {
	f := s.forms
	const base = "/api/v1/apps/:app/forms/:form"
	rec := base + "/records/:id"
	listQuery := []Param{
		{Name: "limit", Type: "integer", Description: "page size, 1–500 (default 50)"},
		{Name: "cursor", Description: "the next cursor of the previous page"},
		{Name: "sort", Description: "field to sort by; prefix with - for descending (default -id: newest first)"},
		{Name: "fields", Description: "comma-separated field keys to return"},
		{Name: "filter", Description: `JSON array of {field, op, value}; op is eq ne gt gte lt lte in contains between empty notEmpty`},
		{Name: "deleted", Type: "boolean", Description: "list deleted records instead"},
	}
	routes := []Route{
		{Method: "POST", Path: "/api/v1/apps", Tag: "apps", Summary: "Create an app", Action: engine.PermSystemAdmin, In: forms.AppInput{}, Out: forms.App{}, Status: 201,
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in forms.AppInput
				if err := bind(c, &in); err != nil {
					return err
				}
				a, err := f.CreateApp(c.UserContext(), p, in)
				if err != nil {
					return err
				}
				return c.Status(201).JSON(a)
			}},
		{Method: "GET", Path: "/api/v1/apps", Tag: "apps", Summary: "List the apps you can see", Out: []forms.App{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				apps, err := f.ListApps(c.UserContext(), p)
				if err != nil {
					return err
				}
				return c.JSON(nonNil(apps))
			}},
		{Method: "GET", Path: "/api/v1/apps/:app", Tag: "apps", Summary: "One app", Out: forms.App{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				a, err := f.GetApp(c.UserContext(), p, c.Params("app"))
				if err != nil {
					return err
				}
				return c.JSON(a)
			}},
		{Method: "GET", Path: "/api/v1/form-meta/schema", Tag: "forms", Summary: "The meta-schema of form definitions (JSON Schema 2020-12)",
			Handle: func(c *fiber.Ctx, _ *engine.Principal) error {
				c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
				return c.Send(forms.MetaSchemaJSON())
			}},
		{Method: "GET", Path: "/api/v1/form-meta/field-types", Tag: "forms", Summary: "The field types a form may use", Out: []FieldTypeInfo{},
			Handle: func(c *fiber.Ctx, _ *engine.Principal) error {
				var out []FieldTypeInfo
				for _, id := range forms.FieldTypeIDs() {
					t, _ := forms.FieldTypeByID(id)
					out = append(out, FieldTypeInfo{ID: id, Label: t.Label()})
				}
				return c.JSON(out)
			}},
	}
	routes = append(routes, definitionRoutes(definitionAPI[forms.Form, forms.Version]{
		plural: "forms", param: "form", noun: "form", in: forms.Definition{},
		list: f.ListForms, get: f.GetForm, save: f.SaveDraft, publish: f.Publish, versions: f.Versions,
		publishSummary: "Publish the draft as the form's next version",
	})...)
	routes = append(routes, []Route{
		{Method: "GET", Path: base + "/records", Tag: "records", Summary: "List records (filter, sort, keyset pages)", Query: listQuery, Out: forms.ListResult{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				q, err := listQueryOf(c)
				if err != nil {
					return err
				}
				res, err := f.List(c.UserContext(), p, c.Params("app"), c.Params("form"), q)
				if err != nil {
					return err
				}
				return c.JSON(res)
			}},
		{Method: "POST", Path: base + "/records/query", Tag: "records", Summary: "List records with the query in the body", In: forms.ListQuery{}, Out: forms.ListResult{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var q forms.ListQuery
				if err := bind(c, &q); err != nil {
					return err
				}
				if q.Limit < 0 {
					return engine.Invalid("limit", "too_small", map[string]any{"min": 1})
				}
				res, err := f.List(c.UserContext(), p, c.Params("app"), c.Params("form"), q)
				if err != nil {
					return err
				}
				return c.JSON(res)
			}},
		{Method: "POST", Path: base + "/records", Tag: "records", Summary: "Create a record (flows: \"pending\" when a flow may start on it, asynchronously)", In: RecordInput{}, Out: CreatedRecord{}, Status: 201,
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in RecordInput
				if err := bind(c, &in); err != nil {
					return err
				}
				r, err := f.Create(c.UserContext(), p, c.Params("app"), c.Params("form"), in.Data)
				if err != nil {
					return err
				}
				return c.Status(201).JSON(s.createdRecord(c.UserContext(), r))
			}},
		{Method: "GET", Path: rec, Tag: "records", Summary: "One record", Out: forms.Record{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				r, err := f.Get(c.UserContext(), p, c.Params("app"), c.Params("form"), c.Params("id"))
				if err != nil {
					return err
				}
				return c.JSON(r)
			}},
		{Method: "PATCH", Path: rec, Tag: "records", Summary: "Update a record: given fields replace stored ones (null clears); rev is required", In: RecordInput{}, Out: forms.Record{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in RecordInput
				if err := bind(c, &in); err != nil {
					return err
				}
				if in.Rev < 1 {
					return engine.Invalid("rev", "required", nil)
				}
				r, err := f.Update(c.UserContext(), p, c.Params("app"), c.Params("form"), c.Params("id"), in.Rev, in.Data)
				if err != nil {
					return err
				}
				return c.JSON(r)
			}},
		{Method: "DELETE", Path: rec, Tag: "records", Summary: "Delete a record (softly: it can be restored); ?rev= is required", Out: forms.Record{},
			Query: []Param{{Name: "rev", Type: "integer", Description: "required: the revision you read"}},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				rev, err := revQuery(c)
				if err != nil {
					return err
				}
				r, err := f.Delete(c.UserContext(), p, c.Params("app"), c.Params("form"), c.Params("id"), rev)
				if err != nil {
					return err
				}
				return c.JSON(r)
			}},
		{Method: "POST", Path: rec + "/restore", Tag: "records", Summary: "Restore a deleted record", In: RevInput{}, Out: forms.Record{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in RevInput
				if err := bind(c, &in); err != nil {
					return err
				}
				r, err := f.Restore(c.UserContext(), p, c.Params("app"), c.Params("form"), c.Params("id"), in.Rev)
				if err != nil {
					return err
				}
				return c.JSON(r)
			}},
		{Method: "GET", Path: rec + "/history", Tag: "records", Summary: "A page of a record's revisions, oldest first, with field-level changes", Out: forms.HistoryPage{},
			Query: []Param{
				{Name: "limit", Type: "integer", Description: "revisions per page, 1–200 (default 50)"},
				{Name: "cursor", Description: "the next field of the previous page"},
			},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var fe engine.FieldErrors
				q := forms.HistoryQuery{Limit: intQuery(c, "limit", 0, 1, forms.MaxHistoryLimit, &fe), Cursor: c.Query("cursor")}
				if err := fe.Err(); err != nil {
					return err
				}
				h, err := f.History(c.UserContext(), p, c.Params("app"), c.Params("form"), c.Params("id"), q)
				if err != nil {
					return err
				}
				return c.JSON(h)
			}},
		{Method: "POST", Path: rec + "/transitions", Tag: "records", Summary: "Take a status transition", In: TransitionInput{}, Out: forms.Record{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in TransitionInput
				if err := bind(c, &in); err != nil {
					return err
				}
				r, err := f.Transition(c.UserContext(), p, c.Params("app"), c.Params("form"), c.Params("id"), in.Rev, in.Transition)
				if err != nil {
					return err
				}
				return c.JSON(r)
			}},
	}...)
	return routes
}

// jsonBody returns the raw JSON body after checking the content type and that it is one JSON
// value (definitions are checked against their meta-schema by the engine).
func jsonBody(c *fiber.Ctx) ([]byte, error) {
	if !strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEApplicationJSON) {
		return nil, fiber.ErrUnsupportedMediaType
	}
	body := c.Body()
	if err := decodeDocument(body); err != nil {
		return nil, err
	}
	return body, nil
}

func listQueryOf(c *fiber.Ctx) (forms.ListQuery, error) {
	var q forms.ListQuery
	var fe engine.FieldErrors
	q.Limit = intQuery(c, "limit", 0, 1, forms.MaxLimit, &fe)
	q.Cursor = c.Query("cursor")
	if sortBy := c.Query("sort"); sortBy != "" {
		q.Sort = &forms.SortKey{Field: strings.TrimPrefix(sortBy, "-"), Desc: strings.HasPrefix(sortBy, "-")}
	}
	if fs := c.Query("fields"); fs != "" {
		q.Fields = strings.Split(fs, ",")
	}
	if fl := c.Query("filter"); fl != "" {
		if err := decodeStrict([]byte(fl), &q.Filters); err != nil {
			fe = append(fe, prefixed("filter", err)...)
		}
	}
	q.Deleted = c.QueryBool("deleted")
	return q, fe.Err()
}

func prefixed(prefix string, err error) engine.FieldErrors {
	got, ok := engine.AsFieldErrors(err)
	if !ok {
		return engine.FieldFault(prefix, err)
	}
	for i := range got {
		if got[i].Path == "" {
			got[i].Path = prefix
		} else {
			got[i].Path = prefix + "." + got[i].Path
		}
	}
	return got
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
