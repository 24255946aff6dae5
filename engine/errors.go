// Package engine is Tracecraft's kernel: the definition registry, the event bus, the scheduler,
// expressions, auth and permissions, and the audit log. Engines (forms, workflow, rules, …) build
// on it; it imports no engine and no HTTP.
package engine

import (
	"errors"
	"fmt"
	"strings"

	"tracecraft/engine/store"
)

// Sentinel errors shared by every engine; the API maps each to one HTTP status.
var (
	// ErrNotFound: the thing asked for does not exist (404).
	ErrNotFound = store.ErrNotFound
	// ErrConflict: a stale revision, a duplicate key or an illegal state transition (409).
	ErrConflict = errors.New("conflict")
	// ErrUnauthenticated: no valid session or token (401).
	ErrUnauthenticated = errors.New("not signed in")
	// ErrForbidden: signed in, but not allowed (403).
	ErrForbidden = errors.New("forbidden")
	// ErrThrottled: too many attempts; try again later (429).
	ErrThrottled = errors.New("too many attempts")
	// ErrInvalid: input is wrong in a way not tied to one field (400).
	ErrInvalid = errors.New("invalid input")
)

// IsConflict reports whether err is a conflict of any kind: ErrConflict or the store's
// revision conflict and duplicate key.
func IsConflict(err error) bool {
	return errors.Is(err, ErrConflict) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrDuplicate)
}

// CodedError is a sentinel error (ErrConflict, ErrNotFound, ErrForbidden, …) with a code of
// its own and a message that tells the user what to do, where the sentinel's generic message
// would not ("the form has not been published yet: publish it first"). The sentinel decides the
// HTTP status; the code and the message "error.<code>" of the i18n catalogue are the answer.
type CodedError struct {
	Code   string         // stable, for clients: "form_not_published"
	Params map[string]any // fill the message's placeholders
	Err    error          // the sentinel
}

// Coded makes a CodedError on sentinel.
func Coded(sentinel error, code string, params map[string]any) *CodedError {
	return &CodedError{Code: code, Params: params, Err: sentinel}
}

// Message renders the error's message in lang.
func (e *CodedError) Message(lang string) string { return Message(lang, "error."+e.Code, e.Params) }

func (e *CodedError) Error() string { return e.Message(LangEN) + " (" + e.Err.Error() + ")" }

// Unwrap makes errors.Is(err, sentinel) hold.
func (e *CodedError) Unwrap() error { return e.Err }

// FieldError says what is wrong with one field of an input. Code names a message of the i18n
// catalogue (see Message), Params fill its placeholders; Path is the field's location, dotted
// ("lines.2.qty") or a JSON pointer for definitions.
type FieldError struct {
	Path   string         `json:"field"`
	Code   string         `json:"code"`
	Params map[string]any `json:"params,omitempty"`
	// Label names the field as the people who fill the form know it ("质检签名"; a sub-table's
	// cell "明细 第 3 行 · 数量"); zero where the engine that made the error has no label for
	// Path. Messages for people (Sentence) name the field by it; Path stays for programs.
	Label Text `json:"label,omitzero" bson:"label,omitempty"`
	// Fault is an error met while checking the field that is not the input's fault (the store
	// failed, a programmer error): a list holding one is a server error, never a 400, and its
	// text is for the log only.
	Fault error `json:"-" bson:"-"`
}

// Sentence renders the error in lang as one sentence that names the field by its label:
// "质检签名：必填", "QA signature is required". Without a label it is the message alone, as
// before (the caller places it under the field or names Path itself).
func (e FieldError) Sentence(lang string) string {
	msg := Message(lang, e.Code, e.Params)
	label := e.Label.In(lang)
	if label == "" {
		return msg
	}
	if lang != LangEN {
		return label + "：" + msg
	}
	// English messages are mostly predicates ("is required", "must be at most 20
	// characters"): they follow the label; the others ("value not allowed: x") after a colon.
	first, _, _ := strings.Cut(msg, " ")
	switch first {
	case "is", "has", "must", "needs", "does", "cannot", "can", "should", "may", "was", "are":
		return label + " " + msg
	}
	return label + ": " + msg
}

// LabelFields gives the field errors err carries the labels label finds for their paths,
// where they have none yet, and returns err. The list is changed in place: call it on errors
// just made (a save's), never on a shared value.
func LabelFields(err error, label func(path string) (Text, bool)) error {
	var fe FieldErrors
	if !errors.As(err, &fe) {
		return err
	}
	for i := range fe {
		if fe[i].Fault != nil || fe[i].Label != (Text{}) {
			continue
		}
		if t, ok := label(fe[i].Path); ok {
			fe[i].Label = t
		}
	}
	return err
}

// FieldErrors is a list of field errors; as an error it means "bad input" (400) unless it
// holds a Fault.
type FieldErrors []FieldError

// Error lists the fields and their English messages (faults with their error).
func (fe FieldErrors) Error() string {
	parts := make([]string, len(fe))
	for i, e := range fe {
		if e.Fault != nil {
			parts[i] = e.Path + ": " + e.Fault.Error()
			continue
		}
		parts[i] = e.Path + ": " + Message("en", e.Code, e.Params)
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

func init() {
	RegisterMessages(map[string]Text{
		"internal": {ZH: "服务器内部错误", EN: "internal server error"},
	})
}

// FieldFault records err, met while checking the field at path, as not the input's fault:
// code that gathers field errors can keep gathering, and the list is then a server error.
func FieldFault(path string, err error) FieldErrors {
	return FieldErrors{{Path: path, Code: "internal", Fault: err}}
}

// Fault returns the first fault fe holds, or nil when every error is the input's.
func (fe FieldErrors) Fault() error {
	for _, e := range fe {
		if e.Fault != nil {
			return e.Fault
		}
	}
	return nil
}

// Unwrap returns the faults, so that errors.Is(err, context.Canceled) sees through the list.
func (fe FieldErrors) Unwrap() []error {
	var errs []error
	for _, e := range fe {
		if e.Fault != nil {
			errs = append(errs, e.Fault)
		}
	}
	return errs
}

// Add appends a field error.
func (fe *FieldErrors) Add(path, code string, params map[string]any) {
	*fe = append(*fe, FieldError{Path: path, Code: code, Params: params})
}

// Err returns fe as an error, or nil when it is empty.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	return fe
}

// Invalid returns a FieldErrors with one error.
func Invalid(path, code string, params map[string]any) error {
	return FieldErrors{{Path: path, Code: code, Params: params}}
}

// AsFieldErrors extracts the field errors from err, if it carries any and they are all the
// input's fault (a list holding a Fault is not bad input).
func AsFieldErrors(err error) (FieldErrors, bool) {
	var fe FieldErrors
	if errors.As(err, &fe) && fe.Fault() == nil {
		return fe, true
	}
	return nil, false
}

// ThrottledError is ErrThrottled with the seconds after which a retry may succeed.
type ThrottledError struct{ RetryAfter int }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many attempts: try again in %d s", e.RetryAfter)
}

// Unwrap makes errors.Is(err, ErrThrottled) hold.
func (e *ThrottledError) Unwrap() error { return ErrThrottled }

// ErrBusy: the server is at a limit it keeps for everyone (concurrent password checks) and
// refused the request without doing it; try again shortly (503).
var ErrBusy = errors.New("server busy")

// BusyError is ErrBusy with the seconds after which a retry may succeed.
type BusyError struct{ RetryAfter int }

func (e *BusyError) Error() string {
	return fmt.Sprintf("server busy: try again in %d s", e.RetryAfter)
}

// Unwrap makes errors.Is(err, ErrBusy) hold.
func (e *BusyError) Unwrap() error { return ErrBusy }
