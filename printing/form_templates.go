package printing

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
)

// FormTemplate is a published print template as the readers of its form see it: enough to
// choose one and print with it (POST …/print-templates/{key}/print). It is read from the
// latest published version, never from the draft.
type FormTemplate struct {
	Key  string      `json:"key"`
	Name engine.Text `json:"name"`
	// Kind is KindLabel or KindSheet; Repeat what one label is made for (RepeatRecord,
	// RepeatRow, RepeatCode).
	Kind   string `json:"kind"`
	Repeat string `json:"repeat"`
	// Version is the published version a print uses now.
	Version int `json:"version"`
	// Page is one label's (or page's) size in millimetres.
	Page PageSize `json:"page"`
}

// PageSize is a label's width and height in millimetres.
type PageSize struct {
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// FormTemplates lists the published print templates of form, by key, for anyone who may read
// the form's records (app.read and the form's read permission; app designers too): the
// operator's 打印 in a record's drawer. Templates never published are left out; what is
// shown is the latest published version's, never a draft's.
func (e *Engine) FormTemplates(ctx context.Context, p *engine.Principal, app, form string) ([]FormTemplate, error) {
	if err := e.k.Auth.Require(ctx, p, app, engine.PermAppRead); err != nil {
		return nil, err
	}
	if err := e.k.Records.FormAllows(ctx, p, app, form, engine.ActionRead); err != nil {
		return nil, err
	}
	// A template's form is fixed once it is saved: the drafts name the candidates, the
	// published version is what is listed.
	var keys []string
	err := e.defs.ListDrafts(ctx, app, func(raw bson.Raw) error {
		if f, _ := raw.Lookup("form").StringValueOK(); f == form {
			if k, ok := raw.Lookup("key").StringValueOK(); ok {
				keys = append(keys, k)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("print templates of %s: %w", form, err)
	}
	out := []FormTemplate{}
	for _, key := range keys {
		c, err := e.published(ctx, app, key)
		var ce *engine.CodedError
		if errors.As(err, &ce) && ce.Code == "print_unpublished" {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("print templates of %s: %w", form, err)
		}
		if c.Def.Form != form {
			continue
		}
		repeat := c.Def.Repeat
		if repeat == "" {
			repeat = RepeatRecord
		}
		out = append(out, FormTemplate{Key: key, Name: c.Def.Name, Kind: c.Def.Kind, Repeat: repeat, Version: c.Version,
			Page: PageSize{Width: c.Def.Page.Width, Height: c.Def.Page.Height}})
	}
	return out, nil
}
