package api

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// definitionAPI is one kind of versioned definition (forms, flows, rules, and the kinds to come)
// as its builder routes see it: list, create, read, save the draft, publish, versions.
type definitionAPI[T, V any] struct {
	plural string // the path segment and the OpenAPI tag: "flows"
	param  string // the path parameter of the key: "flow"
	noun   string // what the summaries call one: "flow"
	// read is the app permission the reads need ("" is app.read); writes need app.design.
	read string
	// in documents the request body of create and save (the kind's definition type).
	in             any
	publishSummary string
	list           func(ctx context.Context, p *engine.Principal, app string) ([]T, error)
	get            func(ctx context.Context, p *engine.Principal, app, key string) (*T, error)
	save           func(ctx context.Context, p *engine.Principal, app string, raw []byte, rev int64) (*T, error)
	publish        func(ctx context.Context, p *engine.Principal, app, key string) (*V, error)
	versions       func(ctx context.Context, p *engine.Principal, app, key string) ([]V, error) // nil: no route
}

// definitionRoutes are the builder routes of a kind. A save names the definition in its path
// and its body; the two must agree (a body naming another key would overwrite that one).
func definitionRoutes[T, V any](d definitionAPI[T, V]) []Route {
	list := "/api/v1/apps/:app/" + d.plural
	one := list + "/:" + d.param
	var t T
	var v V
	routes := []Route{
		{Method: "GET", Path: list, Tag: d.plural, AppAction: d.read, Summary: fmt.Sprintf("List an app's %s with their drafts", d.plural), Out: []T{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				out, err := d.list(c.UserContext(), p, c.Params("app"))
				if err != nil {
					return err
				}
				return c.JSON(nonNil(out))
			}},
		{Method: "POST", Path: list, Tag: d.plural, AppAction: engine.PermAppDesign, Summary: fmt.Sprintf("Create a %s: the body is its definition, saved as a draft", d.noun), In: d.in, Out: t, Status: 201,
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				body, err := jsonBody(c)
				if err != nil {
					return err
				}
				out, err := d.save(c.UserContext(), p, c.Params("app"), body, 0)
				if err != nil {
					return err
				}
				return c.Status(201).JSON(out)
			}},
		{Method: "GET", Path: one, Tag: d.plural, AppAction: d.read, Summary: fmt.Sprintf("A %s with its draft", d.noun), Out: t,
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				out, err := d.get(c.UserContext(), p, c.Params("app"), c.Params(d.param))
				if err != nil {
					return err
				}
				return c.JSON(out)
			}},
		{Method: "PUT", Path: one, Tag: d.plural, AppAction: engine.PermAppDesign, Summary: fmt.Sprintf("Save a %s's draft (the body is the definition; ?rev= is the draft revision you edited)", d.noun), In: d.in, Out: t,
			Query: []Param{{Name: "rev", Type: "integer", Description: "required: the draft revision you edited"}},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				rev, err := revQuery(c)
				if err != nil {
					return err
				}
				body, err := jsonBody(c)
				if err != nil {
					return err
				}
				var key struct {
					Key string `json:"key"`
				}
				_ = json.Unmarshal(body, &key)
				if key.Key != c.Params(d.param) {
					return engine.Invalid("/key", "not_allowed", map[string]any{"value": key.Key})
				}
				out, err := d.save(c.UserContext(), p, c.Params("app"), body, rev)
				if err != nil {
					return err
				}
				return c.JSON(out)
			}},
		{Method: "POST", Path: one + "/publish", Tag: d.plural, AppAction: engine.PermAppDesign, Summary: d.publishSummary, Out: v, Status: 201,
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				out, err := d.publish(c.UserContext(), p, c.Params("app"), c.Params(d.param))
				if err != nil {
					return err
				}
				return c.Status(201).JSON(out)
			}},
	}
	if d.versions != nil {
		routes = append(routes, Route{Method: "GET", Path: one + "/versions", Tag: d.plural, AppAction: d.read, Summary: fmt.Sprintf("A %s's published versions", d.noun), Out: []V{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				out, err := d.versions(c.UserContext(), p, c.Params("app"), c.Params(d.param))
				if err != nil {
					return err
				}
				return c.JSON(nonNil(out))
			}})
	}
	return routes
}
