package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// AdminClient talks to the admin endpoint of an lbsim running in another
// process (the Endpoints.Admin URL of its startup line).
type AdminClient struct {
	base string
	hc   *http.Client
}

// NewAdminClient returns a client for the admin endpoint at base, e.g.
// "http://127.0.0.1:40123".
func NewAdminClient(base string) *AdminClient {
	return &AdminClient{base: strings.TrimSuffix(base, "/"), hc: &http.Client{}}
}

func (c *AdminClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("lbsim admin %s %s: %w (is lbsim running?)", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("lbsim admin %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// State is GET /state.
func (c *AdminClient) State(ctx context.Context) (State, error) {
	var st State
	return st, c.do(ctx, http.MethodGet, "/state", nil, &st)
}

// Counts is GET /counts.
func (c *AdminClient) Counts(ctx context.Context) (Counts, error) {
	var n Counts
	return n, c.do(ctx, http.MethodGet, "/counts", nil, &n)
}

// ResetCounts is POST /counts/reset.
func (c *AdminClient) ResetCounts(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/counts/reset", nil, nil)
}

// Faults is GET /faults.
func (c *AdminClient) Faults(ctx context.Context) (Faults, error) {
	var f Faults
	return f, c.do(ctx, http.MethodGet, "/faults", nil, &f)
}

// SetFaults is PUT /faults: it replaces every fault.
func (c *AdminClient) SetFaults(ctx context.Context, f Faults) error {
	return c.do(ctx, http.MethodPut, "/faults", f, nil)
}

// SetAppHealthy is PUT /apps/{name}/health.
func (c *AdminClient) SetAppHealthy(ctx context.Context, name string, healthy bool) error {
	return c.do(ctx, http.MethodPut, "/apps/"+name+"/health", map[string]bool{"healthy": healthy}, nil)
}

// Alarms is GET /alarms.
func (c *AdminClient) Alarms(ctx context.Context) ([]AlarmState, error) {
	var a []AlarmState
	return a, c.do(ctx, http.MethodGet, "/alarms", nil, &a)
}

// SetAlarm is PUT /alarms/{name}: it sets the alarm's state, creating the
// alarm if there is none of that name.
func (c *AdminClient) SetAlarm(ctx context.Context, name, state, reason string) error {
	return c.do(ctx, http.MethodPut, "/alarms/"+url.PathEscape(name), map[string]string{"state": state, "reason": reason}, nil)
}
