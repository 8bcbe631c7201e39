package deploywatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
	"github.com/zerodowntime/rolling/modules/internal/httpclient"
	"github.com/zerodowntime/rolling/modules/internal/lb"
	"github.com/zerodowntime/rolling/modules/internal/watch"
)

func run(ctx context.Context, m *ansible.Module, a args) (ansible.Result, error) {
	// Secrets first: any error below may quote the URL or a header.
	httpclient.AddSecrets(m, a.URLUsername, a.URLPassword, a.Headers)
	th, base, err := a.check(m)
	if err != nil {
		return ansible.Result{}, err
	}
	w := watch.Window{Length: time.Duration(a.Window) * time.Second, Interval: ansible.Seconds(a.Interval), Progress: m.Progress}

	if a.Baseline {
		if m.CheckMode {
			return ansible.Result{Msg: fmt.Sprintf("check mode: would probe %s every %gs for %ds and return its figures as a baseline",
				a.ProbeURL, a.ProbeInterval, a.Window), Data: map[string]any{}}, nil
		}
		return baseline(ctx, m, a, th, w)
	}

	signals, err := a.signals(ctx, m, th, base)
	if err != nil {
		return ansible.Result{}, withFailure(err)
	}
	var names []string
	for _, s := range signals {
		names = append(names, s.Name())
	}
	if m.CheckMode {
		return ansible.Result{Msg: fmt.Sprintf("check mode: would watch %s for %ds, reading every %gs; nothing was watched",
			strings.Join(names, "; "), a.Window, w.Interval.Seconds()), Data: map[string]any{}}, nil
	}
	m.Progress("watching %s for %ds", strings.Join(names, "; "), a.Window)
	res, err := watch.Run(ctx, w, signals)
	warnRefused(m, res.Signals)
	out := ansible.Result{Data: map[string]any{"watch": map[string]any{
		"window": a.Window, "elapsed": ansible.RoundSeconds(res.Elapsed), "passed": res.Passed, "signals": res.Signals,
	}}}
	if err != nil {
		return out, withFailure(err)
	}
	out.Msg = fmt.Sprintf("%s passed a watch of %ds", strings.Join(names, "; "), a.Window)
	return out, nil
}

// withFailure adds the failure dict of a *failure.Error in err (a pool or
// an alarm that does not exist, credentials refused) to the result.
func withFailure(err error) error {
	if fe := (*failure.Error)(nil); errors.As(err, &fe) {
		return &ansible.Error{Msg: err.Error(), Err: err, Data: map[string]any{"failure": fe.Failure()}}
	}
	return err
}

// warnRefused warns when most probes got a 4xx: they count as answers,
// but a probe_url that refuses the probe (a wrong path, credentials it
// wants) watches nothing of the app.
func warnRefused(m *ansible.Module, reports []map[string]any) {
	for _, r := range reports {
		n, _ := r["status_4xx"].(int)
		total, _ := r["requests"].(int)
		if r["kind"] == "probe" && n > 0 && 2*n > total {
			m.Warn("%s: %d of %d probes were answered with a 4xx status; check probe_url and its credentials", r["name"], n, total)
		}
	}
}

// baseline probes probe_url for the window and returns its figures, with
// nothing judged: what the probe after the deploy is compared with.
func baseline(ctx context.Context, m *ansible.Module, a args, th watch.Thresholds, w watch.Window) (ansible.Result, error) {
	p, err := a.probe(m, th, nil, false)
	if err != nil {
		return ansible.Result{}, err
	}
	m.Progress("probing %s for a baseline of %ds", a.ProbeURL, a.Window)
	res, err := watch.Run(ctx, w, []watch.Signal{p})
	warnRefused(m, res.Signals)
	f := p.Figures()
	out := ansible.Result{Data: map[string]any{"baseline": f, "watch": map[string]any{
		"window": a.Window, "elapsed": ansible.RoundSeconds(res.Elapsed), "passed": res.Passed, "signals": res.Signals,
	}}}
	if err != nil {
		return out, err
	}
	out.Msg = fmt.Sprintf("baseline of %s over %ds: %d probes, %d failed, median %.1f ms, p95 %.1f ms",
		a.ProbeURL, a.Window, f.Requests, f.Errors, f.MedianMS, f.P95MS)
	if f.Requests > 0 && f.Errors == f.Requests {
		return out, fmt.Errorf("every probe of %s failed during the baseline (%d of %d); check probe_url", a.ProbeURL, f.Errors, f.Requests)
	}
	return out, nil
}

// check validates what the spec cannot say, in a fixed order, and returns
// the thresholds and the probe's baseline.
func (a *args) check(m *ansible.Module) (watch.Thresholds, *watch.Baseline, error) {
	th := watch.Thresholds{MaxErrorRatio: a.MaxErrorRatio, MaxLatencyRatio: a.MaxLatencyRatio,
		MinRequests: a.MinRequests, MaxCheckFlaps: a.MaxCheckFlaps, LatencyFloor: ansible.Seconds(a.LatencyFloor)}
	if err := ansible.CheckSeconds("window", float64(a.Window)); err != nil {
		return th, nil, err
	}
	for _, o := range []struct {
		name string
		v    float64
	}{{"max_error_ratio", a.MaxErrorRatio}, {"max_latency_ratio", a.MaxLatencyRatio}, {"latency_floor", a.LatencyFloor}} {
		if !(o.v >= 0) || math.IsInf(o.v, 1) {
			return th, nil, fmt.Errorf("%s must be a number of 0 or more, got %g", o.name, o.v)
		}
	}
	if a.MinRequests < 1 {
		return th, nil, fmt.Errorf("min_requests must be at least 1, got %d", a.MinRequests)
	}
	if a.MaxCheckFlaps < 0 {
		return th, nil, fmt.Errorf("max_check_flaps must be 0 or more, got %d", a.MaxCheckFlaps)
	}
	if err := ansible.CheckSeconds("interval", a.Interval); err != nil {
		return th, nil, err
	}
	if len(a.Alarms) > 0 && a.Provider != lb.AWS {
		return th, nil, fmt.Errorf("alarms are CloudWatch alarms, read with provider aws only; remove alarms or set provider: aws (provider is %s)", a.Provider)
	}
	if a.Provider == providerHAProxy || a.Provider == providerNone {
		// target, method and the like come from the role's group
		// defaults whatever the provider; pools named for nothing are
		// worth a word.
		for _, n := range []string{"load_balancer", "target_group_arns", "target_group_names"} {
			if v, ok := m.Params[n]; ok && v != nil {
				m.Warn("option %s is ignored with provider %s", n, a.Provider)
			}
		}
	}
	if a.Baseline && a.ProbeURL == "" {
		return th, nil, errors.New("baseline: true probes probe_url, which is not set")
	}
	if a.ProbeURL == "" {
		for _, n := range []string{"probe_baseline", "probe_headers", "probe_url_username", "probe_url_password", "probe_ca_path", "probe_client_cert"} {
			if v, ok := m.Params[n]; ok && v != nil {
				return th, nil, fmt.Errorf("%s is an option of the probe, and probe_url is not set; set probe_url or remove %s", n, n)
			}
		}
		return th, nil, nil
	}
	if !httpclient.AbsoluteHTTP(a.ProbeURL) {
		return th, nil, fmt.Errorf("probe_url %q is not an absolute http:// or https:// URL", a.ProbeURL)
	}
	for _, o := range []struct {
		name string
		v    float64
	}{{"probe_interval", a.ProbeInterval}, {"probe_request_timeout", a.RequestTimeout}} {
		if err := ansible.CheckSeconds(o.name, o.v); err != nil {
			return th, nil, err
		}
	}
	if a.URLPassword != "" && a.URLUsername == "" {
		return th, nil, errors.New("probe_url_password is set but probe_url_username is not; set probe_url_username too")
	}
	if a.ProbeBaseline == nil {
		return th, nil, nil
	}
	if a.Baseline {
		return th, nil, errors.New("probe_baseline is what baseline: true returns; give one or the other")
	}
	b, err := parseBaseline(a.ProbeBaseline)
	return th, b, err
}

// parseBaseline reads probe_baseline: the baseline an earlier run
// returned, of which median_ms is what the latency is judged against.
func parseBaseline(d map[string]any) (*watch.Baseline, error) {
	var b watch.Baseline
	for k, v := range d {
		f, err := ansible.ToFloat(v)
		if err != nil {
			return nil, fmt.Errorf("probe_baseline.%s must be a number: %v", k, err)
		}
		switch k {
		case "median_ms":
			b.MedianMS = f
		case "p95_ms":
			b.P95MS = f
		case "requests":
			b.Requests = int(f)
		case "errors":
			b.Errors = int(f)
		default:
			return nil, fmt.Errorf("probe_baseline has no key %q; give the baseline deploy_watch returned with baseline: true (requests, errors, median_ms, p95_ms)", k)
		}
	}
	if !(b.MedianMS > 0) {
		return nil, fmt.Errorf("probe_baseline.median_ms must be a positive number of milliseconds, got %g; "+
			"give the baseline deploy_watch returned with baseline: true", b.MedianMS)
	}
	return &b, nil
}

// signals makes the signals the provider and the probe give.
func (a *args) signals(ctx context.Context, m *ansible.Module, th watch.Thresholds, base *watch.Baseline) ([]watch.Signal, error) {
	var sigs []watch.Signal
	switch a.Provider {
	case providerHAProxy:
		hs, err := a.haproxySignals(ctx, th)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, hs...)
	case lb.Hetzner, lb.AWS:
		if CloudSignals == nil {
			return nil, fmt.Errorf("provider %s needs the collection's full module build, with the cloud SDKs, and this host ran the host build; "+
				"this is a bug in the action plugin's choice of build", a.Provider)
		}
		cs, err := CloudSignals(ctx, m, a.Args)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, cs...)
	}
	if a.ProbeURL != "" {
		p, err := a.probe(m, th, base, true)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, p)
	}
	return sigs, nil
}

func (a *args) probe(m *ansible.Module, th watch.Thresholds, base *watch.Baseline, judge bool) (*watch.Probe, error) {
	c, err := httpclient.New(m, a.ProbeURL, httpclient.Options{ValidateCerts: a.ProbeCerts, CAPath: a.CAPath,
		ClientCert: a.ClientCert, ClientKey: a.ClientKey, FollowRedirects: "safe", Method: "GET"})
	if err != nil {
		return nil, err
	}
	return watch.NewProbe(watch.ProbeOptions{URL: a.ProbeURL, Interval: ansible.Seconds(a.ProbeInterval),
		RequestTimeout: ansible.Seconds(a.RequestTimeout), Headers: a.Headers, User: a.URLUsername, Password: a.URLPassword,
		Client: c, Baseline: base, Judge: judge}, th), nil
}

// haproxySignals watches server in backend, or in every backend that has a
// server of that name, as haproxy_maint finds it.
func (a *args) haproxySignals(ctx context.Context, th watch.Thresholds) ([]watch.Signal, error) {
	mode := haproxy.MasterAuto
	if a.MasterSocket != nil {
		mode = haproxy.MasterOff
		if *a.MasterSocket {
			mode = haproxy.MasterOn
		}
	}
	for _, n := range []struct{ opt, v string }{{"server", a.Server}, {"backend", a.Backend}} {
		if n.v != "" {
			if err := haproxy.CheckName(n.v); err != nil {
				return nil, fmt.Errorf("%s: %w", n.opt, err)
			}
		}
	}
	c, err := haproxy.Dial(ctx, a.Socket, haproxy.WithMaster(mode), haproxy.WithWorker(a.Worker))
	if err != nil {
		return nil, err
	}
	stats, err := c.Stats(ctx)
	if err != nil {
		return nil, err
	}
	var sigs []watch.Signal
	backends := map[string]bool{}
	for _, s := range stats {
		backends[s.Backend] = true
		if s.Server == a.Server && (a.Backend == "" || s.Backend == a.Backend) {
			sig, err := haproxy.NewWatchSignal(c, s.Backend, s.Server, th)
			if err != nil {
				return nil, err
			}
			sigs = append(sigs, sig)
		}
	}
	switch {
	case len(sigs) > 0:
		return sigs, nil
	case a.Backend != "" && !backends[a.Backend]:
		return nil, fmt.Errorf("backend %q not found in HAProxy (%s)", a.Backend, c.Path())
	case a.Backend != "":
		return nil, fmt.Errorf("server %q not found in backend %q of HAProxy (%s)", a.Server, a.Backend, c.Path())
	}
	return nil, fmt.Errorf("server %q not found in any backend of HAProxy (%s); set backend, or check the server name in haproxy.cfg", a.Server, c.Path())
}
