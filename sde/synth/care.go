package synth

import "math"

// --- community_contacts (community and mental-health trust) ---

var (
	contactTypes = [4]string{"face_to_face", "home_visit", "telephone", "video"}
	attendances  = [3]string{"attended", "did_not_attend", "cancelled"}
)

type contact struct {
	day      int32
	svc      uint8
	typ      uint8
	minutes  uint16
	attended uint8
}

// course adds up to n contacts of one service, starting at day, every gapMin..gapMax days, while
// the person is active.
func (g *gen) course(svc int, day int32, n, gapMin, gapMax int, types []uint8, minMin, minMax int) {
	p, r := &g.p, g.r
	dna := 0.06 + 0.01*(5.5-float64(p.imd))
	for ; n > 0 && day <= p.end; n-- {
		if day >= p.start {
			c := contact{day: day, svc: uint8(svc), typ: types[r.IntN(len(types))]}
			switch x := r.Float64(); {
			case x < dna:
				c.attended = 1
			case x < dna+0.04:
				c.attended = 2
			default:
				c.minutes = uint16(minMin + r.IntN(minMax-minMin+1))
			}
			g.cons = append(g.cons, c)
		}
		day += int32(gapMin + r.IntN(gapMax-gapMin+1))
	}
}

var (
	tHome   = []uint8{1}
	tClinic = []uint8{0, 0, 0, 2}
	tTalk   = []uint8{0, 2, 3, 3}
	tMental = []uint8{0, 0, 1, 2}
)

func (g *gen) community() {
	p, r := &g.p, g.r
	g.cons = g.cons[:0]
	yrs := float64(p.end-p.start+1) / 365.2425
	ageMid := p.fage((p.start + p.end) / 2)
	rnd := func() int32 { return between(r, p.start, p.end) }

	if p.dob >= winStart-900 { // health visiting: new birth, 6-8 weeks, 1 year, 2-2½ years
		for _, d := range []int32{12, 49, 365, 820} {
			g.course(svcHealthVisiting, p.dob+d+int32(r.IntN(14)), 1, 1, 1, tHome, 30, 60)
		}
	}
	if ageMid >= 75 || (ageMid >= 65 && (p.has(cHeartFailure) || p.has(cDementia))) {
		rate := 0.08
		if ageMid >= 85 {
			rate = 0.2
		}
		for range poisson(r, rate*(1+0.2*float64(p.ncond))*yrs) {
			g.course(svcDistrictNursing, rnd(), 2+r.IntN(14), 2, 9, tHome, 15, 45)
		}
	}
	if ageMid >= 18 {
		for range poisson(r, 0.025*(1+0.2*float64(p.ncond))*yrs) {
			g.course(svcPhysio, rnd(), 3+r.IntN(4), 7, 14, []uint8{0, 0, 3}, 30, 45)
		}
	}
	if p.has(cDiabetes) {
		for range poisson(r, 0.35*yrs) {
			g.course(svcPodiatry, rnd(), 1+r.IntN(2), 28, 90, tClinic, 20, 30)
		}
	}
	if p.has(cSMI) {
		g.course(svcCMHT, p.start+int32(r.IntN(40)), 200, 21, 45, tMental, 30, 60)
		for range poisson(r, 0.08*yrs) {
			g.course(svcCrisis, rnd(), 3+r.IntN(8), 1, 2, tMental, 30, 90)
		}
	}
	if ageMid >= 16 {
		rate := 0.004
		if p.has(cDepression) {
			rate = 0.12
		}
		for range poisson(r, rate*yrs) {
			g.course(svcTalkingTherapies, rnd(), 6+r.IntN(7), 7, 10, tTalk, 45, 60)
		}
		if p.has(cDepression) {
			for range poisson(r, 0.01*yrs) {
				g.course(svcCrisis, rnd(), 2+r.IntN(5), 1, 3, tMental, 30, 90)
			}
		}
	}
	if p.has(cDementia) && r.Float64() < 0.6 {
		g.course(svcMemoryClinic, rnd(), 2+r.IntN(3), 14, 42, []uint8{0, 1}, 60, 90)
	}
	if ageMid >= 5 && ageMid < 18 {
		rate := 0.02 * (1 + 0.1*(5.5-float64(p.imd)))
		for range poisson(r, rate*yrs) {
			g.course(svcCAMHS, rnd(), 3+r.IntN(8), 14, 21, tMental, 45, 60)
		}
	}
	if (ageMid >= 2 && ageMid < 9) || p.has(cStroke) && r.Float64() < 0.3 || p.has(cLearningDisability) {
		rate := 0.03
		if p.has(cStroke) || p.has(cLearningDisability) {
			rate = 0.15
		}
		for range poisson(r, rate*yrs) {
			g.course(svcSpeechLanguage, rnd(), 3+r.IntN(4), 7, 21, tClinic, 30, 45)
		}
	}
	cons := g.cons
	sortByDay(cons, func(c *contact) int32 { return c.day })
	b := g.b.out[fCommunity]
	for i := range cons {
		c := &cons[i]
		b = g.appendEventStart(b, fCommunity, serviceNames[c.svc], c.day)
		b = append(b, ',')
		b = append(b, contactTypes[c.typ]...)
		b = append(b, ',')
		if c.attended == 0 {
			b = appendInt(b, int(c.minutes))
		}
		b = append(b, ',')
		b = append(b, attendances[c.attended]...)
		b = append(b, '\n')
	}
	g.b.out[fCommunity] = b
	g.b.rows[fCommunity] += int64(len(cons))
}

// --- social_care (local authority) ---

func (g *gen) socialCare() {
	p, r := &g.p, g.r
	ageMid := p.fage((p.start + p.end) / 2)
	if ageMid < 18 {
		return
	}
	var pr float64
	switch {
	case ageMid < 65:
		pr = 0.008
	case ageMid < 75:
		pr = 0.03
	case ageMid < 85:
		pr = 0.08
	default:
		pr = 0.22
	}
	if p.has(cSMI) {
		pr = math.Max(pr, 0.15)
	}
	if p.has(cDementia) {
		pr = math.Max(pr, 0.45)
	}
	if p.has(cLearningDisability) {
		pr = math.Max(pr, 0.6)
	}
	if r.Float64() >= pr*(1+0.1*(5.5-float64(p.imd))/4.5) {
		return
	}
	// About 15% of local-authority client records carry no NHS number.
	noNHS := r.Float64() < 0.15
	reason := 0
	switch {
	case p.has(cLearningDisability):
		reason = 2
	case p.has(cDementia):
		reason = 1
	case p.has(cSMI):
		reason = 3
	default:
		switch x := r.Float64(); {
		case x < 0.75:
			reason = 0
		case x < 0.83:
			reason = 4
		default:
			reason = 5
		}
	}
	client := g.w.clientID(p.idx)
	b := g.b.out[fSocialCare]
	for n := 1 + poisson(r, 0.8); n > 0; n-- {
		var svc int
		switch {
		case reason == 2:
			svc = []int{3, 3, 4, 5}[r.IntN(4)]
		case reason == 3:
			svc = []int{0, 3, 4, 5}[r.IntN(4)]
		case reason == 1 && ageMid >= 75:
			svc = []int{0, 0, 1, 2, 2, 8}[r.IntN(6)]
		case ageMid >= 85:
			svc = []int{0, 0, 0, 1, 2, 6, 7}[r.IntN(7)]
		default:
			svc = []int{0, 0, 4, 5, 6, 7, 7}[r.IntN(7)]
		}
		s := &careServices[svc]
		start := between(r, p.start, p.end)
		var end int32
		switch {
		case s.weeks > 0:
			end = min(p.end, start+int32(s.weeks*7+r.IntN(s.weeks*4+1)))
		case p.end < refDay || r.Float64() < 0.5:
			end = between(r, min(p.end, start+28), p.end)
		}
		cost := s.min + r.Int64N(s.max-s.min+1)
		kind := g.dirtyKind(fSocialCare, !noNHS)
		b = append(b, "RCC"...)
		b = append(b, byte('0'+client/1000000), byte('0'+client/100000%10), byte('0'+client/10000%10),
			byte('0'+client/1000%10), byte('0'+client/100%10), byte('0'+client/10%10), byte('0'+client%10), ',')
		if !noNHS {
			b = g.appendNHS(b, kind)
		}
		b = append(b, ',')
		b = append(b, supportReasons[reason]...)
		b = append(b, ',')
		b = append(b, s.name...)
		b = append(b, ',')
		b = g.appendEventDate(b, start, kind)
		b = append(b, ',')
		if end != 0 {
			b = appendDate(b, end)
		}
		b = append(b, ',')
		b = appendPence(b, cost)
		b = append(b, '\n')
		g.b.rows[fSocialCare]++
	}
	g.b.out[fSocialCare] = b
}

// --- vcse_contacts (voluntary sector alliance) ---

var (
	vcseTypes    = cumulative([]float64{0.55, 0.30, 0.10, 0.05})
	vcseTypeName = [4]string{"face_to_face", "telephone", "group", "online"}
	referrals    = cumulative([]float64{0.35, 0.35, 0.10, 0.08, 0.12})
	referralName = [5]string{"gp", "self", "local_authority", "hospital", "other_vcse"}
)

func (g *gen) vcse() {
	p, r := &g.p, g.r
	ageMid := p.fage((p.start + p.end) / 2)
	if ageMid < 11 {
		return
	}
	pr := 0.03 + 0.03*(10-float64(p.imd))/9
	carer := ageMid >= 18 && r.Float64() < 0.04
	if carer {
		pr += 0.3
	}
	if ageMid >= 75 {
		pr += 0.05
	}
	if p.has(cDepression) || p.has(cSMI) {
		pr += 0.06
	}
	if p.ncond >= 2 {
		pr += 0.04
	}
	if r.Float64() >= pr {
		return
	}
	// The alliance's members often record a name and postcode but not an NHS number.
	noNHS := r.Float64() < 0.4
	b := g.b.out[fVCSE]
	for n := 1 + poisson(r, 0.4); n > 0; n-- {
		var svc int
		switch x := r.Float64(); {
		case carer && x < 0.6:
			svc = 1
		case ageMid < 25 && x < 0.6:
			svc = 7
		case ageMid >= 70 && x < 0.5:
			svc = []int{2, 6}[r.IntN(2)]
		case (p.has(cDepression) || p.has(cSMI)) && x < 0.5:
			svc = 5
		case p.imd <= 3 && x < 0.5:
			svc = []int{3, 4}[r.IntN(2)]
		default:
			svc = []int{0, 0, 0, 3, 2}[r.IntN(5)]
		}
		s := &vcseServices[svc]
		ref := pick(r, referrals)
		if svc == 0 {
			ref = 0
		}
		day := between(r, p.start, p.end)
		for k := 1 + poisson(r, 3); k > 0 && day <= p.end; k-- {
			kind := g.dirtyKind(fVCSE, !noNHS)
			if !noNHS {
				b = g.appendNHS(b, kind)
			}
			b = append(b, ',')
			b = append(b, s.org...)
			b = append(b, ',')
			b = append(b, s.name...)
			b = append(b, ',')
			b = g.appendEventDate(b, day, kind)
			b = append(b, ',')
			b = append(b, vcseTypeName[pick(r, vcseTypes)]...)
			b = append(b, ',')
			b = append(b, referralName[ref]...)
			b = append(b, ',')
			b = g.postcode(b)
			b = append(b, '\n')
			g.b.rows[fVCSE]++
			day += int32(7 + r.IntN(15))
		}
	}
	g.b.out[fVCSE] = b
}
