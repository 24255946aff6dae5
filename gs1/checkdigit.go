package gs1

import (
	"fmt"
	"strings"
)

// CheckDigit computes the GS1 mod-10 check digit of digits, the data digits of a GTIN-8/12/13/14,
// GLN, SSCC, GSIN or GSRN without their check digit. It returns the digit as an ASCII character
// ('0'–'9'), ready to append. Weights 3 and 1 alternate from the rightmost digit; the check digit
// brings the weighted sum up to a multiple of ten (GS1 General Specifications §7.9.1).
func CheckDigit(digits string) (byte, error) {
	if digits == "" {
		return 0, &Error{Position: 0, Message: "no digits to compute a check digit of"}
	}
	sum, weight := 0, 3
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, &Error{Position: i, Message: fmt.Sprintf("character %q is not a digit", runeAt(digits, i))}
		}
		sum += int(c-'0') * weight
		weight = 4 - weight
	}
	return byte('0' + (10-sum%10)%10), nil
}

// ValidGTIN reports whether s is a GTIN-8, -12, -13 or -14: only digits, of one of those
// lengths, with a correct check digit.
func ValidGTIN(s string) bool {
	switch len(s) {
	case 8, 12, 13, 14:
		return validCheckDigit(s)
	}
	return false
}

// NormalizeGTIN checks a GTIN-8, -12, -13 or -14 and returns it left-padded with zeros to 14
// digits, the form AI (01) and Tracecraft store. Spaces, as printed under an EAN-13
// ("9 501101 530003"), are ignored.
func NormalizeGTIN(s string) (string, error) {
	g := strings.ReplaceAll(s, " ", "")
	for i := 0; i < len(g); i++ {
		if g[i] < '0' || g[i] > '9' {
			return "", &Error{AI: "01", Position: -1, Message: fmt.Sprintf("character %q is not a digit", runeAt(g, i))}
		}
	}
	switch len(g) {
	case 8, 12, 13, 14:
	default:
		return "", &Error{AI: "01", Position: -1, Message: fmt.Sprintf("a GTIN has 8, 12, 13 or 14 digits, got %d", len(g))}
	}
	if p := checkDigitProblem(g); p != "" {
		return "", &Error{AI: "01", Position: -1, Message: p}
	}
	return strings.Repeat("0", 14-len(g)) + g, nil
}

// validCheckDigit reports whether s is at least two digits whose last is the check digit of
// the others.
func validCheckDigit(s string) bool {
	return len(s) >= 2 && checkDigitProblem(s) == ""
}

// checkDigitProblem describes what is wrong with the check digit ending s, "" when nothing is.
func checkDigitProblem(s string) string {
	if len(s) < 2 {
		return "too short to carry a check digit"
	}
	want, err := CheckDigit(s[:len(s)-1])
	if err != nil {
		return err.(*Error).Message
	}
	if got := s[len(s)-1]; got != want {
		if got < '0' || got > '9' {
			return fmt.Sprintf("character %q is not a digit", runeAt(s, len(s)-1))
		}
		return fmt.Sprintf("check digit is %c, should be %c", got, want)
	}
	return ""
}
