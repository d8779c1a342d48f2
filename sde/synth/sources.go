package synth

import (
	"math"
	"math/rand/v2"
)

// The sources, one CSV per controlling organisation, in the order they are written.
const (
	fPatients = iota
	fGPEvents
	fAdmissions
	fAE
	fCommunity
	fSocialCare
	fVCSE
	fOptOuts
	nFiles
)

// Random streams: each (seed, stream, person) has its own PCG, so a source can change without
// changing the others, and blocks of people can be generated on any core in any order.
const (
	stPerson = iota + 1
	stGP
	stAcute
	stCommunity
	stSocialCare
	stVCSE
	stNames
)

// headers are the CSV columns of each source; TestSpecsMatchHeaders keeps the specs in step.
var headers = [nFiles][]string{
	fPatients: {"nhs_number", "given_name", "family_name", "address_line", "postcode", "phone", "date_of_birth",
		"sex", "ethnic_group", "ethnicity", "lsoa_code", "msoa_code", "imd_decile", "practice_code", "pcn_code",
		"registration_start", "registration_end", "date_of_death"},
	fGPEvents: {"nhs_number", "practice_code", "event_date", "event_type", "condition", "snomed_code", "term",
		"value", "unit"},
	fAdmissions: {"nhs_number", "trust_code", "admission_date", "discharge_date", "admission_method",
		"patient_class", "primary_diagnosis_icd10", "length_of_stay_days", "cost_gbp"},
	fAE:        {"nhs_number", "trust_code", "arrival_date", "department_type", "arrival_mode", "chief_complaint", "disposal"},
	fCommunity: {"nhs_number", "service", "contact_date", "contact_type", "duration_minutes", "attendance"},
	fSocialCare: {"la_client_id", "nhs_number", "primary_support_reason", "service_type", "start_date", "end_date",
		"weekly_cost_gbp"},
	fVCSE:    {"nhs_number", "vcse_organisation", "service", "contact_date", "contact_type", "referral_source", "postcode"},
	fOptOuts: {"nhs_number", "opt_out_date"},
}

// gen generates one block of people at a time; one per worker.
type gen struct {
	w   *world
	src rand.PCG
	r   *rand.Rand
	p   person
	b   *block

	gpEvs []gpEvent
	adms  []admission
	aes   []aeAttendance
	cons  []contact
}

func newGen(w *world) *gen {
	g := &gen{w: w}
	g.r = rand.New(&g.src)
	return g
}

func (g *gen) stream(s uint64) {
	g.src.Seed(mix(g.w.seed^mix(s)), mix(uint64(g.p.idx)^mix(g.w.seed+s*0x1000193)))
}

// person generates everything about person i into g.b.
func (g *gen) person(i int) {
	g.p.idx = i
	g.stream(stPerson)
	g.w.makePerson(i, g.r, &g.p)
	g.patientRow()
	if g.p.optOut != 0 {
		b := g.b.out[fOptOuts]
		b = appendInt64(b, g.p.nhs)
		b = append(b, ',')
		b = appendDate(b, g.p.optOut)
		g.b.out[fOptOuts] = append(b, '\n')
		g.b.rows[fOptOuts]++
	}
	g.stream(stGP)
	g.gpEvents()
	g.stream(stAcute)
	g.acute()
	g.stream(stCommunity)
	g.community()
	g.stream(stSocialCare)
	g.socialCare()
	g.stream(stVCSE)
	g.vcse()
}

// dirtyKind decides, for one event row, whether it is deliberately broken: 0 clean, 1 wrong NHS
// check digit, 2 malformed date. Rows without an NHS number can only get a bad date.
func (g *gen) dirtyKind(f int, hasNHS bool) int {
	if g.r.IntN(1000) != 0 {
		return 0
	}
	g.b.dirty[f]++
	if hasNHS && g.r.IntN(2) == 0 {
		return 1
	}
	return 2
}

func (g *gen) appendNHS(b []byte, kind int) []byte {
	n := g.p.nhs
	if kind == 1 {
		n = badCheckDigit(n, g.r)
	}
	return appendInt64(b, n)
}

func (g *gen) appendEventDate(b []byte, z int32, kind int) []byte {
	if kind == 2 {
		return appendBadDate(b, z, g.r.IntN(3))
	}
	return appendDate(b, z)
}

// appendEventStart starts an event row of file f that always has an NHS number:
// "nhs_number,<where>,<event date>", with the row deliberately broken one time in a thousand.
func (g *gen) appendEventStart(b []byte, f int, where string, day int32) []byte {
	kind := g.dirtyKind(f, true)
	b = g.appendNHS(b, kind)
	b = append(b, ',')
	b = append(b, where...)
	b = append(b, ',')
	return g.appendEventDate(b, day, kind)
}

// postcode writes the person's synthetic postcode: area RV (not a real postcode area), district
// from the MSOA, sector from the LSOA, unit letters from the person.
func (g *gen) postcode(b []byte) []byte {
	lsoa := g.p.lsoa
	m := lsoa / LSOAsPerMSOA
	u := mix(g.w.seed ^ uint64(g.p.idx)*0x2545f4914f6cdd1d)
	n := uint64(len(unitLetters))
	b = append(b, 'R', 'V')
	b = appendInt(b, 1+(m/2)%99)
	return append(b, ' ', byte('0'+(m%2)*5+lsoa%LSOAsPerMSOA), unitLetters[u%n], unitLetters[u/n%n])
}

func (g *gen) patientRow() {
	p := &g.p
	w := g.w
	b := g.b.out[fPatients]
	b = appendInt64(b, p.nhs)
	b = append(b, ',')
	// Direct identifiers come from their own stream so they never perturb the clinical data.
	g.stream(stNames)
	r := g.r
	given := givenF
	if p.sex == sexM || (p.sex == sexU && r.IntN(2) == 0) {
		given = givenM
	}
	b = append(b, given[r.IntN(len(given))]...)
	b = append(b, ',')
	b = append(b, familyNames[r.IntN(len(familyNames))]...)
	b = append(b, ',')
	b = appendInt(b, 1+r.IntN(180))
	b = append(b, ' ')
	b = append(b, streets[r.IntN(len(streets))]...)
	b = append(b, ' ')
	b = append(b, streetTypes[r.IntN(len(streetTypes))]...)
	b = append(b, ',')
	b = g.postcode(b)
	// Ofcom's drama range: 07700 900000-900999 is never allocated to real phones.
	b = append(b, ",07700 900"...)
	n := r.IntN(1000)
	b = append(b, byte('0'+n/100), byte('0'+n/10%10), byte('0'+n%10), ',')
	b = appendDate(b, p.dob)
	b = append(b, ',')
	b = append(b, sexCode[p.sex]...)
	b = append(b, ',')
	b = append(b, ethnicities[p.eth].group...)
	b = append(b, ',')
	b = append(b, ethnicities[p.eth].code...)
	b = append(b, ',')
	b = append(b, w.lsoaCode[p.lsoa]...)
	b = append(b, ',')
	b = append(b, w.msoaCode[p.lsoa/LSOAsPerMSOA]...)
	b = append(b, ',')
	b = appendInt(b, p.imd)
	b = append(b, ',')
	b = append(b, w.pracCode[p.prac]...)
	b = append(b, ',')
	b = append(b, w.pcnCode[p.prac]...)
	b = append(b, ',')
	b = appendDate(b, p.regStart)
	b = append(b, ',')
	if p.regEnd != 0 {
		b = appendDate(b, p.regEnd)
	}
	b = append(b, ',')
	if p.death != 0 {
		b = appendDate(b, p.death)
	}
	g.b.out[fPatients] = append(b, '\n')
	g.b.rows[fPatients]++
}

// --- gp_events ---

type gpEvent struct {
	day   int32
	obs   int8 // -1: diagnosis
	cond  int8
	code  int8
	value int32 // observations: systolic mmHg, BMI tenths, HbA1c mmol/mol
}

func (g *gen) gpEvents() {
	p, r := &g.p, g.r
	evs := g.gpEvs[:0]
	for ci := range nConditions {
		if !p.has(ci) {
			continue
		}
		c := &conditions[ci]
		lo := max(histFrom, p.dob+int32(float64(c.onset)*365.25))
		day := between(r, min(lo, p.end), p.end)
		k := 0
		switch ci {
		case cDiabetes:
			if r.Float64() < 0.1 || p.age(day) < 25 && r.Float64() < 0.7 {
				k = 1
			}
		case cDementia:
			k = r.IntN(2)
		case cSMI:
			k = r.IntN(2)
		case cCancer:
			switch x := r.Float64(); {
			case x < 0.3 && p.sex == sexF:
				k = 1
			case x < 0.3 && p.sex == sexM:
				k = 4
			case x < 0.45:
				k = 2
			case x < 0.6:
				k = 3
			}
		}
		evs = append(evs, gpEvent{day: day, obs: -1, cond: int8(ci), code: int8(k)})
	}
	// Observations while registered as an adult (16+) in the window.
	from := max(p.start, p.dob+int32(16*365.25))
	if from < p.end {
		yrs := float64(p.end-from+1) / 365.2425
		ageMid := p.fage((from + p.end) / 2)
		cardio := p.has(cHypertension) || p.has(cDiabetes) || p.has(cCKD) || p.has(cCHD) || p.has(cStroke) || p.has(cHeartFailure)
		diab := p.has(cDiabetes)
		bp := 0.55
		if ageMid >= 40 {
			bp = 0.9
		}
		if cardio {
			bp = 2.5
		}
		bmi := 0.45
		if diab {
			bmi = 1.0
		}
		hba := 0.0
		if diab {
			hba = 2.4
		} else if ageMid >= 40 {
			hba = 0.25
		}
		baseBMI := 26.8 + 0.05*min(ageMid-40, 20) + 5*r.NormFloat64()
		if diab {
			baseBMI += 3.5
		}
		baseA1c := 37 + 3*r.NormFloat64()
		if diab {
			baseA1c = math.Min(110, math.Max(42, 58+12*r.NormFloat64()))
		}
		htn := 0.0
		if p.has(cHypertension) {
			htn = 14
		}
		for range poisson(r, bp*yrs) {
			d := between(r, from, p.end)
			v := 112 + 0.4*math.Max(0, p.fage(d)-30) + htn + 12*r.NormFloat64()
			evs = append(evs, gpEvent{day: d, obs: obsSystolic, value: int32(math.Min(230, math.Max(80, math.Round(v))))})
		}
		for range poisson(r, bmi*yrs) {
			d := between(r, from, p.end)
			v := baseBMI + 0.8*r.NormFloat64()
			evs = append(evs, gpEvent{day: d, obs: obsBMI, value: int32(math.Min(650, math.Max(140, math.Round(v*10))))})
		}
		for range poisson(r, hba*yrs) {
			d := between(r, from, p.end)
			v := baseA1c + 4*r.NormFloat64()
			if !diab {
				v = math.Min(47, v)
			}
			evs = append(evs, gpEvent{day: d, obs: obsHbA1c, value: int32(math.Min(150, math.Max(20, math.Round(v))))})
		}
	}
	// Insertion sort by date: lists are short and the order must be deterministic.
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].day < evs[j-1].day; j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
	b := g.b.out[fGPEvents]
	prac := g.w.pracCode[p.prac]
	for i := range evs {
		e := &evs[i]
		b = g.appendEventStart(b, fGPEvents, prac, e.day)
		if e.obs < 0 {
			c := &conditions[e.cond]
			cd := &c.codes[e.code]
			b = append(b, ",diagnosis,"...)
			b = append(b, c.key...)
			b = append(b, ',')
			b = append(b, cd.code...)
			b = append(b, ',')
			b = append(b, cd.term...)
			b = append(b, ",,\n"...)
			continue
		}
		o := &observations[e.obs]
		b = append(b, ",observation,,"...)
		b = append(b, o.code...)
		b = append(b, ',')
		b = append(b, o.term...)
		b = append(b, ',')
		if e.obs == obsBMI {
			b = appendTenths(b, int(e.value))
		} else {
			b = appendInt(b, int(e.value))
		}
		b = append(b, ',')
		b = append(b, o.unit...)
		b = append(b, '\n')
	}
	g.b.out[fGPEvents] = b
	g.b.rows[fGPEvents] += int64(len(evs))
	g.gpEvs = evs
}

// --- hospital_admissions and ae_attendances (the acute provider collaborative) ---

const (
	admElective = iota
	admEmergency
	admMaternity
)

var admMethods = [3]string{"elective", "emergency", "maternity"}

const (
	clsOrdinary = iota
	clsDayCase
	clsRegularDay
)

var admClasses = [3]string{"ordinary", "day_case", "regular_day"}

type admission struct {
	day, dis      int32
	method, class uint8
	trust         uint8
	dx            string
	cost          int64 // pence
}

var (
	deptTypes  = [2]string{"type_1", "type_3"}
	arrModes   = [2]string{"walk_in", "ambulance"}
	disposals  = [5]string{"discharged", "admitted", "referred", "left_before_treatment", "transferred"}
	disposalCW = cumulative([]float64{0.70, 0, 0.18, 0.07, 0.05})
)

type aeAttendance struct {
	day                                    int32
	trust, dept, mode, complaint, disposal uint8
}

func (g *gen) trust(home int) uint8 {
	if g.r.Float64() < 0.15 {
		return uint8(1 - home)
	}
	return uint8(home)
}

func (g *gen) acute() {
	p, r := &g.p, g.r
	adms, aes := g.adms[:0], g.aes[:0]
	home := 0
	if g.w.nLSOA > 1 && p.lsoa >= g.w.nLSOA/2 {
		home = 1
	}
	yrs := float64(p.end-p.start+1) / 365.2425
	ageMid := p.fage((p.start + p.end) / 2)
	depr := 1 + 0.07*(5.5-float64(p.imd))

	var rate float64
	switch {
	case ageMid < 5:
		rate = 0.55
	case ageMid < 16:
		rate = 0.3
	case ageMid < 25:
		rate = 0.45
	case ageMid < 65:
		rate = 0.32
	case ageMid < 80:
		rate = 0.45
	default:
		rate = 0.9
	}
	for range poisson(r, rate*depr*p.frailty*yrs) {
		a := aeAttendance{day: between(r, p.start, p.end), trust: g.trust(home)}
		age := p.fage(a.day)
		if r.Float64() < 0.25 || age < 16 && r.Float64() < 0.15 {
			a.dept = 1
		}
		if a.dept == 0 && r.Float64() < math.Min(0.6, 0.1+0.005*math.Max(0, age-40)) {
			a.mode = 1
		}
		cw := aeWeightsAdult
		if age < 16 {
			cw = aeWeightsChild
		} else if age >= 75 {
			cw = aeWeightsOld
		}
		a.complaint = uint8(pick(r, cw))
		pa := 0.0
		if a.dept == 0 {
			pa = math.Min(0.6, 0.08+0.0045*age)
			if a.mode == 1 {
				pa *= 1.4
			}
		}
		if r.Float64() < pa {
			a.disposal = 1
			adms = append(adms, g.emergency(a.day, a.trust, age))
		} else {
			a.disposal = uint8(pick(r, disposalCW))
		}
		aes = append(aes, a)
	}

	// Elective care.
	switch {
	case ageMid < 18:
		rate = 0.03
	case ageMid < 50:
		rate = 0.07
	case ageMid < 65:
		rate = 0.14
	case ageMid < 80:
		rate = 0.25
	default:
		rate = 0.22
	}
	for range poisson(r, rate*(1+0.15*float64(p.ncond))*yrs) {
		a := admission{day: between(r, p.start, p.end), method: admElective, trust: g.trust(home)}
		age := p.fage(a.day)
		if p.has(cCancer) && r.Float64() < 0.3 {
			a.dx = conditions[cCancer].icdAlt
		} else {
			a.dx = g.electiveDx(int(age))
		}
		if r.Float64() < 0.72 {
			a.class = clsDayCase
			a.dis = a.day
			a.cost = int64(75000 * math.Exp(0.35*r.NormFloat64()))
		} else {
			a.class = clsOrdinary
			los := 1 + int32(-2.5*math.Log(1-r.Float64()))
			a.dis = min(p.end, a.day+los)
			a.cost = int64(320000*math.Exp(0.4*r.NormFloat64())) + 35000*int64(max(0, a.dis-a.day-4))
		}
		adms = append(adms, a)
	}
	// Births.
	if p.sex == sexF && ageMid >= 16 && ageMid < 45 {
		for range poisson(r, 0.055*yrs) {
			a := admission{day: between(r, p.start, p.end), method: admMaternity, trust: g.trust(home), dx: "O80.9"}
			if r.Float64() < 0.3 {
				a.dx = "O82.9"
			}
			a.dis = min(p.end, a.day+int32(-1.3*math.Log(1-r.Float64())))
			a.cost = int64(250000 * math.Exp(0.25*r.NormFloat64()))
			adms = append(adms, a)
		}
	}
	// Regular day attenders: chemotherapy courses and dialysis make the heavy tail in counts.
	if p.has(cCancer) && r.Float64() < 0.12 {
		d := between(r, p.start, p.end)
		t := g.trust(home)
		for n := 6 + r.IntN(18); n > 0 && d <= p.end; n-- {
			adms = append(adms, admission{day: d, dis: d, method: admElective, class: clsRegularDay, trust: t,
				dx: "Z51.1", cost: int64(42000 * math.Exp(0.2*r.NormFloat64()))})
			d += 14 + int32(r.IntN(8))
		}
	}
	if p.has(cCKD) && ageMid >= 50 && r.Float64() < 0.02 {
		d := between(r, p.start, p.end)
		t := g.trust(home)
		for n := 50 + r.IntN(250); n > 0 && d <= p.end; n-- {
			adms = append(adms, admission{day: d, dis: d, method: admElective, class: clsRegularDay, trust: t,
				dx: "Z49.1", cost: 18000})
			d += 2 + int32(r.IntN(6))
		}
	}

	sortByDay(adms, func(a *admission) int32 { return a.day })
	sortByDay(aes, func(a *aeAttendance) int32 { return a.day })

	b := g.b.out[fAdmissions]
	for i := range adms {
		a := &adms[i]
		b = g.appendEventStart(b, fAdmissions, trustCodes[a.trust], a.day)
		b = append(b, ',')
		b = appendDate(b, a.dis)
		b = append(b, ',')
		b = append(b, admMethods[a.method]...)
		b = append(b, ',')
		b = append(b, admClasses[a.class]...)
		b = append(b, ',')
		b = append(b, a.dx...)
		b = append(b, ',')
		b = appendInt(b, int(a.dis-a.day))
		b = append(b, ',')
		b = appendPence(b, a.cost)
		b = append(b, '\n')
	}
	g.b.out[fAdmissions] = b
	g.b.rows[fAdmissions] += int64(len(adms))

	b = g.b.out[fAE]
	for i := range aes {
		a := &aes[i]
		b = g.appendEventStart(b, fAE, trustCodes[a.trust], a.day)
		b = append(b, ',')
		b = append(b, deptTypes[a.dept]...)
		b = append(b, ',')
		b = append(b, arrModes[a.mode]...)
		b = append(b, ',')
		b = append(b, aeComplaints[a.complaint]...)
		b = append(b, ',')
		b = append(b, disposals[a.disposal]...)
		b = append(b, '\n')
	}
	g.b.out[fAE] = b
	g.b.rows[fAE] += int64(len(aes))
	g.adms, g.aes = adms, aes
}

func (g *gen) emergency(day int32, trust uint8, age float64) admission {
	p, r := &g.p, g.r
	a := admission{day: day, method: admEmergency, trust: trust}
	if p.ncond > 0 && r.Float64() < 0.45 {
		k := r.IntN(p.ncond)
		for ci := range nConditions {
			if p.has(ci) {
				if k == 0 {
					a.dx = conditions[ci].icd10
					if r.Float64() < 0.3 {
						a.dx = conditions[ci].icdAlt
					}
					break
				}
				k--
			}
		}
	} else {
		a.dx = pickDx(r, emergencyDx, int(age), p.sex)
	}
	m := 3.0
	switch {
	case age < 16:
		m = 1.0
	case age >= 80:
		m = 9.0
	case age >= 65:
		m = 6.0
	}
	los := -m * math.Log(1-r.Float64())
	if r.Float64() < 0.03 {
		los *= 4 + 4*r.Float64()
	}
	a.dis = min(p.end, day+int32(math.Min(365, los)))
	a.class = clsOrdinary
	a.cost = int64(160000*math.Exp(0.45*r.NormFloat64()-0.1)) + 30000*int64(max(0, a.dis-day-2))
	if r.Float64() < 0.015 { // critical care: the heavy tail of costs
		a.cost += int64(2500000 * math.Exp(0.9*r.NormFloat64()))
	}
	return a
}

func (g *gen) electiveDx(age int) string {
	return pickDx(g.r, electiveDx, age, g.p.sex)
}

func pickDx(r *rand.Rand, list []struct {
	icd    string
	minAge int
	w      float64
}, age, sex int) string {
	ok := func(i int) bool {
		d := &list[i]
		if age < d.minAge {
			return false
		}
		switch d.icd {
		case "N40":
			return sex == sexM
		case "D25.9":
			return sex == sexF
		}
		return true
	}
	total := 0.0
	for i := range list {
		if ok(i) {
			total += list[i].w
		}
	}
	if total == 0 {
		return "R69"
	}
	x := r.Float64() * total
	for i := range list {
		if ok(i) {
			x -= list[i].w
			if x < 0 {
				return list[i].icd
			}
		}
	}
	return list[len(list)-1].icd
}

func sortByDay[T any](s []T, day func(*T) int32) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && day(&s[j]) < day(&s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func appendInt64(b []byte, v int64) []byte {
	var d [20]byte
	i := len(d)
	for v >= 10 {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	d[i] = byte('0' + v)
	return append(b, d[i:]...)
}
