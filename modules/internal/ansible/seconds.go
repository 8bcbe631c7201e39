package ansible

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// MaxSeconds is the longest time a module's timeout or interval option
// accepts: a year, far beyond any wait a deploy needs, and far below
// where a time.Duration overflows (292 years) and would turn negative.
const MaxSeconds = 365 * 24 * 3600

// CheckSeconds returns an error naming option when v, a number of seconds,
// is not positive or is longer than MaxSeconds.
func CheckSeconds(option string, v float64) error {
	switch {
	case !(v > 0): // also NaN
		return fmt.Errorf("%s must be a positive number of seconds, got %s", option, formatSeconds(v))
	case v > MaxSeconds:
		return fmt.Errorf("%s must be at most %d seconds (a year), got %s", option, MaxSeconds, formatSeconds(v))
	}
	return nil
}

func formatSeconds(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Seconds converts a number of seconds that passed CheckSeconds.
func Seconds(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }

// RoundSeconds is how results give a duration: seconds to the millisecond.
func RoundSeconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }
