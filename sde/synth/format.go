package synth

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// Dates are int32 days since 1970-01-01 in the proleptic Gregorian calendar, so the hot loop never
// touches package time (and never the clock).

// dayOf returns the day number of y-m-d (Hinnant's days_from_civil).
func dayOf(y, m, d int) int32 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int32(era*146097 + doe - 719468)
}

// civil is the inverse of dayOf (Hinnant's civil_from_days) for days after year 0.
func civil(z int32) (y, m, d int) {
	zz := int(z) + 719468
	era := zz / 146097
	doe := zz - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func appendYMD(b []byte, y, m, d int) []byte {
	return append(b,
		byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-',
		byte('0'+d/10), byte('0'+d%10))
}

// appendDate writes an ISO 8601 date (YYYY-MM-DD).
func appendDate(b []byte, z int32) []byte {
	y, m, d := civil(z)
	return appendYMD(b, y, m, d)
}

// appendBadDate writes one of the documented malformed forms of day z: an impossible 30 February,
// a UK-style DD/MM/YYYY date, or month 13.
func appendBadDate(b []byte, z int32, kind int) []byte {
	y, m, d := civil(z)
	switch kind % 3 {
	case 0:
		return appendYMD(b, y, 2, 30)
	case 1:
		return append(b,
			byte('0'+d/10), byte('0'+d%10), '/', byte('0'+m/10), byte('0'+m%10), '/',
			byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
	default:
		return appendYMD(b, y, 13, d)
	}
}

// appendPence writes an amount in pence as pounds with two decimals.
func appendPence(b []byte, p int64) []byte {
	b = strconv.AppendInt(b, p/100, 10)
	c := p % 100
	return append(b, '.', byte('0'+c/10), byte('0'+c%10))
}

// appendTenths writes v/10 with one decimal.
func appendTenths(b []byte, v int) []byte {
	b = strconv.AppendInt(b, int64(v/10), 10)
	return append(b, '.', byte('0'+v%10))
}

func appendInt(b []byte, v int) []byte { return strconv.AppendInt(b, int64(v), 10) }

// nhsCheck returns the Modulus 11 check digit of a nine-digit number, or 10 when no check digit
// exists (such numbers are never issued).
func nhsCheck(nine int64) int {
	sum := 0
	for w := 2; w <= 10; w++ {
		sum += int(nine%10) * w
		nine /= 10
	}
	c := 11 - sum%11
	if c == 11 {
		c = 0
	}
	return c
}

// badCheckDigit returns nhs with its check digit replaced by a different digit, which can never
// pass Modulus 11 because the check digit of a nine-digit stem is unique.
func badCheckDigit(nhs int64, r *rand.Rand) int64 {
	c := nhs % 10
	return nhs - c + (c+1+int64(r.IntN(9)))%10
}

// splitmix64 finaliser: turns structured inputs (seed, stream, person index) into well-spread
// PCG seeds.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// poisson draws a Poisson variate (Knuth for small means, a rounded normal for large ones).
func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 40 {
		v := math.Round(mean + math.Sqrt(mean)*r.NormFloat64())
		if v < 0 {
			return 0
		}
		return int(v)
	}
	l := math.Exp(-mean)
	k := 0
	p := r.Float64()
	for p > l {
		k++
		p *= r.Float64()
	}
	return k
}

// between returns a uniform day in [a, b]; b < a yields a.
func between(r *rand.Rand, a, b int32) int32 {
	if b <= a {
		return a
	}
	return a + int32(r.IntN(int(b-a)+1))
}

// pick returns an index drawn from cumulative weights cum (last element is the total).
func pick(r *rand.Rand, cum []float64) int {
	x := r.Float64() * cum[len(cum)-1]
	lo, hi := 0, len(cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func cumulative(w []float64) []float64 {
	c := make([]float64, len(w))
	s := 0.0
	for i, v := range w {
		s += v
		c[i] = s
	}
	return c
}
