package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
)

// emailParams: {"to": ["wang"], "roles": ["warehouse"], "subject": "expression", "body":
// "expression"} mails each user named and each member of the roles named, at the e-mail
// address of their account (users without one are left out), through the SMTP server of
// Options.SMTP (kernel action email.send). Recipients are chosen like notify's — enabled
// users who may read the record now — and subject and body are rendered for each with only
// the fields they may see (hiddenPlaceholder for the others), so a hidden field never goes
// out in a mail. One message per recipient.
type emailParams struct {
	To      []string `json:"to,omitempty"`
	Roles   []string `json:"roles,omitempty"`
	Subject string   `json:"subject"`
	Body    string   `json:"body,omitempty"`
}

// EmailAction is the kernel action that sends rule e-mail.
const EmailAction = "email.send"

// emailClaimFor is how long a sent message's claim is kept (a retry of the same run within it
// does not send it again).
const emailClaimFor = 7 * 24 * time.Hour

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"rule_email_unconfigured": {ZH: "未配置邮件服务器（serve --smtp-addr），不能发送邮件", EN: "no mail server is configured (serve --smtp-addr): e-mail cannot be sent"},
		"rule_action_wrapped":     {ZH: "动作 {value} 有自己的规则动作类型，请直接使用该类型", EN: "action {value} has a rule action type of its own: use that type"},
	})
	registerActionKind("email", actionKind{kernel: EmailAction,
		compile: func(cc *compileCtx, raw json.RawMessage) (prepared, error) {
			var p emailParams
			if err := engine.DecodeStrict(raw, &p); err != nil {
				return nil, err
			}
			// The same recipients and rendering as notify: subject is notify's title.
			if err := checkMessage(p.To, p.Roles, "subject", p.Subject); err != nil {
				return nil, err
			}
			if err := cc.checkKernel(EmailAction, map[string]any{}); err != nil {
				return nil, err
			}
			return compileMessage(cc, p.To, p.Roles, "subject", p.Subject, p.Body), nil
		}})
}

// registerEmail puts email.send on the kernel: params to and roles (names), subject and body
// (text, or a rule's per-recipient renderer). A message is claimed per run key and user
// before it is sent and its claim done once the server accepted it (a run again, on any node,
// does not send it again); a failed send gives its claim back and fails the action, so the
// bus tries again. At most maxRecipients recipients a run, over one connection.
func (s *Service) registerEmail() {
	s.k.Actions.Register(EmailAction, engine.Action{
		ID: EmailAction, Label: engine.Text{ZH: "发送邮件", EN: "Send an e-mail"},
		Check: func(ctx context.Context, app string, params map[string]any) error {
			if s.opts.SMTP.Addr == "" || s.opts.SMTP.From == "" {
				return engine.Invalid("", "rule_email_unconfigured", nil)
			}
			return nil
		},
		Run: s.runEmail,
	})
}

func (s *Service) runEmail(ctx context.Context, ac engine.ActionContext) (map[string]any, error) {
	if s.opts.SMTP.Addr == "" {
		return nil, errors.New("email: no SMTP server is configured")
	}
	all, err := s.recipients(ctx, stringList(ac.Params["to"]), stringList(ac.Params["roles"]))
	if err != nil {
		return nil, err
	}
	users, capped := capRecipients(all)
	subject, _ := ac.Params["subject"].(string)
	body, _ := ac.Params["body"].(string)
	render, _ := ac.Params[renderParam].(notifyRender)
	key := ac.Key
	if key == "" {
		key = newRunID(s.now())
	}
	// One connection for the run's messages, opened for the first one that is sent.
	var conn *mailer
	defer func() {
		if conn == nil {
			return
		}
		if err := conn.close(); err != nil {
			s.k.Log.Warn("rule e-mail: the server's answer to QUIT", "err", err)
		}
	}()
	var sent, skipped []string
	var errs []error
	for _, u := range users {
		addr, err := mail.ParseAddress(u.Email)
		if u.Email == "" || err != nil {
			skipped = append(skipped, u.Username)
			continue
		}
		m := mailMessage{To: addr.Address, ID: messageID(key, u.Username)}
		var ok bool
		if m.Subject, m.Body, ok, err = s.messageFor(ctx, ac, u, subject, body, render); err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		// The claim is pending while the message is sent and done once the server accepted
		// it; a node that stops in between leaves it pending, and a run again after
		// claimLease sends the message again (at least once: the Message-ID is the same).
		claim := "email:" + key + ":" + u.Username
		held, err := s.take(ctx, claim, bson.D{{Key: "user", Value: u.Username}, {Key: "until", Value: s.now().UTC().Add(emailClaimFor)}})
		if err != nil {
			return nil, fmt.Errorf("email: %w", err)
		}
		switch held {
		case claimFinished:
			sent = append(sent, u.Username) // sent by this run before
			continue
		case claimBusy:
			errs = append(errs, fmt.Errorf("to %s: another run is sending it", u.Username))
			continue
		}
		if conn == nil {
			if conn, err = s.opts.SMTP.dial(ctx); err != nil {
				s.release(ctx, claim)
				s.k.Log.Warn("rule e-mail not sent", "user", u.Username, "err", err)
				return nil, errors.Join(append(errs, fmt.Errorf("to %s: %w", u.Username, err))...)
			}
		}
		if err := conn.send(m, s.now()); err != nil {
			s.k.Log.Warn("rule e-mail not sent", "user", u.Username, "err", err)
			s.release(ctx, claim)
			errs = append(errs, fmt.Errorf("to %s: %w", u.Username, err))
			if conn.broken {
				conn.abandon()
				conn = nil
			}
			continue
		}
		sent = append(sent, u.Username)
		if err := s.settle(ctx, claim); err != nil {
			// Sent: a run again after claimLease sends it again, with the same Message-ID.
			s.k.Log.Error("rule e-mail claim not settled", "claim", claim, "err", err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.Sort(sent)
	out := map[string]any{"users": anyList(sent)}
	if len(skipped) > 0 {
		out["noAddress"] = anyList(skipped)
	}
	capNote(out, len(all), capped)
	return out, nil
}

// principalOf is user u as a principal (a recipient's reading rights).
func principalOf(u engine.User) *engine.Principal {
	return &engine.Principal{Username: u.Username, DisplayName: u.DisplayName, Roles: slices.Clone(u.Roles), Department: u.Department}
}
