package haproxy

import (
	"testing"
)

func TestParseVersion(t *testing.T) {
	for in, want := range map[string][3]int{
		"2.6.12-1+deb12u4":  {2, 6, 12},
		"1.5.18":            {1, 5, 18},
		"3.0-dev4":          {3, 0, 0},
		"2.8.3-1ppa1~jammy": {2, 8, 3},
	} {
		v, err := ParseVersion(in)
		if err != nil || [3]int{v.Major, v.Minor, v.Patch} != want || v.String() != in {
			t.Errorf("ParseVersion(%q) = %+v, %v", in, v, err)
		}
	}
	if _, err := ParseVersion("dev"); err == nil {
		t.Error("ParseVersion(dev): no error")
	}
}
