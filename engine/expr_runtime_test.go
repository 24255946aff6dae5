package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestHardening07Review_1_ExprRuntimeErrorsQuoteNoValue (review of issue 7, finding 1): a
// run-time error of an expression names the operation, the kinds and the position, never an
// operand's value — the message goes to flow timelines and 400 answers whose readers a field
// rule may hide the value from. Compile errors keep quoting the source; ExprDetail keeps
// expr's own message for the log.
func TestHardening07Review_1_ExprRuntimeErrorsQuoteNoValue(t *testing.T) {
	const secret = "TOPSECRET-42"
	x := NewExprs(WithClock(exprTestClock))
	env := ExprEnv{
		"code": {Kind: ExprString},
		"note": {Kind: ExprAny},
		"n":    {Kind: ExprNumber},
		"big":  {Kind: ExprInt},
		"due":  {Kind: ExprTime},
		"wait": {Kind: ExprDuration},
		"tags": ExprListOf(ExprType{Kind: ExprString}),
	}
	vars := map[string]any{"code": secret, "note": []any{"a"}, "n": 2.5, "big": 987654321.0, "tags": []any{"a"}}
	tests := []struct {
		source string
		vars   map[string]any
		want   string // the error's text, position and snippet included
	}{
		{"date(code) < now()", nil, "line 1, column 1: date: the text is not a date in a layout date() reads\n | date(code) < now()\n | ^"},
		{`date(code, "2006-01-02") < now()`, nil, "date: the text is not a date in a layout date() reads"},
		{"int(code) > 1", nil, "int: the value is not a whole number"},
		{"float(code) > 1", nil, "float: the value is not a number"},
		{`duration(code) > duration("1h")`, nil, "duration: the text is not a duration such as 90m"},
		{"note[code] == 1", nil, "int: the value is not a whole number"},
		{"note[code] == 1", map[string]any{"note": true, "code": secret}, "cannot read a field or element of a bool"},
		{"tags[big] == code", nil, "index out of range"},
		{"len(1..big) > 0", nil, "range is too long (more than 1000000 elements)"},
		{"code matches (code + \"(\")", nil, "matches: the pattern is not a valid regular expression"},
		{"format(now(), code + \"'\") == \"\"", nil, "format: the layout is not valid (letters yyyy MM dd HH mm ss…, text in single quotes)"},
		{"addDays(now(), n) > now()", nil, "addDays: days must be a whole number, got a fraction"},
		{"note + 1 == 2", map[string]any{"note": secret}, "operator + cannot combine string and int"},
		{"due < now()", map[string]any{"due": secret}, "eval expression: variable due: must be time, got a string that is not an RFC 3339 time"},
		{`wait > duration("1h")`, map[string]any{"wait": secret}, "eval expression: variable wait: must be duration, got a string that is not a duration such as 90m"},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			p, err := x.Compile(tt.source, env, ExprBool)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			v := vars
			if tt.vars != nil {
				v = tt.vars
			}
			_, err = p.EvalBool(context.Background(), v)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "987654321") || strings.Contains(err.Error(), "2.5") {
				t.Errorf("the error quotes a value: %q", err)
			}
			var ee *ExprError
			if strings.HasPrefix(tt.want, "eval expression:") {
				if err.Error() != tt.want {
					t.Errorf("error %q, want %q", err, tt.want)
				}
				return
			}
			if !errors.As(err, &ee) || ee.Line != 1 || ee.Column == 0 || ee.Snippet == "" {
				t.Fatalf("error %#v has no position", err)
			}
			if strings.Contains(tt.want, "\n") && err.Error() != tt.want || !strings.Contains(tt.want, "\n") && ee.Message != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}

	// expr's own message stays for the log.
	p, err := x.Compile("date(code) < now()", env, ExprBool)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.EvalBool(context.Background(), vars)
	if d := ExprDetail(err); !strings.Contains(d, "invalid date "+secret) {
		t.Errorf("ExprDetail = %q, want expr's message", d)
	}
	// Compile errors still show the source they point into.
	_, err = x.Compile(`date(code, "2006", "Mars/Olympus")`, env, ExprAny)
	if err == nil || !strings.Contains(err.Error(), `unknown time zone "Mars/Olympus"`) {
		t.Errorf("compile error %v, want the zone quoted", err)
	}
}
