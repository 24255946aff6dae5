package gs1

import (
	"fmt"
	"strings"
)

// CheckPairs checks data as a whole against the GS1 pairing rules of the Syntax Dictionary:
// invalid pairs (the "ex" attribute: 01 with 02 or 37, 21 with 235, two net weights 3102 and
// 3103 …) and mandatory partners (the "req" attribute: 02 needs 37, 21 needs 01 or 8006, 10 needs
// a GTIN, 3922 needs 01 with a measure …). Every value is checked against its AI too.
//
// The parsers and builders refuse invalid pairs on their own, as GS1 does everywhere. Mandatory
// partners are checked only here, because GS1 evaluates them "over the combined data received
// from all GS1 carriers marking a physical item": a GS1-128 may hold (37) while the (02) it
// needs is in the symbol next to it. Call CheckPairs on what a label carries in all, or on a
// Digital Link (dl.Elements()), which is whole in itself. Errors are *Error with Position -1
// naming the AI that breaks the rule.
func CheckPairs(e Elements) error {
	for _, el := range e {
		d := table[el.AI]
		if d == nil {
			return &Error{AI: el.AI, Position: -1, Message: "unknown AI"}
		}
		if pr := d.check(el.Value); pr != nil {
			return &Error{AI: el.AI, Position: -1, Message: pr.msg}
		}
	}
	if j, msg := invalidPair(e); j >= 0 {
		return &Error{AI: e[j].AI, Position: -1, Message: msg}
	}
	for _, el := range e {
		d := table[el.AI]
		if d.Requires == nil || satisfied(e, el.AI, d.Requires) {
			continue
		}
		return &Error{AI: el.AI, Position: -1, Message: "needs " + describeGroups(d.Requires) + " with it"}
	}
	return nil
}

// invalidPair finds the first element that may not appear with one before it. It returns its
// index and why, or -1.
func invalidPair(e Elements) (int, string) {
	for j := 1; j < len(e); j++ {
		dj := table[e[j].AI]
		for i := 0; i < j; i++ {
			if e[i].AI == e[j].AI {
				continue
			}
			di := table[e[i].AI]
			if di != nil && matchesAny(di.Excludes, e[j].AI) || dj != nil && matchesAny(dj.Excludes, e[i].AI) {
				return j, fmt.Sprintf("cannot be combined with (%s)", e[i].AI)
			}
		}
	}
	return -1, ""
}

// satisfied reports whether e holds, besides self, all AIs of one of the groups.
func satisfied(e Elements, self string, groups []string) bool {
	for _, g := range groups {
		all := true
		for _, pattern := range strings.Split(g, "+") {
			found := false
			for _, el := range e {
				if el.AI != self && matchAIPattern(pattern, el.AI) {
					found = true
					break
				}
			}
			if !found {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func matchesAny(patterns []string, ai string) bool {
	for _, p := range patterns {
		if matchAIPattern(p, ai) {
			return true
		}
	}
	return false
}

// matchAIPattern reports whether ai matches a Syntax Dictionary pattern, in which "n" stands
// for any digit ("310n", "31nn").
func matchAIPattern(pattern, ai string) bool {
	if len(pattern) != len(ai) {
		return false
	}
	for i := 0; i < len(ai); i++ {
		if pattern[i] != 'n' && pattern[i] != ai[i] {
			return false
		}
	}
	return true
}

// describeGroups writes req groups for a message: "(37)", "one of (01), (02), (8006)",
// "one of (01)+(21), (8006)+(21)".
func describeGroups(groups []string) string {
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = "(" + strings.ReplaceAll(g, "+", ")+(") + ")"
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "one of " + strings.Join(parts, ", ")
}
