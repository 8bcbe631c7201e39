package rollout

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// LoadOptions configures the load generator.
type LoadOptions struct {
	// URL is the load balancer's base URL, e.g. http://127.0.0.1:40123.
	URL string
	// MoreURLs are further front ends of the same app hosts (the other
	// nodes of an HAProxy pair): each client sends its requests to URL and
	// MoreURLs in turn, and a failure names the front end it came through.
	MoreURLs []string
	// Clients is the number of concurrent clients (default 20).
	Clients int
	// SlowEvery makes every SlowEvery-th client send /slow requests
	// (default 10: a tenth of the clients); negative means none.
	SlowEvery int
	// SlowMin and SlowMax bound the duration a slow request asks for
	// (default 1s and 2s).
	SlowMin, SlowMax time.Duration
	// Pause is how long a fast client waits between requests (default
	// 10ms), so that a two-core CI machine keeps time for Ansible.
	Pause time.Duration
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
	// HostNames maps an app's address (its X-App-Host) to the host name
	// reported; unknown addresses are reported as they are.
	HostNames map[string]string
	// MaxErrors is how many failures are kept with their details (default 10).
	MaxErrors int
}

// withDefaults is o with its defaults filled in.
func (o LoadOptions) withDefaults() LoadOptions {
	o.defaults()
	return o
}

func (o *LoadOptions) defaults() {
	if o.Clients <= 0 {
		o.Clients = 20
	}
	if o.SlowEvery == 0 {
		o.SlowEvery = 10
	}
	if o.SlowMin <= 0 {
		o.SlowMin = time.Second
	}
	if o.SlowMax < o.SlowMin {
		o.SlowMax = 2 * time.Second
	}
	if o.Pause == 0 {
		o.Pause = 10 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxErrors <= 0 {
		o.MaxErrors = 10
	}
}

// Load is a running load generator: clients sending requests through the
// load balancer until Stop.
type Load struct {
	opts   LoadOptions
	client *http.Client
	start  time.Time
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	mu    sync.Mutex
	stats LoadStats
}

// LoadStats counts what the clients saw. A request is ok when it got a 2xx
// answer read in full, and failed otherwise (other status, transport error,
// cut body).
type LoadStats struct {
	Requests int64 `json:"requests"`
	Failed   int64 `json:"failed"`
	// Slow counts the /slow requests among Requests.
	Slow int64 `json:"slow"`
	// Errors are the first failures, each with its time since the start.
	Errors []string `json:"errors"`
	// ByVersion counts ok answers per X-App-Version.
	ByVersion map[string]int64 `json:"by_version"`
	// ByHost counts ok answers per host and version.
	ByHost map[string]map[string]int64 `json:"by_host"`
	// Last is the version each host served most recently.
	Last map[string]string `json:"-"`
	// FailedByHost counts the failed answers an app sent itself (a 500
	// naming its host), per host and version; FailedSpan is when the
	// first and the last of them came, in seconds since the start.
	FailedByHost map[string]map[string]int64 `json:"failed_by_host,omitempty"`
	FailedSpan   map[string][2]float64       `json:"failed_span,omitempty"`
}

func (s LoadStats) clone() LoadStats {
	c := s
	c.Errors = append([]string(nil), s.Errors...)
	c.ByVersion = map[string]int64{}
	for k, v := range s.ByVersion {
		c.ByVersion[k] = v
	}
	c.ByHost = map[string]map[string]int64{}
	for h, m := range s.ByHost {
		c.ByHost[h] = map[string]int64{}
		for k, v := range m {
			c.ByHost[h][k] = v
		}
	}
	c.Last = map[string]string{}
	for k, v := range s.Last {
		c.Last[k] = v
	}
	c.FailedByHost = map[string]map[string]int64{}
	for h, m := range s.FailedByHost {
		c.FailedByHost[h] = maps.Clone(m)
	}
	c.FailedSpan = maps.Clone(s.FailedSpan)
	return c
}

// StartLoad starts the clients; they run until Stop or until ctx ends.
func StartLoad(ctx context.Context, opts LoadOptions) *Load {
	opts.defaults()
	l := &Load{
		opts: opts,
		client: &http.Client{
			Timeout: opts.Timeout,
			Transport: &http.Transport{
				Proxy:               nil,
				MaxIdleConns:        opts.Clients * 2,
				MaxIdleConnsPerHost: opts.Clients * 2,
				IdleConnTimeout:     20 * time.Second,
			},
		},
		start: time.Now(),
		stop:  make(chan struct{}),
		stats: LoadStats{ByVersion: map[string]int64{}, ByHost: map[string]map[string]int64{}, Last: map[string]string{}},
	}
	for i := range opts.Clients {
		slow := opts.SlowEvery > 0 && i%opts.SlowEvery == opts.SlowEvery-1
		l.wg.Add(1)
		go l.run(ctx, slow, i)
	}
	return l
}

// run is one client; its n-th request goes to front end first+n.
func (l *Load) run(ctx context.Context, slow bool, first int) {
	defer l.wg.Done()
	urls := append([]string{l.opts.URL}, l.opts.MoreURLs...)
	for n := first; ; n++ {
		select {
		case <-l.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		path := "/"
		if slow {
			span := int64(l.opts.SlowMax - l.opts.SlowMin)
			d := l.opts.SlowMin
			if span > 0 {
				d += time.Duration(rand.Int64N(span))
			}
			path = fmt.Sprintf("/slow?ms=%d", d.Milliseconds())
		}
		l.do(ctx, urls[n%len(urls)], path, slow)
		if !slow && l.opts.Pause > 0 {
			select {
			case <-time.After(l.opts.Pause):
			case <-l.stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}
}

// do sends one request. A request in flight when Stop is called is let
// finish: cutting it would count the harness's own doing as a failure.
func (l *Load) do(ctx context.Context, base, path string, slow bool) {
	url := base + path
	if len(l.opts.MoreURLs) > 0 {
		// The front end goes into the failure message.
		path = strings.TrimPrefix(url, "http://")
	}
	// Detached from ctx on purpose, see above; the client timeout bounds it.
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, url, nil)
	if err != nil {
		l.record(path, slow, 0, "", "", err)
		return
	}
	resp, err := l.client.Do(req)
	if err != nil {
		l.record(path, slow, 0, "", "", err)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	l.record(path, slow, resp.StatusCode, resp.Header.Get("X-App-Host"), resp.Header.Get("X-App-Version"), err)
}

func (l *Load) record(path string, slow bool, status int, addr, version string, err error) {
	host := addr
	if n, ok := l.opts.HostNames[addr]; ok {
		host = n
	}
	failed := err != nil || status < 200 || status > 299
	at := time.Since(l.start).Seconds()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &l.stats
	s.Requests++
	if slow {
		s.Slow++
	}
	if failed {
		s.Failed++
		if len(s.Errors) < l.opts.MaxErrors {
			var what string
			switch {
			case err != nil && status == 0:
				what = err.Error()
			case err != nil:
				what = fmt.Sprintf("status %d, body cut: %v", status, err)
			default:
				what = fmt.Sprintf("status %d", status)
			}
			if host != "" {
				what += fmt.Sprintf(" from %s %s", host, version)
			}
			s.Errors = append(s.Errors, fmt.Sprintf("+%.1fs GET %s: %s", at, path, what))
		}
		if host != "" {
			if s.FailedByHost == nil {
				s.FailedByHost, s.FailedSpan = map[string]map[string]int64{}, map[string][2]float64{}
			}
			if s.FailedByHost[host] == nil {
				s.FailedByHost[host] = map[string]int64{}
			}
			s.FailedByHost[host][version]++
			span, seen := s.FailedSpan[host]
			if !seen {
				span[0] = at
			}
			span[1] = at
			s.FailedSpan[host] = span
		}
		return
	}
	s.ByVersion[version]++
	if s.ByHost[host] == nil {
		s.ByHost[host] = map[string]int64{}
	}
	s.ByHost[host][version]++
	s.Last[host] = version
}

// Snapshot returns the counts so far.
func (l *Load) Snapshot() LoadStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats.clone()
}

// Stop stops sending, waits for the requests in flight and returns the
// final counts. It may be called more than once.
func (l *Load) Stop() LoadStats {
	l.once.Do(func() {
		close(l.stop)
		l.wg.Wait()
		l.client.CloseIdleConnections()
	})
	return l.Snapshot()
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
