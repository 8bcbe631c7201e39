package watch

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Thresholds are the limits a window judges its signals against; each
// field is the deploy_watch option of the same name.
type Thresholds struct {
	MaxErrorRatio   float64
	MaxLatencyRatio float64
	MinRequests     int
	MaxCheckFlaps   int
	// LatencyFloor is latency_floor: a response time below it is not
	// judged, since 1 ms against 3 ms is noise, not a slow release.
	LatencyFloor time.Duration
}

// Errors judges failed of total requests (or sessions, or probes: unit)
// against max_error_ratio, once total reaches min_requests. detail breaks
// failed down ("23 5xx, 0 response errors").
func (t Thresholds) Errors(failed, total int, unit, detail string) Finding {
	if total < t.MinRequests || total <= 0 {
		return Finding{}
	}
	r := float64(failed) / float64(total)
	if r <= t.MaxErrorRatio {
		return Finding{}
	}
	if detail != "" {
		detail = ": " + detail
	}
	return Finding{Failed: true, Msg: fmt.Sprintf("%d of %d %s failed (%.1f %%%s), above max_error_ratio %g",
		failed, total, unit, 100*r, detail, t.MaxErrorRatio)}
}

// Latency judges got against base × max_latency_ratio. what says what got
// is ("response time"), against what base is ("the 40 ms median of the
// other servers"). Below latency_floor, and without a base, it is not
// judged.
func (t Thresholds) Latency(what string, got, base time.Duration, against string) Finding {
	if got < t.LatencyFloor || base <= 0 {
		return Finding{}
	}
	r := float64(got) / float64(base)
	if r <= t.MaxLatencyRatio {
		return Finding{}
	}
	return Finding{Failed: true, Msg: fmt.Sprintf("%s %s is %.1f times %s (%s), above max_latency_ratio %g",
		what, Millis(got), r, against, Millis(base), t.MaxLatencyRatio)}
}

// Flaps judges a count of health check failures against max_check_flaps.
func (t Thresholds) Flaps(n int, what string) Finding {
	if n <= t.MaxCheckFlaps {
		return Finding{}
	}
	times := "times"
	if n == 1 {
		times = "time"
	}
	return Finding{Failed: true, Msg: fmt.Sprintf("%s %d %s in the window, above max_check_flaps %d", what, n, times, t.MaxCheckFlaps)}
}

// Millis says a duration in whole milliseconds, or to 0.1 ms below 10 ms.
func Millis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// Median of xs (which it sorts); 0 for none.
func Median[T ~int | ~int64 | ~float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// Percentile is the nearest-rank p-th percentile of xs (which it sorts).
func Percentile[T ~int | ~int64 | ~float64](xs []T, p float64) T {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	i := int(float64(len(xs))*p/100+0.999999) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// List joins names for a message: "web1, web3".
func List(names []string) string { return strings.Join(names, ", ") }
