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

// FieldError says what is wrong with one field of an input. Code names a message of the i18n
// catalogue (see Message), Params fill its placeholders; Path is the field's location, dotted
// ("lines.2.qty") or a JSON pointer for definitions.
type FieldError struct {
	Path   string         `json:"field"`
	Code   string         `json:"code"`
	Params map[string]any `json:"params,omitempty"`
}

// FieldErrors is a list of field errors; as an error it means "bad input" (400).
type FieldErrors []FieldError

// Error lists the fields and their English messages.
func (fe FieldErrors) Error() string {
	parts := make([]string, len(fe))
	for i, e := range fe {
		parts[i] = e.Path + ": " + Message("en", e.Code, e.Params)
	}
	return "invalid input: " + strings.Join(parts, "; ")
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

// AsFieldErrors extracts the field errors from err, if it carries any.
func AsFieldErrors(err error) (FieldErrors, bool) {
	var fe FieldErrors
	if errors.As(err, &fe) {
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
