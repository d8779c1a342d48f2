package disclosure

import (
	"math/rand/v2"
	"testing"
)

func benchSpec2D(n int) genSpec {
	return genSpec{sizes: []int{n, n}, sets: cube(2), small: 0.05}
}

// benchSpecHier is region ⊃ practice × age: ROLLUP(region, practice) crossed with
// CUBE(age), so practice rows nest in region rows.
func benchSpecHier(regions, practices, ages int) genSpec {
	return genSpec{
		sizes:  []int{regions, practices, ages},
		parent: []int{-1, 0, -1},
		sets:   [][]int{{0, 1, 2}, {0, 1}, {0, 2}, {0}, {2}, {}},
		small:  0.05,
	}
}

func benchApply(b *testing.B, sp genSpec) {
	pol := DefaultPolicy()
	pol.MaxRows = 1 << 20 // the row cap is for query results; here the engine's cost is measured
	in := gen(rand.New(rand.NewPCG(1, 2)), sp, pol)
	b.ReportMetric(float64(in.Record.NumRows()), "cells")
	var counts Counts
	for b.Loop() {
		res, err := Apply(in)
		if err != nil {
			b.Fatal(err)
		}
		counts = res.Decision.Counts
		res.Record.Release()
	}
	b.ReportMetric(float64(counts.ByReason[ReasonThreshold]), "primary")
	b.ReportMetric(float64(counts.ByReason[ReasonSecondary]), "secondary")
}

func Benchmark2D100x100(b *testing.B)  { benchApply(b, benchSpec2D(100)) }
func BenchmarkHier3D10k(b *testing.B)  { benchApply(b, benchSpecHier(10, 50, 20)) }
func BenchmarkHier3D100k(b *testing.B) { benchApply(b, benchSpecHier(10, 100, 100)) }
