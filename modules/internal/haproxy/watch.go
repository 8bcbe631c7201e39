package haproxy

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/watch"
)

// WatchSignal is deploy_watch's view of one HAProxy server: its counters
// from `show stat` since the window began, judged against the thresholds.
type WatchSignal struct {
	c               *Client
	backend, server string
	th              watch.Thresholds

	mu          sync.Mutex
	first, last Stat
	resets      int
	others      map[string]int // the other UP servers' rtime at the last reading
}

var _ watch.Signal = (*WatchSignal)(nil)

// NewWatchSignal watches server of backend through c.
func NewWatchSignal(c *Client, backend, server string, th watch.Thresholds) (*WatchSignal, error) {
	if err := checkNames(backend, server); err != nil {
		return nil, err
	}
	return &WatchSignal{c: c, backend: backend, server: server, th: th}, nil
}

// Name is "haproxy backend web, server app-2".
func (w *WatchSignal) Name() string {
	return fmt.Sprintf("haproxy backend %s, server %s", w.backend, w.server)
}

// Find reads the server's row now; an error names what is missing.
func (w *WatchSignal) Find(ctx context.Context) (Stat, []Stat, error) {
	stats, err := w.c.Stats(ctx)
	if err != nil {
		return Stat{}, nil, err
	}
	var backend []Stat
	for _, s := range stats {
		if s.Backend == w.backend {
			backend = append(backend, s)
		}
	}
	for i, s := range backend {
		if s.Server == w.server {
			return s, append(backend[:i:i], backend[i+1:]...), nil
		}
	}
	if len(backend) == 0 {
		return Stat{}, nil, fmt.Errorf("HAProxy at %s has no backend %q", w.c.Path(), w.backend)
	}
	return Stat{}, nil, fmt.Errorf("backend %s has no server %q", w.backend, w.server)
}

// Start takes the counters the window starts from.
func (w *WatchSignal) Start(ctx context.Context) error {
	s, _, err := w.Find(ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.first, w.last = s, s
	return nil
}

// Check judges the counters since Start: the server's state, its health
// check going down, its failed requests, its response time against the
// other servers of the backend.
func (w *WatchSignal) Check(ctx context.Context) (watch.Finding, error) {
	s, others, err := w.Find(ctx)
	if err != nil {
		return watch.Finding{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// Counters going back mean HAProxy restarted (a reload without
	// stats carried over): the window goes on from the new counters.
	if s.Requests < w.last.Requests || s.Total < w.last.Total || s.CheckDowns < w.last.CheckDowns {
		w.resets++
		w.first = s
	}
	w.last = s
	w.others = map[string]int{}
	for _, o := range others {
		if o.Up() && o.RespTime > 0 {
			w.others[o.Server] = o.RespTime
		}
	}

	if notServing(s) {
		msg := fmt.Sprintf("the server went %s during the window", s.Status)
		if notServing(w.first) {
			msg = fmt.Sprintf("the server was %s when the window began: put it back into rotation before the watch", w.first.Status)
		}
		if s.CheckFailed() {
			msg += ", last health check " + s.CheckReason()
		}
		return watch.Finding{Failed: true, Msg: msg}, nil
	}
	if f := w.th.Flaps(s.CheckDowns-w.first.CheckDowns, "health checks took the server down"); f.Failed {
		return f, nil
	}
	total, failed, detail := w.errors()
	unit := "requests"
	if s.Mode == "tcp" {
		unit = "sessions"
	}
	if f := w.th.Errors(failed, total, unit, detail); f.Failed {
		return f, nil
	}
	if s.Mode == "http" && total >= w.th.MinRequests {
		base, names := w.othersMedian()
		against := "the median rtime of the other servers " + watch.List(names)
		if f := w.th.Latency("its response time over the window", windowRespTime(w.first, s), base, against); f.Failed {
			return f, nil
		}
	}
	return watch.Finding{}, nil
}

// notServing tells whether s takes no new traffic: down, drained or in
// maintenance.
func notServing(s Stat) bool {
	st := strings.ToUpper(s.Status)
	return strings.HasPrefix(st, "MAINT") || strings.HasPrefix(st, "DRAIN") || strings.HasPrefix(st, "DOWN") || strings.HasPrefix(st, "NOLB")
}

// errors counts requests and failed ones since the window began: HTTP
// requests (req_tot), or sessions in tcp mode (stot).
func (w *WatchSignal) errors() (total, failed int, detail string) {
	s, f := w.last, w.first
	total = s.Requests - f.Requests
	if s.Mode == "tcp" {
		total = s.Total - f.Total
	}
	x5, er, ec := s.Resp5xx-f.Resp5xx, s.RespErrors-f.RespErrors, s.ConnErrors-f.ConnErrors
	return total, x5 + er + ec, fmt.Sprintf("%d 5xx, %d response errors, %d connection errors", x5, er, ec)
}

// timeSamples is how many responses HAProxy's rtime averages over
// (TIME_STATS_SAMPLES): each response moves it by 1/512 of the difference.
// The docs of older versions say 1024; 2.6 moves by 1/512, as measured.
const timeSamples = 512

// windowRespTime estimates the server's mean response time over the window
// from rtime at its start and now. rtime is a sliding average: k responses
// of mean v take it from r0 to r0·d + v·(1-d), d = (1-1/512)^k, so a slow
// release that served a history of fast responses before its drain shows
// only slowly in rtime, and at once in v. A young server (fewer than 512
// responses when the window began) has rtime averaged over its short life,
// mostly the window, and is taken as it is.
func windowRespTime(first, last Stat) time.Duration {
	k := (last.Requests - first.Requests) - (last.RespErrors - first.RespErrors) - (last.ConnErrors - first.ConnErrors)
	if k <= 0 || first.Requests < timeSamples {
		return time.Duration(last.RespTime) * time.Millisecond
	}
	d := math.Pow(1-1.0/timeSamples, float64(k))
	v := (float64(last.RespTime) - float64(first.RespTime)*d) / (1 - d)
	return time.Duration(max(v, 0) * float64(time.Millisecond))
}

func (w *WatchSignal) othersMedian() (time.Duration, []string) {
	var names []string
	var ts []int
	for n, t := range w.others {
		names = append(names, n)
		ts = append(ts, t)
	}
	slices.Sort(names)
	return time.Duration(watch.Median(ts)) * time.Millisecond, names
}

// Report is what the window saw of the server.
func (w *WatchSignal) Report() map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, f := w.last, w.first
	total, failed, _ := w.errors()
	base, names := w.othersMedian()
	return map[string]any{
		"kind": "haproxy", "backend": w.backend, "server": w.server, "status": s.Status,
		"requests": total, "failed": failed,
		"hrsp_5xx": s.Resp5xx - f.Resp5xx, "eresp": s.RespErrors - f.RespErrors, "econ": s.ConnErrors - f.ConnErrors,
		"check_downs": s.CheckDowns - f.CheckDowns,
		"rtime_ms":    s.RespTime, "others_rtime_ms": base.Milliseconds(), "others": names,
		"counter_resets": w.resets,
	}
}
