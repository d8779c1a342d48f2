package synth

import "math/rand/v2"

// Long-term conditions (QOF-like registers). Codes are SNOMED CT concept identifiers as used in
// UK primary care where a well-known one exists; they illustrate, they are not a clinical reference.
const (
	cHypertension = iota
	cDiabetes
	cCOPD
	cAsthma
	cDepression
	cDementia
	cCKD
	cHeartFailure
	cAF
	cCancer
	cCHD
	cStroke
	cEpilepsy
	cLearningDisability
	cSMI
	cSickleCell
	nConditions
)

type code struct{ code, term string }

type condition struct {
	key string
	// prev: prevalence at ages 0, 10, .. 90 (interpolated linearly; 90+ flat).
	prev [10]float64
	// depr: relative excess in the most deprived decile (and deficit in the least).
	depr   float64
	onset  int // youngest age at diagnosis
	codes  []code
	icd10  string // emergency admission diagnosis for an exacerbation
	icdAlt string
}

var conditions = [nConditions]condition{
	cHypertension: {"hypertension", [10]float64{0, 0, 0.01, 0.03, 0.08, 0.17, 0.30, 0.45, 0.58, 0.62}, 0.15, 18,
		[]code{{"59621000", "Essential hypertension"}}, "I10", "R55"},
	cDiabetes: {"diabetes", [10]float64{0.001, 0.002, 0.005, 0.015, 0.04, 0.08, 0.13, 0.18, 0.20, 0.17}, 0.35, 1,
		[]code{{"44054006", "Type 2 diabetes mellitus"}, {"46635009", "Type 1 diabetes mellitus"}}, "E11.9", "E16.2"},
	cCOPD: {"copd", [10]float64{0, 0, 0, 0.002, 0.006, 0.015, 0.035, 0.06, 0.08, 0.07}, 0.6, 35,
		[]code{{"13645005", "Chronic obstructive pulmonary disease"}}, "J44.1", "J44.0"},
	cAsthma: {"asthma", [10]float64{0.05, 0.09, 0.08, 0.07, 0.065, 0.065, 0.065, 0.07, 0.07, 0.06}, 0.15, 2,
		[]code{{"195967001", "Asthma"}}, "J45.9", "J46"},
	cDepression: {"depression", [10]float64{0, 0.003, 0.10, 0.14, 0.15, 0.15, 0.13, 0.11, 0.10, 0.10}, 0.3, 12,
		[]code{{"35489007", "Depressive disorder"}}, "F32.9", "F33.2"},
	cDementia: {"dementia", [10]float64{0, 0, 0, 0, 0.0005, 0.002, 0.006, 0.025, 0.09, 0.22}, 0.15, 45,
		[]code{{"52448006", "Dementia"}, {"26929004", "Alzheimer's disease"}}, "F03", "N39.0"},
	cCKD: {"ckd", [10]float64{0, 0, 0.001, 0.003, 0.008, 0.02, 0.05, 0.11, 0.22, 0.32}, 0.2, 18,
		[]code{{"709044004", "Chronic kidney disease"}}, "N17.9", "N18.4"},
	cHeartFailure: {"heart_failure", [10]float64{0, 0, 0, 0.001, 0.003, 0.007, 0.015, 0.035, 0.07, 0.11}, 0.3, 30,
		[]code{{"84114007", "Heart failure"}}, "I50.0", "I50.9"},
	cAF: {"atrial_fibrillation", [10]float64{0, 0, 0, 0.001, 0.003, 0.008, 0.025, 0.06, 0.12, 0.17}, 0, 30,
		[]code{{"49436004", "Atrial fibrillation"}}, "I48.9", "I48.0"},
	cCancer: {"cancer", [10]float64{0.001, 0.001, 0.003, 0.006, 0.012, 0.025, 0.05, 0.09, 0.13, 0.14}, 0.05, 1,
		[]code{{"363346000", "Malignant neoplastic disease"}, {"254837009", "Malignant neoplasm of breast"},
			{"363358000", "Malignant tumour of lung"}, {"363406005", "Malignant neoplasm of colon"},
			{"399068003", "Malignant tumour of prostate"}}, "C34.9", "C18.9"},
	cCHD: {"coronary_heart_disease", [10]float64{0, 0, 0, 0.001, 0.006, 0.02, 0.05, 0.09, 0.14, 0.16}, 0.35, 30,
		[]code{{"53741008", "Coronary arteriosclerosis"}}, "I21.9", "I20.0"},
	cStroke: {"stroke", [10]float64{0, 0, 0.001, 0.002, 0.004, 0.01, 0.02, 0.04, 0.07, 0.09}, 0.3, 20,
		[]code{{"230690007", "Cerebrovascular accident"}}, "I63.9", "G45.9"},
	cEpilepsy: {"epilepsy", [10]float64{0.004, 0.007, 0.008, 0.008, 0.008, 0.008, 0.008, 0.008, 0.008, 0.008}, 0.2, 0,
		[]code{{"84757009", "Epilepsy"}}, "G40.9", "R56.8"},
	cLearningDisability: {"learning_disability", [10]float64{0.005, 0.007, 0.007, 0.006, 0.006, 0.005, 0.004, 0.003, 0.002, 0.001}, 0.2, 0,
		[]code{{"110359009", "Intellectual disability"}}, "J69.0", "G40.9"},
	cSMI: {"serious_mental_illness", [10]float64{0, 0, 0.005, 0.01, 0.012, 0.012, 0.011, 0.009, 0.008, 0.007}, 0.5, 14,
		[]code{{"58214004", "Schizophrenia"}, {"13746004", "Bipolar disorder"}}, "F20.9", "F31.9"},
	cSickleCell: {"sickle_cell_disease", [10]float64{0.00002, 0.00002, 0.00002, 0.00002, 0.00002, 0.00002, 0.00002, 0.00002, 0.00002, 0.00002}, 0, 0,
		[]code{{"417357006", "Sickling disorder due to haemoglobin S"}}, "D57.0", "D57.1"},
}

// ConditionKeys lists the condition names used in gp_events.condition, in a fixed order.
func ConditionKeys() []string {
	k := make([]string, nConditions)
	for i, c := range conditions {
		k[i] = c.key
	}
	return k
}

func (c *condition) prevalence(age float64) float64 {
	if age <= 0 {
		return c.prev[0]
	}
	if age >= 90 {
		return c.prev[9]
	}
	i := int(age / 10)
	f := age/10 - float64(i)
	return c.prev[i]*(1-f) + c.prev[i+1]*f
}

// assignConditions decides which registers a person is on at the reference date; prevalence rises
// with age and deprivation, and some conditions cluster.
func (w *world) assignConditions(r *rand.Rand, p *person, age float64) {
	for ci := range nConditions {
		c := &conditions[ci]
		if age < float64(c.onset) {
			continue
		}
		pr := c.prevalence(age) * (1 + c.depr*(5.5-float64(p.imd))/4.5)
		switch ci {
		case cAF, cCHD:
			if p.sex == sexM {
				pr *= 1.3
			} else {
				pr *= 0.75
			}
		case cDepression:
			if p.sex == sexF {
				pr *= 1.35
			} else {
				pr *= 0.7
			}
		case cDiabetes:
			if p.sAsian() {
				pr *= 2.2
			} else if p.black() {
				pr *= 1.6
			}
		case cHypertension:
			if p.black() {
				pr *= 1.3
			}
		case cCKD:
			if p.has(cDiabetes) || p.has(cHypertension) {
				pr *= 2
			}
		case cHeartFailure:
			if p.has(cCHD) || p.has(cHypertension) {
				pr *= 2.5
			}
		case cStroke:
			if p.has(cAF) || p.has(cHypertension) {
				pr *= 1.8
			}
		case cSickleCell:
			switch ethnicities[p.eth].code {
			case "black_african", "black_caribbean", "black_other":
				pr *= 150
			case "mixed_white_black_caribbean", "mixed_white_black_african":
				pr *= 30
			}
		}
		if r.Float64() < pr {
			p.conds |= 1 << ci
			p.ncond++
		}
	}
}

// Observations recorded in gp_events.
const (
	obsSystolic = iota
	obsBMI
	obsHbA1c
	nObs
)

var observations = [nObs]struct{ code, term, unit string }{
	{"271649006", "Systolic blood pressure", "mm[Hg]"},
	{"60621009", "Body mass index", "kg/m2"},
	{"999791000000106", "Haemoglobin A1c level - IFCC standardised", "mmol/mol"},
}

// Hospital diagnoses (ICD-10) for admissions not driven by a long-term condition.
var (
	emergencyDx = []struct {
		icd    string
		minAge int
		w      float64
	}{
		{"J18.9", 0, 6}, {"N39.0", 0, 4}, {"R07.4", 16, 6}, {"R10.4", 0, 6}, {"L03.1", 0, 3},
		{"S72.0", 65, 3}, {"W19", 70, 3}, {"K35.8", 5, 2}, {"J06.9", 0, 4}, {"A09", 0, 3},
		{"R55", 16, 2}, {"S06.0", 0, 2}, {"T39.1", 12, 1}, {"K80.2", 20, 2}, {"I26.9", 30, 1},
	}
	electiveDx = []struct {
		icd    string
		minAge int
		w      float64
	}{
		{"H25.9", 55, 6}, {"M17.9", 50, 3}, {"M16.9", 50, 2}, {"K80.2", 25, 3}, {"K57.3", 40, 3},
		{"K63.5", 40, 3}, {"N40", 50, 2}, {"D25.9", 30, 2}, {"K40.9", 18, 3}, {"J35.0", 2, 2},
		{"I25.1", 45, 2}, {"M75.1", 35, 2}, {"G56.0", 30, 2},
	}
)

var (
	aeComplaints = []string{"injury", "chest_pain", "breathing", "abdominal_pain", "fall", "fever_infection",
		"mental_health", "neurological", "cardiovascular_other", "eye", "poisoning", "other"}
	aeWeightsChild = cumulative([]float64{30, 1, 18, 10, 4, 22, 2, 4, 0.5, 2, 2, 4.5})
	aeWeightsAdult = cumulative([]float64{28, 10, 8, 12, 4, 8, 7, 6, 3, 3, 3, 8})
	aeWeightsOld   = cumulative([]float64{10, 12, 14, 9, 20, 10, 2, 9, 6, 1, 1, 6})
)

// Community and mental-health services of the community trust.
const (
	svcDistrictNursing = iota
	svcPhysio
	svcPodiatry
	svcHealthVisiting
	svcCMHT
	svcTalkingTherapies
	svcMemoryClinic
	svcCAMHS
	svcCrisis
	svcSpeechLanguage
	nServices
)

var serviceNames = [nServices]string{"district_nursing", "community_physiotherapy", "podiatry", "health_visiting",
	"community_mental_health_team", "talking_therapies", "memory_assessment", "camhs", "crisis_resolution",
	"speech_and_language_therapy"}

// Adult social care.
var (
	supportReasons = []string{"physical_support", "memory_and_cognition", "learning_disability_support",
		"mental_health_support", "sensory_support", "social_support"}
	careServices = []struct {
		name     string
		min, max int64 // weekly cost range, pence
		weeks    int   // typical length; 0 = long-term
	}{
		{"home_care", 18000, 65000, 0},
		{"residential_care", 90000, 140000, 0},
		{"nursing_care", 110000, 170000, 0},
		{"supported_living", 90000, 260000, 0},
		{"direct_payment", 15000, 70000, 0},
		{"day_care", 8000, 25000, 0},
		{"reablement", 25000, 45000, 6},
		{"equipment_and_adaptations", 500, 3000, 12},
		{"carer_respite", 40000, 90000, 2},
	}
)

// Voluntary, community and social enterprise services; each is run by one alliance member.
var vcseServices = []struct{ name, org string }{
	{"social_prescribing", "Riverside Social Prescribing Link"},
	{"carers_support", "Riverside Carers Centre"},
	{"befriending", "Riverside Later Life Trust"},
	{"welfare_and_debt_advice", "Riverside Money and Welfare Advice"},
	{"food_support", "Northbank Food Hub"},
	{"mental_health_peer_support", "Riverside Mind Matters"},
	{"falls_prevention_exercise", "Riverside Later Life Trust"},
	{"youth_support", "Northbank Youth Project"},
}

var (
	givenF = []string{"Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Sophia", "Lily", "Emily", "Freya",
		"Ella", "Poppy", "Florence", "Evie", "Charlotte", "Margaret", "Susan", "Patricia", "Elizabeth", "Jean",
		"Sarah", "Helen", "Joanne", "Karen", "Amira", "Fatima", "Aisha", "Priya", "Zara", "Chloe", "Hannah",
		"Maria", "Anna", "Niamh", "Ruth", "Dorothy", "Joan", "Sandra", "Julie", "Nicola"}
	givenM = []string{"Oliver", "George", "Noah", "Arthur", "Muhammad", "Leo", "Harry", "Oscar", "Jack", "Henry",
		"Theo", "Freddie", "Charlie", "Alfie", "Thomas", "David", "John", "Michael", "Peter", "Robert", "Paul",
		"Andrew", "Mark", "Stephen", "Ali", "Hassan", "Ibrahim", "Arjun", "Kwame", "Tomasz", "James", "William",
		"Daniel", "Samuel", "Ryan", "Kevin", "Brian", "Alan", "Keith", "Gareth"}
	familyNames = []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
		"Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Thomas", "Clarke",
		"Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper", "Hill", "Ward", "Hughes", "Moore",
		"Clark", "King", "Harrison", "Lewis", "Baker", "Lee", "Allen", "Morris", "Khan", "Ahmed", "Ali", "Begum",
		"Hussain", "Singh", "Kaur", "Okafor", "Mensah", "Nowak", "Kowalski", "Murphy", "Kelly", "O'Brien",
		"Campbell", "Stewart", "Scott", "Young", "Mitchell", "Bailey", "Chen"}
	streets     = []string{"Mill", "Church", "Station", "Victoria", "Park", "Riverside", "Chapel", "Albert", "Queens", "Kings", "Grange", "Meadow", "Orchard", "Willow", "Ferry", "Canal", "Northbank", "Weavers", "Foundry", "Wharf", "Beech", "Elm", "Oak", "Hawthorn", "Priory", "Castle", "Bridge", "Market", "Tannery", "Ropewalk"}
	streetTypes = []string{"Road", "Street", "Lane", "Avenue", "Close", "Way", "Drive", "Grove", "Crescent", "Terrace"}
	// Inward-code unit letters never include C, I, K, M, O or V.
	unitLetters = "ABDEFGHJLNPQRSTUWXYZ"
)
