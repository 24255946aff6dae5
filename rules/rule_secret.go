package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// A webhook's secret is write-only: saving a rule moves it out of the definition into
// secretsCollection, keyed by the rule and the action's position (app/key#i) with the URL it
// was set for, and the definition keeps secretMask in its place — so drafts, versions, answers
// and the audit log never hold it; the audit log says only that it was set or changed.
// Saving the definition with secretMask keeps the secret, without a secret removes it. A new
// secret applies at once, to the published version too (a rotation needs no publish); a
// version's action uses it only while its URL is the one the secret was set for.
const (
	secretsCollection = "rule_secrets"
	secretMask        = "…"
)

type ruleSecret struct {
	ID        string    `bson:"_id"`
	Secret    string    `bson:"secret"`
	URL       string    `bson:"url"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// secretOp is what saving a draft does to the secret of its action i: set it (secret != "")
// or, when drop, delete it.
type secretOp struct {
	i           int
	secret, url string
	drop        bool
}

// takeSecrets replaces each webhook secret of def by secretMask and returns what to store.
func takeSecrets(def *Definition) ([]secretOp, error) {
	var ops []secretOp
	for i := range def.Actions {
		a := &def.Actions[i]
		if a.Type != "webhook" {
			ops = append(ops, secretOp{i: i, drop: true})
			continue
		}
		var p webhookParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return nil, fmt.Errorf("action %d: %w", i, err)
		}
		switch p.Secret {
		case secretMask:
			ops = append(ops, secretOp{i: i, url: p.URL})
			continue
		case "":
			ops = append(ops, secretOp{i: i, drop: true})
			continue
		}
		ops = append(ops, secretOp{i: i, secret: p.Secret, url: p.URL})
		p.Secret = secretMask
		raw, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("action %d: %w", i, err)
		}
		a.Params = raw
	}
	return ops, nil
}

// storeSecrets applies ops to the draft app/key's secrets; a secret set is audited without
// its value.
func (s *Service) storeSecrets(ctx context.Context, p *engine.Principal, app, key string, ops []secretOp) error {
	base := engine.DefinitionID(app, key)
	for _, op := range ops {
		id := base + "#" + strconv.Itoa(op.i)
		if op.drop {
			if err := s.st.Delete(ctx, secretsCollection, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("rule %s: secret: %w", base, err)
			}
			continue
		}
		var old ruleSecret
		err := s.st.Get(ctx, secretsCollection, id, &old)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("rule %s: secret: %w", base, err)
		}
		found := err == nil
		secret, changed := op.secret, op.secret != "" && op.secret != old.Secret
		if op.secret == "" { // the mask: keep the secret, for the URL the action has now
			if !found || old.URL == op.url {
				continue
			}
			secret = old.Secret
		}
		if found && !changed && old.URL == op.url {
			continue
		}
		if err := s.st.Set(ctx, secretsCollection, id, ruleSecret{ID: id, Secret: secret, URL: op.url, UpdatedAt: s.now().UTC()}); err != nil {
			return fmt.Errorf("rule %s: secret: %w", base, err)
		}
		if !changed {
			continue
		}
		what := "set"
		if found {
			what = "changed"
		}
		if _, err := s.k.Audit.Append(ctx, engine.AuditEntry{Actor: p.Username, IP: p.IP, Action: "rule.secret.set",
			Kind: DefinitionKind, Target: base, After: map[string]any{"action": op.i, "secret": what}}); err != nil {
			return fmt.Errorf("rule %s: secret: %w", base, err)
		}
	}
	return nil
}

// actionSecret is the secret of action i of rule app/key when it was set for url ("" when
// none).
func (s *Service) actionSecret(ctx context.Context, app, key string, i int, url string) (string, error) {
	var sec ruleSecret
	err := s.st.Get(ctx, secretsCollection, engine.DefinitionID(app, key)+"#"+strconv.Itoa(i), &sec)
	if errors.Is(err, store.ErrNotFound) || err == nil && sec.URL != url {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("rule %s secret: %w", key, err)
	}
	return sec.Secret, nil
}

// maskSecrets hides the webhook secrets of def (a definition saved before secrets were kept
// apart still holds its own).
func maskSecrets(def *Definition) {
	for i := range def.Actions {
		a := &def.Actions[i]
		if a.Type != "webhook" {
			continue
		}
		var p map[string]any
		if json.Unmarshal(a.Params, &p) != nil {
			continue
		}
		if sec, _ := p["secret"].(string); sec == "" || sec == secretMask {
			continue
		}
		p["secret"] = secretMask
		if raw, err := json.Marshal(p); err == nil {
			a.Params = raw
		}
	}
}
