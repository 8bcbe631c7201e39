package haproxymaint

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// weightSpec is the weight option: absolute (0-256) or a percentage of the
// server's initial weight.
type weightSpec struct {
	value   int
	percent bool
}

func (w weightSpec) String() string {
	if w.percent {
		return strconv.Itoa(w.value) + "%"
	}
	return strconv.Itoa(w.value)
}

// absolute is the weight HAProxy will set, computed as it does
// (server_parse_weight_change_request): iweight*N/100, capped at 256.
func (w weightSpec) absolute(initial int) int {
	if !w.percent {
		return w.value
	}
	return min(initial*min(w.value, 25600)/100, 256)
}

func parseWeight(v any) (*weightSpec, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case float64:
		if x != math.Trunc(x) {
			return nil, fmt.Errorf("weight must be a whole number or a percentage like 50%%, got %v", x)
		}
		s = strconv.Itoa(int(x))
	case string:
		s = strings.TrimSpace(x)
	default:
		return nil, fmt.Errorf("weight must be a number (0-256) or a percentage like 50%%, got %v", v)
	}
	w := &weightSpec{}
	if strings.HasSuffix(s, "%") {
		w.percent = true
		s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("weight must be a number (0-256) or a percentage like 50%%, got %q", v)
	case n < 0:
		return nil, fmt.Errorf("weight must not be negative, got %v", v)
	case !w.percent && n > 256:
		return nil, fmt.Errorf("weight %d is above HAProxy's maximum of 256; use 0-256 or a percentage", n)
	}
	w.value = n
	return w, nil
}
