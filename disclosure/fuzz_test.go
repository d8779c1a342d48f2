package disclosure

import (
	"math/rand/v2"
	"testing"
)

// FuzzEngine builds a small table with random margins and policy from the
// fuzzer's bytes. The engine must not panic, and whatever it releases must pass
// the same properties as the random-table test.
func FuzzEngine(f *testing.F) {
	f.Add(uint64(1), uint8(2), uint8(3), uint8(0x5a))
	f.Add(uint64(42), uint8(1), uint8(4), uint8(0xff))
	f.Add(uint64(7), uint8(3), uint8(2), uint8(0))
	f.Fuzz(func(t *testing.T, seed uint64, nd, size, knobs uint8) {
		rng := rand.New(rand.NewPCG(seed, uint64(knobs)))
		d := 1 + int(nd)%3
		sizes := make([]int, d)
		for i := range sizes {
			sizes[i] = 1 + (int(size)+i)%(5-d)
		}
		pol := randomPolicy(rng)
		sp := genSpec{
			sizes:   sizes,
			sets:    randomSets(rng, d),
			small:   float64(knobs&0x0f) / 16,
			zeros:   float64(knobs>>4) / 32,
			persons: knobs&1 == 1,
		}
		in := gen(rng, sp, pol)
		defer in.Record.Release()
		res, err := Apply(in)
		if err != nil {
			t.Fatalf("valid table refused: %v", err)
		}
		defer res.Record.Release()
		checkProperties(t, in, res)
	})
}
