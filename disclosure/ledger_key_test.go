package disclosure

import "testing"

func TestFingerprintKey(t *testing.T) {
	a := Fingerprint{Sources: []string{"p@v1", "e@v2"}, Grouping: []string{"x", "y"}, Filters: []string{"a = 1"}}
	b := Fingerprint{Sources: []string{"e@v2", "p@v1"}, Grouping: []string{"y", "x"}, Filters: []string{"a = 1", "b = 2"}, Measures: []string{"count"}}
	if a.Key() != b.Key() || !a.Differences(b) {
		t.Errorf("comparable results have different keys: %s %s", a.Key(), b.Key())
	}
	for _, c := range []Fingerprint{
		{Sources: []string{"p@v2", "e@v2"}, Grouping: []string{"x", "y"}},
		{Sources: []string{"p@v1\x00e@v2"}, Grouping: []string{"x", "y"}},
	} {
		if c.Key() == a.Key() {
			t.Errorf("%+v shares a key with %+v", c, a)
		}
	}
}
