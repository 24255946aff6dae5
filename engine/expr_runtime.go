package engine

import (
	"context"
	"errors"
	"strings"

	"github.com/expr-lang/expr/file"
)

// Run-time errors of expressions go where the values they failed on must not: a workflow
// timeline whose reader may not see the field, a 400 answer to a user a field rule hides it
// from. expr's VM and builtins quote operands in their messages ("invalid date TOPSECRET-42",
// "int(X)", "cannot fetch X from map"), so an evaluation's failure is described anew: by the
// operation that failed, the kinds of its operands and the position in the source (the
// designer's text, which compile errors quote too) — never by a value. The message expr gave
// is kept for the server's log only (ExprDetail).

// exprFailure is a run-time failure of one of our functions whose message names kinds, never
// values; it passes through as it is.
type exprFailure string

func (e exprFailure) Error() string { return string(e) }

// exprRuntimeError describes a failed evaluation at the position expr reports, with a message
// that quotes no operand.
func exprRuntimeError(fe *file.Error) *ExprError {
	e := &ExprError{Message: exprRuntimeMessage(fe), detail: exprTruncate(fe.Message, exprMaxMessageLen)}
	if fe.Line > 0 {
		e.Line = fe.Line
		e.Column = fe.Column + 1 // expr counts columns from zero
		e.Snippet = strings.TrimPrefix(fe.Snippet, "\n")
	}
	var be exprBudgetError
	switch {
	case fe.Message == "memory budget exceeded" || errors.As(fe, &be):
		e.Err = ErrExprBudget
	case errors.Is(fe, context.Canceled):
		e.Err = context.Canceled
	case errors.Is(fe, context.DeadlineExceeded):
		e.Err = context.DeadlineExceeded
	}
	return e
}

// exprRuntimeMessage says what failed without any operand's value: our own failures and the
// budget's keep their messages (they are written that way); expr's are recognised by their
// form and said again with kinds only; anything else is a plain "evaluation failed".
func exprRuntimeMessage(fe *file.Error) string {
	var own exprFailure
	var be exprBudgetError
	switch {
	case errors.As(fe, &own):
		return string(own)
	case errors.As(fe, &be):
		return string(be)
	case fe.Message == "memory budget exceeded":
		return "memory budget exceeded"
	case errors.Is(fe, context.Canceled):
		return "evaluation cancelled"
	case errors.Is(fe, context.DeadlineExceeded):
		return "evaluation deadline exceeded"
	}
	msg := fe.Message
	cut := func(prefix string) (string, bool) { return strings.CutPrefix(msg, prefix) }
	if rest, ok := cut("invalid operation: "); ok {
		return exprOperationMessage(rest)
	}
	if rest, ok := cut("invalid argument for "); ok {
		name, typ, _ := strings.Cut(rest, " (type ")
		return exprFuncName(name) + ": cannot take " + exprArticle(exprGoKind(strings.TrimSuffix(typ, ")")))
	}
	if rest, ok := cut(`operator "in" not defined on `); ok {
		return "in: cannot look inside " + exprArticle(exprGoKind(rest))
	}
	switch {
	case strings.HasPrefix(msg, "invalid date ") || strings.HasPrefix(msg, "parsing time "):
		return "date: the text is not a date in a layout date() reads"
	case strings.HasPrefix(msg, "time: "):
		return "duration: the text is not a duration such as 90m"
	case strings.HasPrefix(msg, "cannot fetch ") || strings.HasPrefix(msg, "cannot get "):
		from := ""
		if i := strings.LastIndex(msg, " from "); i >= 0 {
			from = msg[i+len(" from "):]
		}
		return "cannot read a field or element of " + exprArticle(exprGoKind(from))
	case strings.HasPrefix(msg, "cannot use ") && strings.Contains(msg, " as field name of "):
		return "in: the left operand cannot be a field name"
	case strings.Contains(msg, "index out of range"):
		return "index out of range"
	case strings.HasPrefix(msg, "cannot slice "):
		return "cannot slice this value"
	case strings.Contains(msg, "divide by zero"):
		return "division by zero"
	}
	return "evaluation failed"
}

// exprOperationMessage says again one of the VM's "invalid operation: …" messages: an operator
// with its operands' types (a %T each, so kinds can be named), or a conversion, whose operand
// may be the value itself and is not named.
func exprOperationMessage(rest string) string {
	for _, conv := range []struct{ prefix, says string }{
		{"int(", "int: the value is not a whole number"},
		{"int64(", "int: the value is not a whole number"},
		{"float(", "float: the value is not a number"},
		{"bool(", "the value is not a bool"},
	} {
		if strings.HasPrefix(rest, conv.prefix) {
			return conv.says
		}
	}
	if strings.HasPrefix(rest, "cannot call") {
		return "the value is not a function"
	}
	// Go type names have no operator between spaces; "map[string]interface {}" has spaces.
	for _, op := range []string{"<=", ">=", "<", ">", "+", "-", "*", "/", "%"} {
		if left, right, ok := strings.Cut(rest, " "+op+" "); ok {
			return "operator " + op + " cannot combine " + exprGoKind(left) + " and " + exprGoKind(right)
		}
	}
	if typ, ok := strings.CutPrefix(rest, "- "); ok {
		return "operator - cannot take " + exprArticle(exprGoKind(typ))
	}
	return "invalid operation"
}

// exprGoKind names a Go type, as %T writes it, in the analysts' words; only these words come
// out, so even a value in its place would not.
func exprGoKind(typ string) string {
	switch typ = strings.TrimSpace(typ); typ {
	case "string":
		return "string"
	case "bool":
		return "bool"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "int"
	case "float32", "float64":
		return "number"
	case "time.Time":
		return "time"
	case "time.Duration":
		return "duration"
	case "<nil>", "nil":
		return "nil"
	}
	switch {
	case strings.HasPrefix(typ, "[]"):
		return "list"
	case strings.HasPrefix(typ, "map["):
		return "object"
	}
	return "value"
}

// exprFuncName keeps a function's name when it is one analysts can call.
func exprFuncName(name string) string {
	if exprAllowedBuiltins[name] || exprFunctionNames[name] {
		return name
	}
	return "function"
}

func exprArticle(kind string) string {
	switch kind {
	case "nil", "value":
		return "this " + kind
	case "int", "object":
		return "an " + kind
	}
	return "a " + kind
}

// ExprDetail is err's text with the message expr gave for a failed evaluation in place of the
// one ExprError shows: it may quote the operands' values, so it is for the server's log
// only, never for an answer, a timeline or an audit entry.
func ExprDetail(err error) string {
	if err == nil {
		return ""
	}
	var ee *ExprError
	if !errors.As(err, &ee) || ee.detail == "" || ee.detail == ee.Message {
		return err.Error()
	}
	return err.Error() + " (expr: " + ee.detail + ")"
}
