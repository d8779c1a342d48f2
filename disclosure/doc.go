// Package disclosure decides which cells of a query result may leave the secure data environment.
//
// It is pure Go over Arrow: no I/O, no SQL, nothing else from this module. The
// caller (the SQL planner and release step) hands Apply an Input — the result
// record, a Plan describing its columns and margins, per-row person statistics,
// the effective Policy, totals released earlier and the release Ledger — and
// gets back the released record (suppressed cells null), a status per cell and
// a Decision record.
//
// # What Apply does, in order
//
//  1. Validates everything and refuses (returns an error wrapping ErrInvalid)
//     rather than guess: plan/record mismatch, negative or non-integer counts,
//     NaN, missing person statistics, SUM values that differ from their
//     contributions' total, margins that do not add up.
//  2. Row cap: a result longer than Policy.MaxRows is refused whole (status fail).
//  3. Primary suppression per measure cell: refused aggregates (MIN, MAX, …) →
//     suppressed:policy; fewer than Policy.Threshold distinct persons →
//     suppressed:threshold (a zero is released unless ZerosDisclosive); SUM/AVG
//     cells failing NK or p-ratio dominance on per-person contributions →
//     suppressed:dominance; negative contributions → review (or suppressed:policy).
//  4. Differencing: cells whose persons differ by 1..k−1 from the same cell of an
//     earlier release over the same sources and grouping with different filters →
//     suppressed:differencing (or review). Any filter difference counts, since
//     containment of one population in another cannot be read from the text.
//  5. Secondary suppression when the result has margins or Input.Margins: the
//     singleton rule (no constraint may hold exactly one suppressed cell;
//     cheapest partner first, preferring one that closes another singleton), then
//     for each primary cell the attacker's two LPs (min and max of the cell given
//     the released cells, additivity, non-negativity); while the interval is
//     narrower than the protection level another cell is suppressed.
//  6. Rounding of released counts, then recomputed margins if Policy.Totals says so.
//
// # Tie rules
//
// Dominance NK fails at the boundary: with n=2, k=0.90, contributions [45 45 10]
// (share exactly 0.90) fail (ACRO v1's >=, not v0.4's >). The p-ratio passes at
// the boundary: rest = 0.10·x1 is safe (τ-Argus). Rounding to the nearest base
// rounds halves up: base 10 gives 15 → 20 and 25 → 30 (not half-to-even's 25 →
// 20); base 5 has no integer halves. Midpoint-6 gives 0 → 0, 1..6 → 3, 7..12 → 9.
//
// # Filling Plan and Stats
//
// Plain GROUP BY: one ColumnPlan per output column, Dimension for grouping keys,
// Measure with its Aggregate for the rest; GroupingSets and RowSets nil. There
// are no margins, so no secondary suppression (unless Input.Margins names totals
// released earlier). RowStats[i].Persons is COUNT(DISTINCT person) of group i.
//
// ROLLUP, CUBE, GROUPING SETS: GroupingSets lists each grouping set as the
// column indices it groups by (ROLLUP(a, b) → {a,b}, {a}, {}), and RowSets[i]
// is the set of row i — the planner reads it from GROUPING(a, b, …) in the
// rewritten query. The engine derives the additivity constraints itself: a row
// of set G equals the sum of the matching rows of each set that contains G with
// no set in between. The NULLs of rolled-up columns are not part of a row's key.
//
// A plain table with totals (a CSV brought to `sde check`): margins are rows
// whose dimension value is the total label; each distinct pattern of labelled
// columns is one grouping set (ReadCSV does this).
//
// Stats: RowStats.Persons is the group's distinct persons. Cells, one entry per
// column, is needed when a measure cell covers fewer persons than its row
// (COUNT(*) FILTER (WHERE …) → COUNT(DISTINCT person) FILTER (WHERE …)) and for
// every SUM and AVG cell, which need the per-person contributions: the planner
// groups by (group, person) first, then takes max, second max and sum of the
// per-person values (Max1, Max2, Total) and bool_or(value < 0) (AnyNegative).
// ColumnPlan.Contribution says what a person's value is: their sum of rows
// (PerPersonSum; SUM must then equal Total) or their mean (PerPersonMean, as
// ZetaSQL's ANON_AVG; AVG must then equal Total/Persons).
//
// # Assumptions that err on the side of suppressing
//
// The LPs use true values for released cells and margins released earlier (the
// attacker only sees them rounded), and exact linear relations between margins
// and parts even for statistics that only approximately add up (AVG, COUNT
// DISTINCT), whose residual is treated as known. Zeros are never chosen as
// secondary cells unless nothing else is left, since structural zeros are often
// known.
//
// # Solving the LPs
//
// Each LP is first solved on a neighbourhood of the cell (suppressed cells within
// a few constraint hops; the rest fixed at their true values, which can only
// narrow the interval, so a wide enough interval there is wide enough on the
// whole table), then on the whole connected component. A dense tableau simplex
// finds the extreme points; a point only counts after it is checked against the
// constraints, and feasible points found for one cell are reused for the others.
// If that fails, gonum's lp.Simplex solves the same problem (standard form when
// all unknowns are non-negative, after dropping dependent rows — the cause of
// the "singular initial basis" panic noted in DESIGN.md — else inequality form
// through lp.Convert), with panics recovered. An LP nobody can solve counts as
// unprotected: more cells are suppressed, and a cell still unprotected once
// everything around it is suppressed is flagged for review.
package disclosure
