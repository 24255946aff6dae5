package gs1

import "testing"

// Spaces are not in GS1 character set 82, so no valid value carries one; the encoder still
// handles them the way the GS1 syntax engine does, for values that reach it some other way.
func TestEscape(t *testing.T) {
	tests := []struct{ in, path, query string }{
		{"ABCxyz019-._~", "ABCxyz019-._~", "ABCxyz019-._~"},
		{"A B", "A%20B", "A+B"},
		{"A/B", "A%2FB", "A%2FB"},
		{"A+B", "A%2BB", "A%2BB"},
		{`!"#%&'()*+,/:;<=>?`, "%21%22%23%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3C%3D%3E%3F", "%21%22%23%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3C%3D%3E%3F"},
		{"批", "%E6%89%B9", "%E6%89%B9"},
	}
	for _, tt := range tests {
		if got := escape(tt.in, false); got != tt.path {
			t.Errorf("escape(%q) in a path = %s, want %s", tt.in, got, tt.path)
		}
		if got := escape(tt.in, true); got != tt.query {
			t.Errorf("escape(%q) in a query = %s, want %s", tt.in, got, tt.query)
		}
		for _, inQuery := range []bool{false, true} {
			if back, _, pr := unescape(escape(tt.in, inQuery), inQuery); pr != nil || back != tt.in {
				t.Errorf("unescape(escape(%q)) = %q, %v", tt.in, back, pr)
			}
		}
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ in, path, query string }{
		{"", "", ""},
		{"+", "+", " "},
		{"%20", " ", " "},
		{"A%2fB", "A/B", "A/B"},
		{"A%2FB%2b", "A/B+", "A/B+"},
		{"A%4FB", "AOB", "AOB"},
	}
	for _, tt := range tests {
		if got, _, pr := unescape(tt.in, false); pr != nil || got != tt.path {
			t.Errorf("unescape(%q) in a path = %q, %v; want %q", tt.in, got, pr, tt.path)
		}
		if got, _, pr := unescape(tt.in, true); pr != nil || got != tt.query {
			t.Errorf("unescape(%q) in a query = %q, %v; want %q", tt.in, got, pr, tt.query)
		}
	}
	for _, bad := range []string{"%", "A%2", "A%4g", "%G4", "A%00B"} {
		if _, _, pr := unescape(bad, false); pr == nil {
			t.Errorf("unescape(%q) accepted", bad)
		}
	}
}
