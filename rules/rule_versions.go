package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// maxVersionsListed bounds a versions answer (the newest ones).
const maxVersionsListed = 100

// Versions lists the published versions of rule app/key, newest first (at most
// maxVersionsListed), webhook secrets masked, for the app's designers: the rule editor's 版本
// and the rules list's running version and unpublished-changes mark. A rule never published
// has none; an unknown rule is not found.
func (s *Service) Versions(ctx context.Context, p *engine.Principal, app, key string) ([]RuleVersion, error) {
	if err := s.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	var r Rule
	if err := s.defs.ReadDraft(ctx, app, key, &r); errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("rule %s: %w", key, engine.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("versions of rule %s: %w", key, err)
	}
	n, err := s.defs.Latest(ctx, app, key)
	if err != nil {
		return nil, fmt.Errorf("versions of rule %s: %w", key, err)
	}
	out := []RuleVersion{}
	for i := n; i >= 1 && len(out) < maxVersionsListed; i-- {
		var v RuleVersion
		if err := s.defs.ReadVersion(ctx, app, key, i, &v); err != nil {
			return nil, fmt.Errorf("version %d of rule %s: %w", i, key, err)
		}
		if err := json.Unmarshal([]byte(v.DefJSON), &v.Definition); err != nil {
			return nil, fmt.Errorf("version %d of rule %s: %w", i, key, err)
		}
		maskSecrets(&v.Definition)
		out = append(out, v)
	}
	return out, nil
}
