package disclosure

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// RoundMode names how released counts are rounded.
type RoundMode string

const (
	// RoundNone releases counts unrounded.
	RoundNone RoundMode = "none"
	// RoundNearest rounds to the nearest multiple of Base, halves up:
	// with base 10, 15 → 20 and 25 → 30 (not round-half-to-even, which gives 25 → 20).
	// Half-up is used because it never depends on the parity of the neighbouring
	// multiples, so a checker can reproduce it by hand.
	RoundNearest RoundMode = "nearest"
	// RoundMidpoint6 maps x > 0 to ceil(x/6)*6 − 3 and 0 to 0 (OpenSAFELY's midpoint-6):
	// 1..6 → 3, 7..12 → 9. Base is ignored.
	RoundMidpoint6 RoundMode = "midpoint6"
)

// Rounding is the rounding rule for count cells.
type Rounding struct {
	Mode RoundMode `json:"mode"`
	Base int64     `json:"base,omitempty"` // for RoundNearest; ≥ 1
}

// TotalsMode says what a released margin (subtotal, total) holds.
type TotalsMode string

const (
	// TotalsRounded publishes the true margin, rounded like any count. Secondary
	// suppression then protects primary cells against the true margins.
	TotalsRounded TotalsMode = "rounded"
	// TotalsRecomputed publishes each additive margin as the sum of the released,
	// rounded cells below it (suppressed cells count as 0), as OpenSAFELY advises.
	// Such a margin carries no information beyond the released cells, so margins
	// do not constrain the attacker and secondary suppression is not needed for them.
	TotalsRecomputed TotalsMode = "recomputed"
)

// Action is what the engine does with a cell a check flags but cannot settle by itself.
type Action string

const (
	// ActionSuppress suppresses the flagged cell.
	ActionSuppress Action = "suppress"
	// ActionReview releases nothing until two output checkers approve: the cell
	// keeps its value, is flagged in the decision record, and the result's status is review.
	ActionReview Action = "review"
)

// Dominance holds the two magnitude rules applied to SUM and AVG cells over the
// per-person contributions.
//
// NK rule: a cell fails when its N largest contributions make up K or more of the
// total: (x1 [+ x2]) / total >= K. The boundary fails (ACRO v1 uses >=; ACRO 0.4.12
// used >): with N=2, K=0.90, contributions [45 45 10] fail.
//
// p-ratio (τ-Argus p% rule): a cell passes when the contributions after the two
// largest add up to at least P times the largest: total − x1 − x2 >= P·x1; with
// P = 0.10 the boundary passes. Only the two largest contributions are known to
// the engine, so N is 1 or 2.
type Dominance struct {
	N int     `json:"n"`
	K float64 `json:"k"`
	P float64 `json:"p"`
}

// Policy is one agreement's disclosure rules. Policies compose with Strictest.
// The zero Policy is not valid; start from DefaultPolicy or ParsePolicy.
type Policy struct {
	// Threshold is k: a cell is released only if at least k distinct persons
	// contribute to it (never rows: 12 rows of one person are 1 person).
	Threshold int64 `json:"threshold"`
	// ZerosDisclosive suppresses cells with no contributing persons too (ACRO's
	// zeros_are_disclosive). When false, zeros are released as 0.
	ZerosDisclosive bool     `json:"zeros_disclosive"`
	Rounding        Rounding `json:"rounding"`
	// Totals chooses between publishing true margins (rounded) and margins
	// recomputed from released cells.
	Totals    TotalsMode `json:"totals"`
	Dominance Dominance  `json:"dominance"`
	// Refuse lists aggregates whose cells are never released (status
	// suppressed:policy): single-value statistics such as MIN and MAX reveal one
	// person's value.
	Refuse []Aggregate `json:"refuse"`
	// MaxRows caps the rows of a result; a larger result is refused as a whole.
	MaxRows int `json:"max_rows"`
	// Protection is the least width, in persons, of the interval an attacker can
	// derive by linear programming for a suppressed count cell; 0 means Threshold.
	Protection float64 `json:"protection"`
	// ProtectionRatio is the least width of that interval for a magnitude cell
	// (SUM, AVG) as a fraction of the cell's value.
	ProtectionRatio float64 `json:"protection_ratio"`
	// SuppressTies makes secondary suppression take every cheapest candidate of a
	// constraint when several cost the same (cohort-extractor's behaviour), rather
	// than the first in row order.
	SuppressTies bool `json:"suppress_ties"`
	// Differencing is the action for a cell that differs by fewer than k persons
	// from the same cell of an earlier release over the same data and grouping with other filters.
	Differencing Action `json:"differencing"`
	// NegativeContributions is the action for a SUM/AVG cell with a negative
	// per-person contribution, where dominance is not defined.
	NegativeContributions Action `json:"negative_contributions"`
	// WithholdSmallGroups leaves out of the result every row whose group has fewer than
	// Threshold persons — its labels as well as its values, and without saying how many rows
	// were left out. Labels an analyst computes from data (a person's total cost, a combination
	// of quasi-identifiers) are themselves disclosive; fixed public categories are not, which is
	// why tables brought to `sde check` may keep it off.
	WithholdSmallGroups bool `json:"withhold_small_groups"`
}

// DefaultPolicy is the SDE default (NHS England SDE rules, OpenSAFELY rounding and
// row cap, ACRO dominance parameters).
func DefaultPolicy() Policy {
	return Policy{
		Threshold: 10,
		Rounding:  Rounding{Mode: RoundNearest, Base: 5},
		Totals:    TotalsRounded,
		Dominance: Dominance{N: 2, K: 0.90, P: 0.10},
		// Single-value statistics, and spreads (whose sample and population forms together
		// reveal n and a single deviation), are refused.
		Refuse:                []Aggregate{Min, Max, Median, Quantile, Stddev, Variance},
		MaxRows:               5000,
		ProtectionRatio:       0.10,
		Differencing:          ActionSuppress,
		NegativeContributions: ActionReview,
	}
}

// Validate reports the first rule that makes p unusable.
func (p Policy) Validate() error {
	switch {
	case p.Threshold < 1:
		return fmt.Errorf("%w: threshold must be at least 1", ErrPolicy)
	case p.MaxRows < 1:
		return fmt.Errorf("%w: max_rows must be at least 1", ErrPolicy)
	case p.Protection < 0 || p.ProtectionRatio < 0 || p.Protection != p.Protection || p.ProtectionRatio != p.ProtectionRatio:
		return fmt.Errorf("%w: protection must not be negative", ErrPolicy)
	case p.Dominance.N < 1 || p.Dominance.N > 2:
		return fmt.Errorf("%w: dominance n must be 1 or 2", ErrPolicy)
	case !(p.Dominance.K > 0 && p.Dominance.K <= 1):
		return fmt.Errorf("%w: dominance k must be in (0, 1]", ErrPolicy)
	case !(p.Dominance.P >= 0):
		return fmt.Errorf("%w: dominance p must not be negative", ErrPolicy)
	}
	switch p.Rounding.Mode {
	case RoundNone, RoundMidpoint6:
	case RoundNearest:
		if p.Rounding.Base < 1 {
			return fmt.Errorf("%w: rounding base must be at least 1", ErrPolicy)
		}
	default:
		return fmt.Errorf("%w: unknown rounding mode %q", ErrPolicy, p.Rounding.Mode)
	}
	if p.Totals != TotalsRounded && p.Totals != TotalsRecomputed {
		return fmt.Errorf("%w: unknown totals mode %q", ErrPolicy, p.Totals)
	}
	for _, a := range []Action{p.Differencing, p.NegativeContributions} {
		if a != ActionSuppress && a != ActionReview {
			return fmt.Errorf("%w: unknown action %q", ErrPolicy, a)
		}
	}
	for _, a := range p.Refuse {
		if !a.known() {
			return fmt.Errorf("%w: unknown aggregate %q", ErrPolicy, a)
		}
	}
	return nil
}

// ParsePolicy reads a JSON policy. Fields left out keep their DefaultPolicy
// values; unknown fields are an error, so a misspelt rule never silently loosens
// the policy.
func ParsePolicy(data []byte) (Policy, error) {
	p := DefaultPolicy()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("%w: %v", ErrPolicy, err)
	}
	if dec.More() {
		return Policy{}, fmt.Errorf("%w: trailing data after the policy object", ErrPolicy)
	}
	return p, p.Validate()
}

// roundingStrength orders rounding rules: a coarser grid hides more. Midpoint-6
// counts as a grid of 6 and, at equal strength, beats nearest (it never releases
// the exact value).
func roundingStrength(r Rounding) (int64, int) {
	switch r.Mode {
	case RoundNearest:
		return r.Base, 0
	case RoundMidpoint6:
		return 6, 1
	}
	return 0, 0
}

// Strictest composes policies so that every rule is at least as strict as in any
// of them: the workspace's effective policy is the strictest of the agreements
// covering its datasets. With no policies it returns DefaultPolicy.
func Strictest(ps ...Policy) Policy {
	if len(ps) == 0 {
		return DefaultPolicy()
	}
	s := ps[0]
	s.Refuse = slices.Clone(s.Refuse)
	for _, p := range ps[1:] {
		s.Threshold = max(s.Threshold, p.Threshold)
		s.ZerosDisclosive = s.ZerosDisclosive || p.ZerosDisclosive
		sb, sm := roundingStrength(s.Rounding)
		pb, pm := roundingStrength(p.Rounding)
		if pb > sb || (pb == sb && pm > sm) {
			s.Rounding = p.Rounding
		}
		if p.Totals == TotalsRecomputed {
			s.Totals = TotalsRecomputed
		}
		s.Dominance.N = max(s.Dominance.N, p.Dominance.N)
		s.Dominance.K = min(s.Dominance.K, p.Dominance.K)
		s.Dominance.P = max(s.Dominance.P, p.Dominance.P)
		for _, a := range p.Refuse {
			if !slices.Contains(s.Refuse, a) {
				s.Refuse = append(s.Refuse, a)
			}
		}
		s.MaxRows = min(s.MaxRows, p.MaxRows)
		s.Protection = max(s.protection(), p.protection())
		s.ProtectionRatio = max(s.ProtectionRatio, p.ProtectionRatio)
		s.SuppressTies = s.SuppressTies || p.SuppressTies
		if p.Differencing == ActionSuppress {
			s.Differencing = ActionSuppress
		}
		if p.NegativeContributions == ActionSuppress {
			s.NegativeContributions = ActionSuppress
		}
		s.WithholdSmallGroups = s.WithholdSmallGroups || p.WithholdSmallGroups
	}
	slices.Sort(s.Refuse)
	return s
}

// protection is the effective protection width for count cells.
func (p Policy) protection() float64 {
	if p.Protection > 0 {
		return p.Protection
	}
	return float64(p.Threshold)
}

func (p Policy) refuses(a Aggregate) bool { return slices.Contains(p.Refuse, a) }
