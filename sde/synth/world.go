package synth

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// The fictional integrated care system. Everything here is invented; codes are chosen from
// ranges that do not collide with real ODS, ONS or postcode identifiers where that is possible.
const (
	ICSName = "North Riverside ICS"
	// DefaultSeed is the seed `sde synth` and `sde serve --dev` use when none is given.
	DefaultSeed uint64 = 20261123
	// DefaultPeople is the population `sde synth` generates when --people is not given.
	DefaultPeople = 10000
	// MaxPeople bounds --people; NHS numbers stay unique far beyond it (9 × 10^7).
	MaxPeople = 10_000_000
	// ReferenceDate is the fixed extract date: ages, open registrations and ongoing services
	// are as of this day. The data window is WindowStart .. ReferenceDate.
	ReferenceDate = "2025-12-31"
	WindowStart   = "2019-01-01"
	// DirtyRate is the share of event rows deliberately made invalid (see the dictionary).
	DirtyRate = 0.001
	// PeoplePerLSOA, LSOAsPerMSOA and PeoplePerPractice size the geography.
	PeoplePerLSOA     = 1500
	LSOAsPerMSOA      = 5
	PeoplePerPractice = 2500
	PracticesPerPCN   = 5
)

var (
	winStart = dayOf(2019, 1, 1)
	refDay   = dayOf(2025, 12, 31)
	histFrom = dayOf(2000, 1, 1) // earliest recorded diagnosis date
)

// Org is an organisation in the fictional ICS.
type Org struct {
	Code, Name, Kind string
}

// Organisations of North Riverside ICS, in a fixed order. Controllers of the synthetic sources
// are among them.
var Organisations = []Org{
	{"RVGPC", "North Riverside GP Collaborative (on behalf of its member practices)", "gp"},
	{"R9A", "Riverside University Hospitals NHS Foundation Trust", "acute"},
	{"R9B", "Northbank General Hospital NHS Trust", "acute"},
	{"RVAPC", "North Riverside Acute Provider Collaborative (R9A and R9B, joint controllers)", "acute"},
	{"R9C", "Riverside Community and Mental Health NHS Foundation Trust", "community"},
	{"RVLA", "Riverside City Council Adult Social Care", "local_authority"},
	{"RVVCS", "Riverside VCSE Alliance", "vcse"},
	{"NDOP", "NHS England National Data Opt-out Service", "national"},
}

var trustCodes = [2]string{"R9A", "R9B"}

// world is the fixed geography and service layout for one (seed, people).
type world struct {
	seed          uint64
	people        int
	nLSOA, nMSOA  int
	nPrac         int
	lsoaCum       []float64
	lsoaIMD       []uint8
	lsoaDiversity []float64
	lsoaCode      []string
	msoaCode      []string
	pracCode      []string
	pcnCode       []string
	nhsOff        uint64
	clientOff     uint64
}

func newWorld(seed uint64, people int) *world {
	w := &world{seed: seed, people: people}
	r := rand.New(rand.NewPCG(mix(seed^0x77), mix(seed+0x77)))
	w.nLSOA = max(1, (people+PeoplePerLSOA/2)/PeoplePerLSOA)
	w.nMSOA = (w.nLSOA + LSOAsPerMSOA - 1) / LSOAsPerMSOA
	w.nPrac = max(1, (people+PeoplePerPractice/2)/PeoplePerPractice)
	// Spread MSOA deprivation over the whole range so even a small ICS has rich and poor areas;
	// LSOAs sit within one decile of their MSOA.
	perm := r.Perm(w.nMSOA)
	base := make([]int, w.nMSOA)
	for m := range base {
		base[m] = 1 + perm[m]*10/w.nMSOA
	}
	weights := make([]float64, w.nLSOA)
	w.lsoaIMD = make([]uint8, w.nLSOA)
	w.lsoaDiversity = make([]float64, w.nLSOA)
	w.lsoaCode = make([]string, w.nLSOA)
	for l := range w.nLSOA {
		weights[l] = 0.7 + 0.6*r.Float64()
		d := base[l/LSOAsPerMSOA] + r.IntN(3) - 1
		w.lsoaIMD[l] = uint8(min(10, max(1, d)))
		// More deprived urban areas are more ethnically diverse.
		w.lsoaDiversity[l] = (0.4 + 1.2*r.Float64()) * (1.6 - 0.1*float64(w.lsoaIMD[l]))
		w.lsoaCode[l] = "E01" + strconv.Itoa(900001+l)
	}
	w.lsoaCum = cumulative(weights)
	w.msoaCode = make([]string, w.nMSOA)
	for m := range w.nMSOA {
		w.msoaCode[m] = "E02" + strconv.Itoa(900001+m)
	}
	w.pracCode = make([]string, w.nPrac)
	w.pcnCode = make([]string, w.nPrac)
	for p := range w.nPrac {
		w.pracCode[p] = "Y9" + strconv.Itoa(1000+p)
		w.pcnCode[p] = "U9" + strconv.Itoa(1000+p/PracticesPerPCN)
	}
	w.nhsOff = r.Uint64N(nhsStems)
	w.clientOff = r.Uint64N(clientIDs)
	return w
}

const (
	nhsStems  = 10_000_000 // seven free digits after the leading 9 of the eight-digit stem
	nhsMul    = 7_368_787  // coprime with 10, so i → i*nhsMul+off mod 10^7 is a bijection
	clientIDs = 10_000_000
	clientMul = 3_141_593
)

// nhsNumber returns person i's NHS number: unique for i < 9×10^7, starting with 9 like NHS test
// numbers, always with a valid Modulus 11 check digit. Each eight-digit stem has ten possible
// ninth digits of which at most one has no check digit, so the (i mod 9)-th valid one exists.
func (w *world) nhsNumber(i int) int64 {
	stem := 90_000_000 + int64((uint64(i/9)*nhsMul+w.nhsOff)%nhsStems)
	k := i % 9
	for d := int64(0); d < 10; d++ {
		nine := stem*10 + d
		c := nhsCheck(nine)
		if c == 10 {
			continue
		}
		if k == 0 {
			return nine*10 + int64(c)
		}
		k--
	}
	panic("unreachable: a stem has at least nine valid check digits")
}

// clientID returns the local authority's own identifier for person i (unique).
func (w *world) clientID(i int) int64 {
	return int64((uint64(i)*clientMul + w.clientOff) % clientIDs)
}

// ONS 2021-like age structure for England, five-year bands 0-4 .. 85-89 and 90+ (per cent).
var agePyramid = cumulative([]float64{5.4, 5.9, 6.0, 5.6, 6.0, 6.6, 6.9, 6.7, 6.3, 6.3, 6.9, 6.7, 5.8, 5.0, 5.0, 3.6, 2.5, 1.6, 0.9})

// Ethnicity: ONS 2021 census categories (England shares, per cent) and their high-level groups.
type ethnicity struct {
	code, group, label string
	share              float64
	minority           bool // scaled by area diversity
}

var ethnicities = []ethnicity{
	{"white_british", "white", "White: English, Welsh, Scottish, Northern Irish or British", 73.5, false},
	{"white_irish", "white", "White: Irish", 0.9, false},
	{"white_gypsy_traveller", "white", "White: Gypsy or Irish Traveller", 0.1, true},
	{"white_roma", "white", "White: Roma", 0.2, true},
	{"white_other", "white", "White: Other White", 6.3, true},
	{"mixed_white_black_caribbean", "mixed", "Mixed or Multiple: White and Black Caribbean", 0.9, true},
	{"mixed_white_black_african", "mixed", "Mixed or Multiple: White and Black African", 0.4, true},
	{"mixed_white_asian", "mixed", "Mixed or Multiple: White and Asian", 0.8, true},
	{"mixed_other", "mixed", "Mixed or Multiple: Other Mixed or Multiple", 0.9, true},
	{"asian_indian", "asian", "Asian or Asian British: Indian", 3.3, true},
	{"asian_pakistani", "asian", "Asian or Asian British: Pakistani", 2.7, true},
	{"asian_bangladeshi", "asian", "Asian or Asian British: Bangladeshi", 1.1, true},
	{"asian_chinese", "asian", "Asian or Asian British: Chinese", 0.7, true},
	{"asian_other", "asian", "Asian or Asian British: Other Asian", 1.6, true},
	{"black_african", "black", "Black, Black British, Caribbean or African: African", 2.5, true},
	{"black_caribbean", "black", "Black, Black British, Caribbean or African: Caribbean", 1.1, true},
	{"black_other", "black", "Black, Black British, Caribbean or African: Other Black", 0.5, true},
	{"other_arab", "other", "Other ethnic group: Arab", 0.6, true},
	{"other_any", "other", "Other ethnic group: Any other ethnic group", 1.6, true},
	{"not_stated", "not_stated", "Not stated or not recorded in the GP record", 5.0, false},
}

const (
	sexF = iota
	sexM
	sexU
)

var sexCode = [3]string{"F", "M", "U"}

// person is everything about one synthetic person that more than one source needs.
type person struct {
	idx              int
	nhs              int64
	dob, death       int32 // death 0: alive on the reference date
	regStart, regEnd int32 // regEnd 0: still registered
	start, end       int32 // active in the ICS within the window
	lsoa, prac       int
	imd              int
	sex              int
	eth              int
	conds            uint32
	ncond            int
	frailty          float64 // heavy-tailed multiplier on service use
	optOut           int32
}

func (p *person) has(c int) bool { return p.conds&(1<<c) != 0 }

// age returns the whole years of age on day z.
func (p *person) age(z int32) int {
	y1, m1, d1 := civil(p.dob)
	y2, m2, d2 := civil(z)
	a := y2 - y1
	if m2 < m1 || (m2 == m1 && d2 < d1) {
		a--
	}
	return a
}

// fage is an approximate fractional age, good enough for rates.
func (p *person) fage(z int32) float64 { return float64(z-p.dob) / 365.2425 }

func (p *person) black() bool  { return ethnicities[p.eth].group == "black" }
func (p *person) sAsian() bool { e := p.eth; return e >= 9 && e <= 11 }

// makePerson draws person i from its own random stream.
func (w *world) makePerson(i int, r *rand.Rand, p *person) {
	*p = person{idx: i, nhs: w.nhsNumber(i)}
	p.lsoa = pick(r, w.lsoaCum)
	p.imd = int(w.lsoaIMD[p.lsoa])
	// Practice: the one serving the person's neighbourhood, sometimes a neighbour.
	c := (float64(p.lsoa)+0.5)*float64(w.nPrac)/float64(w.nLSOA) + 0.8*r.NormFloat64()
	p.prac = min(w.nPrac-1, max(0, int(math.Floor(c))))

	band := pick(r, agePyramid)
	span := 5.0
	if band == len(agePyramid)-1 {
		span = 12 * r.Float64() // 90+: thinning out towards 102
	}
	ageRef := float64(band)*5 + span*r.Float64()
	p.dob = refDay - int32(ageRef*365.2425) - int32(r.IntN(2))
	// Women outnumber men at older ages.
	pf := 0.49 + 0.0025*max(0, ageRef-50)
	switch x := r.Float64(); {
	case x < 0.0005:
		p.sex = sexU
	case x < pf:
		p.sex = sexF
	default:
		p.sex = sexM
	}
	p.eth = w.pickEthnicity(r, p.lsoa, ageRef)
	w.assignConditions(r, p, ageRef)
	p.frailty = math.Exp(0.8*r.NormFloat64()-0.32) * (1 + 0.3*float64(p.ncond))

	// Registration with the practice.
	switch {
	case p.dob >= winStart:
		p.regStart = min(refDay, p.dob+7+int32(r.IntN(50)))
	case r.Float64() < 0.8:
		p.regStart = max(p.dob+int32(r.IntN(60)), winStart-1-int32(r.IntN(20*365)))
	default:
		p.regStart = between(r, max(p.dob, winStart), refDay)
	}
	// Deaths: Gompertz-like annual risk from the start of registration in the window, raised by
	// deprivation and by serious conditions.
	hz := (1 + 0.12*float64(p.ncond)) * (1 + 0.05*(5.5-float64(p.imd)))
	for _, c := range []int{cDementia, cHeartFailure, cCancer, cCOPD} {
		if p.has(c) {
			hz *= 1.5
		}
	}
	for t := max(p.regStart, winStart); t <= refDay; t += 365 {
		span := min(365, refDay-t+1) // the last step may be a part-year
		a := p.fage(t)
		q := 0.0002 + math.Exp(-10.3+0.094*a)
		if a < 1 {
			q = 0.004
		}
		if r.Float64() < min(0.6, q*hz)*float64(span)/365 {
			p.death = t + int32(r.IntN(int(span)))
			break
		}
	}
	switch {
	case p.death != 0:
		p.regEnd = p.death
	case r.Float64() < 0.10:
		p.regEnd = between(r, max(p.regStart+30, winStart), refDay)
	}
	p.start = max(p.regStart, winStart)
	p.end = refDay
	if p.regEnd != 0 {
		p.end = p.regEnd
	}
	if p.end < p.start { // registered days before the reference date; keep the window non-empty
		p.end = p.start
	}
	if r.Float64() < 0.05 {
		p.optOut = between(r, winStart, p.end)
	}
}

func (w *world) pickEthnicity(r *rand.Rand, lsoa int, age float64) int {
	div := w.lsoaDiversity[lsoa]
	if age > 60 { // older cohorts are less diverse
		div *= 0.5
	}
	var total float64
	var ws [20]float64
	for i, e := range ethnicities {
		v := e.share
		if e.minority {
			v *= div
		}
		total += v
		ws[i] = total
	}
	x := r.Float64() * total
	for i := range ethnicities {
		if x < ws[i] {
			return i
		}
	}
	return len(ethnicities) - 1
}
