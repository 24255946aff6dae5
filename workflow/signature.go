package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"tracecraft/engine"
)

// Decisions a node's requireSignature may name. Transfer and add_signer hand a task on and
// decide nothing, so they never need a signature; neither does a withdrawal.
var signatureDecisions = map[string][]string{
	NodeApproval: {ActApprove, ActReject, ActReturn},
	NodeFill:     {ActSubmit, ActReturn},
}

// SignatureRule is a node's requireSignature: which decisions on its tasks need a handwritten
// signature. In a definition it is true (every decision the node's tasks allow: approve,
// reject and return on an approval node, submit and return on a fill node) or a list of
// decisions (["approve"]: a QA release is signed, a rejection need not be). The zero value
// (omitted, or false) asks for none.
type SignatureRule struct {
	All       bool
	Decisions []string
}

// IsZero tells whether the rule asks for no signature (omitzero leaves it out).
func (r SignatureRule) IsZero() bool { return !r.All && len(r.Decisions) == 0 }

// Needs tells whether deciding action on a task of node type nodeType needs a signature.
func (r SignatureRule) Needs(nodeType, action string) bool {
	allowed := signatureDecisions[nodeType]
	if !slices.Contains(allowed, action) {
		return false
	}
	return r.All || slices.Contains(r.Decisions, action)
}

// For lists the decisions of a node of type nodeType that need a signature, in the order the
// task page offers them; empty when none do.
func (r SignatureRule) For(nodeType string) []string {
	out := []string{}
	for _, a := range signatureDecisions[nodeType] {
		if r.Needs(nodeType, a) {
			out = append(out, a)
		}
	}
	return out
}

// MarshalJSON writes true for every decision, the list otherwise (false for none).
func (r SignatureRule) MarshalJSON() ([]byte, error) {
	if r.All {
		return []byte("true"), nil
	}
	if len(r.Decisions) == 0 {
		return []byte("false"), nil
	}
	return json.Marshal(r.Decisions)
}

// UnmarshalJSON reads true, false or a list of decisions (the meta-schema has checked which).
func (r *SignatureRule) UnmarshalJSON(b []byte) error {
	*r = SignatureRule{}
	switch t := string(bytes.TrimSpace(b)); t {
	case "true":
		r.All = true
		return nil
	case "false", "null":
		return nil
	}
	if err := json.Unmarshal(b, &r.Decisions); err != nil {
		return fmt.Errorf("requireSignature: want true or a list of decisions: %w", err)
	}
	return nil
}

// OpenAPISchema describes the rule in the API document as the meta-schema does.
func (SignatureRule) OpenAPISchema() map[string]any {
	return map[string]any{
		"description": "true: every decision of the node's tasks needs a handwritten signature; a list: only these decisions",
		"oneOf": []any{
			map[string]any{"type": "boolean"},
			map[string]any{"type": "array", "items": map[string]any{"enum": []any{ActApprove, ActReject, ActReturn, ActSubmit}}},
		},
	}
}

// checkSignatureRule checks the decisions a node's requireSignature lists against what its
// tasks allow (the meta-schema keeps it off other node types and to known decisions), and
// that neither the clock nor an empty assignee list takes a decision that must be signed: a
// timeout's auto-approve (auto-submit on a fill node), or onEmpty skip, would pass the node
// unsigned.
func (fc *flowCompiler) checkSignatureRule(n *Node, p string) {
	allowed := signatureDecisions[n.Type]
	for j, d := range n.RequireSignature.Decisions {
		if !slices.Contains(allowed, d) {
			fc.fe.Add(fmt.Sprintf("%s/requireSignature/%d", p, j), "flow.signature_decision",
				map[string]any{"node": n.ID, "value": d, "allowed": strings.Join(allowed, ", ")})
		}
	}
	// The decision that passes the node (approve, or submit on a fill node) must be signed:
	// nothing may take it unsigned.
	if fc.stored || !n.RequireSignature.Needs(n.Type, ActApprove) && !n.RequireSignature.Needs(n.Type, ActSubmit) {
		return
	}
	if n.Timers != nil && n.Timers.Action == "approve" {
		fc.fe.Add(p+"/timers/action", "flow.signature_auto_approve", map[string]any{"node": n.ID})
	}
	// onEmpty skip passes a node nobody is found for as if it were approved (submitted):
	// unsigned. An administrator (admin) or failing the instance (fail) must do instead.
	if n.OnEmpty == onEmptySkip {
		fc.fe.Add(p+"/onEmpty", "flow.signature_on_empty", map[string]any{"node": n.ID})
	}
}

// Signatures on a flow step are drawings of their signer: limits of the uploaded image.
const maxSignatureSize = 2 << 20 // a signature pad's PNG is a few dozen KiB

var signatureTypes = []string{"image/png", "image/jpeg", "image/webp"}

// checkSignature checks that file id, given as p's signature, is an image p uploaded to the
// app of inst: someone else's drawing, or a PDF, is no signature of p's. Errors are field
// errors on "signature".
func (s *Service) checkSignature(ctx context.Context, p *engine.Principal, app, id string) error {
	if id == "" || s.k.Records == nil {
		return nil
	}
	f, err := s.k.Records.FileMeta(ctx, app, id)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return signatureError("not_found", map[string]any{"value": id})
	case err != nil:
		return fmt.Errorf("signature %s: %w", id, err)
	case f.UploadedBy != p.Username:
		return signatureError("flowrun.signature_not_own", nil)
	case !slices.Contains(signatureTypes, strings.ToLower(f.Type)):
		return signatureError("flowrun.signature_not_image", map[string]any{"type": f.Type})
	case f.Size > maxSignatureSize:
		return signatureError("flowrun.signature_too_large", map[string]any{"max": "2 MiB"})
	}
	return nil
}

// signatureLabel names the signature in messages for people ("手写签名：此步骤必须签名").
var signatureLabel = engine.Text{ZH: "手写签名", EN: "Signature"}

// signatureError is a field error on "signature", labelled.
func signatureError(code string, params map[string]any) error {
	return engine.FieldErrors{{Path: "signature", Code: code, Params: params, Label: signatureLabel}}
}

// needSignature refuses a decision that node n asks to be signed when it comes without a
// signature: before anything changes, as a field error on "signature".
func needSignature(n *Node, in ActInput) error {
	if in.Signature == "" && n.RequireSignature.Needs(n.Type, in.Action) {
		return signatureError("flowrun.signature_required", map[string]any{"node": n.ID})
	}
	return nil
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"flow.signature_decision":     {ZH: "节点 {node} 的 requireSignature 不能包含 {value}：该节点的决定只有 {allowed}", EN: "requireSignature of node {node} cannot name {value}: its decisions are {allowed}"},
		"flow.signature_auto_approve": {ZH: "节点 {node} 需要手写签名，超时不能自动同意：请改为提醒、退回或转交上级", EN: "node {node} needs a handwritten signature, so a timeout cannot approve it: remind, return or escalate instead"},
		"flow.signature_on_empty":     {ZH: "节点 {node} 需要手写签名，找不到审批人时不能跳过：请改为转给管理员（admin）或使流程失败（fail）", EN: "node {node} needs a handwritten signature, so it cannot be skipped when nobody is found: hand it to an administrator (admin) or fail the flow (fail) instead"},
		"flowrun.signature_required":  {ZH: "此步骤必须本人手写签名，请先签名", EN: "is required for this step: sign first"},
		"flowrun.signature_not_own":   {ZH: "必须是您本人画的签名", EN: "must be a drawing you uploaded yourself"},
		"flowrun.signature_not_image": {ZH: "必须是图片（PNG 或 JPEG），而不是 {type}", EN: "must be an image (PNG or JPEG), not {type}"},
		"flowrun.signature_too_large": {ZH: "图片不能超过 {max}", EN: "must be at most {max}"},
		"flowrun.batch.signature_required": {ZH: "该待办需要手写签名：请勾选「使用同一签名批量审批」并签名，或打开待办逐条审批",
			EN: "this task needs a handwritten signature: tick “sign all with one signature” and sign, or open the task and approve it on its own"},
	})
}
