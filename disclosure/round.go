package disclosure

import (
	"math"
	"strconv"
	"strings"
)

// Round applies the rounding rule to a non-negative count.
//
// Nearest rounds halves up (base 10: 15 → 20, 25 → 30); with base 5 integer counts
// have no halves. Midpoint-6 maps 0 → 0 and x > 0 → ceil(x/6)*6 − 3.
func (r Rounding) Round(x int64) int64 {
	switch r.Mode {
	case RoundNearest:
		if r.Base <= 1 {
			return x
		}
		return (x + r.Base/2) / r.Base * r.Base // half-up: x + floor(b/2) truncated; for odd b there are no halves
	case RoundMidpoint6:
		if x == 0 {
			return 0
		}
		return (x+5)/6*6 - 3
	}
	return x
}

// ColumnSummary is what an output checker wants to know about a column of a
// table produced elsewhere: is it already rounded, and how many cells are redacted.
type ColumnSummary struct {
	Numeric       int  `json:"numeric"`
	Redacted      int  `json:"redacted"` // non-numeric cells such as "[REDACTED]", "<=7", "n/a"
	DivisibleBy5  bool `json:"divisible_by_5"`
	Midpoint6     bool `json:"midpoint_6_rounded"`
	Integers      bool `json:"integers"`
	NonNegative   bool `json:"non_negative"`
	HasSmallCount bool `json:"has_small_count"` // a numeric value in 1..k-1 for the k given to Summarize
}

// SummarizeColumn classifies a column of cell texts. Midpoint-6 means every
// numeric value is 0 or ≡ 3 (mod 6); an empty numeric column is neither rounded.
func SummarizeColumn(cells []string, k int64) ColumnSummary {
	s := ColumnSummary{DivisibleBy5: true, Midpoint6: true, Integers: true, NonNegative: true}
	for _, c := range cells {
		v, err := strconv.ParseFloat(strings.TrimSpace(c), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			s.Redacted++
			continue
		}
		s.Numeric++
		if v != math.Trunc(v) {
			s.Integers, s.DivisibleBy5, s.Midpoint6 = false, false, false
			continue
		}
		if v < 0 {
			s.NonNegative = false
		}
		n := int64(v)
		if n%5 != 0 {
			s.DivisibleBy5 = false
		}
		if n != 0 && ((n%6)+6)%6 != 3 {
			s.Midpoint6 = false
		}
		if n > 0 && n < k {
			s.HasSmallCount = true
		}
	}
	if s.Numeric == 0 {
		s.DivisibleBy5, s.Midpoint6 = false, false
	}
	return s
}
