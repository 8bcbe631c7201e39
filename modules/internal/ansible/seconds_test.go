package ansible

import (
	"math"
	"testing"
	"time"
)

func TestCheckSeconds(t *testing.T) {
	tests := []struct {
		v    float64
		want string // "" for no error
	}{
		{0.02, ""},
		{300, ""},
		{MaxSeconds, ""},
		{0, "timeout must be a positive number of seconds, got 0"},
		{-5, "timeout must be a positive number of seconds, got -5"},
		{math.NaN(), "timeout must be a positive number of seconds, got NaN"},
		{MaxSeconds + 1, "timeout must be at most 31536000 seconds (a year), got 31536001"},
		{1e10, "timeout must be at most 31536000 seconds (a year), got 10000000000"},
		{math.Inf(1), "timeout must be at most 31536000 seconds (a year), got +Inf"},
	}
	for _, tt := range tests {
		err := CheckSeconds("timeout", tt.v)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("CheckSeconds(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestSeconds(t *testing.T) {
	for v, want := range map[float64]time.Duration{0.2: 200 * time.Millisecond, 1.5: 1500 * time.Millisecond, MaxSeconds: 365 * 24 * time.Hour} {
		if got := Seconds(v); got != want {
			t.Errorf("Seconds(%v) = %v, want %v", v, got, want)
		}
	}
}

func TestRoundSeconds(t *testing.T) {
	for d, want := range map[time.Duration]float64{
		0: 0, 1234567 * time.Microsecond: 1.235, 1499 * time.Microsecond: 0.001, 90 * time.Second: 90,
	} {
		if got := RoundSeconds(d); got != want {
			t.Errorf("RoundSeconds(%s) = %v, want %v", d, got, want)
		}
	}
}
