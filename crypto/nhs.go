package crypto

// ValidNHSNumber reports whether s is a valid NHS number: exactly ten ASCII digits whose last
// digit is the Modulus 11 check digit of the first nine (weights 10 down to 2; check digit is
// 11 - sum mod 11, with 11 meaning 0 and 10 meaning the number is invalid). Spaces or other
// separators are not accepted; callers normalise "943 476 5919" style input first.
func ValidNHSNumber(s string) bool {
	if len(s) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 10; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		if i < 9 {
			sum += int(c-'0') * (10 - i)
		}
	}
	check := 11 - sum%11
	switch check {
	case 11:
		check = 0
	case 10:
		return false
	}
	return int(s[9]-'0') == check
}
