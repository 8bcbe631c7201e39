// Package watch runs the watch window of deploy_watch: after a host is back
// in rotation, it reads every configured signal each interval and stops at
// the first one that crosses its threshold.
package watch

import "context"

// Signal is one source the watch reads: a HAProxy server's counters, a
// target's health in a cloud load balancer, CloudWatch alarms, an HTTP
// probe of the host.
type Signal interface {
	// Name names the signal in messages: "haproxy backend web, server
	// app-2", "target group web", "probe http://10.0.0.2/".
	Name() string
	// Start takes the first reading: the counters the window starts from.
	Start(ctx context.Context) error
	// Check takes one reading and judges it against the thresholds.
	Check(ctx context.Context) (Finding, error)
	// Report is what the signal saw over the window, for the result.
	Report() map[string]any
}

// Finding is the verdict of one Check. Msg names the signal, the threshold
// option, its value and the numbers that crossed it.
type Finding struct {
	Failed bool
	Msg    string
}
