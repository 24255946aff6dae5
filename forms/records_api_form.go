package forms

import (
	"context"
	"fmt"

	"tracecraft/engine"
)

// FormAllows implements engine.Records.FormAllows: the form's latest published version grants
// action to one of p's roles (what the record list checks before any row scope).
func (a recordsAPI) FormAllows(ctx context.Context, p *engine.Principal, app, form, action string) error {
	if p == nil {
		return engine.ErrUnauthenticated
	}
	c, err := a.s.Compiled(ctx, app, form, 0)
	if err != nil {
		return fmt.Errorf("form %s: %w", form, err)
	}
	return a.s.accessFor(ctx, p, c).require(action)
}
