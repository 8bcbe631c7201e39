// Package deployverify is the zerodowntime.rolling.deploy_verify module: it
// polls a URL until the response proves the new version answers.
package deployverify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/httpclient"
	"github.com/zerodowntime/rolling/modules/internal/wait"
)

var spec = ansible.Spec{
	Name: "deploy_verify",
	Options: map[string]ansible.Option{
		"url":              {Type: ansible.Str, Required: true},
		"method":           {Type: ansible.Str, Default: "GET"},
		"headers":          {Type: ansible.Dict, SecretKeys: httpclient.CredentialHeader},
		"body":             {Type: ansible.Str},
		"expect_status":    {Type: ansible.List, Elements: ansible.Int, Default: []any{200}},
		"expect_body":      {Type: ansible.Str},
		"token":            {Type: ansible.Str},
		"token_url":        {Type: ansible.Str},
		"expect_regex":     {Type: ansible.Str},
		"expect_json":      {Type: ansible.Dict},
		"expect_headers":   {Type: ansible.Dict},
		"consecutive":      {Type: ansible.Int, Default: 1},
		"interval":         {Type: ansible.Float, Default: 0.2},
		"timeout":          {Type: ansible.Int, Default: 60},
		"request_timeout":  {Type: ansible.Float, Default: 10},
		"url_username":     {Type: ansible.Str, Aliases: []string{"user"}},
		"url_password":     {Type: ansible.Str, Aliases: []string{"password"}, NoLog: true},
		"validate_certs":   {Type: ansible.Bool, Default: true},
		"ca_path":          {Type: ansible.Path},
		"client_cert":      {Type: ansible.Path},
		"client_key":       {Type: ansible.Path},
		"follow_redirects": {Type: ansible.Str, Default: "safe", Choices: []string{"all", "safe", "none", "yes", "no"}},
		"excerpt_length":   {Type: ansible.Int, Default: 512},
	},
	RequiredTogether:  [][]string{{"client_cert", "client_key"}},
	SupportsCheckMode: true,
	TimeoutOption:     "timeout",
}

type args struct {
	URL             string         `json:"url"`
	Method          string         `json:"method"`
	Headers         map[string]any `json:"headers"`
	Body            *string        `json:"body"`
	ExpectStatus    []int          `json:"expect_status"`
	ExpectBody      *string        `json:"expect_body"`
	Token           string         `json:"token"`
	TokenURL        string         `json:"token_url"`
	ExpectRegex     *string        `json:"expect_regex"`
	ExpectJSON      map[string]any `json:"expect_json"`
	ExpectHeaders   map[string]any `json:"expect_headers"`
	Consecutive     int            `json:"consecutive"`
	Interval        float64        `json:"interval"`
	Timeout         int            `json:"timeout"`
	RequestTimeout  float64        `json:"request_timeout"`
	URLUsername     string         `json:"url_username"`
	URLPassword     string         `json:"url_password"`
	ValidateCerts   bool           `json:"validate_certs"`
	CAPath          string         `json:"ca_path"`
	ClientCert      string         `json:"client_cert"`
	ClientKey       string         `json:"client_key"`
	FollowRedirects string         `json:"follow_redirects"`
	ExcerptLength   int            `json:"excerpt_length"`
}

func run(ctx context.Context, m *ansible.Module, a args) (ansible.Result, error) {
	// Secrets first: any error below may quote the URL or a header.
	httpclient.AddSecrets(m, a.URLUsername, a.URLPassword, a.Headers)
	exp, err := newExpectations(a)
	if err != nil {
		return ansible.Result{}, err
	}
	client, err := httpclient.New(m, a.URL, httpclient.Options{ValidateCerts: a.ValidateCerts, CAPath: a.CAPath,
		ClientCert: a.ClientCert, ClientKey: a.ClientKey, FollowRedirects: a.FollowRedirects, Method: a.Method})
	if err != nil {
		return ansible.Result{}, err
	}
	if !httpclient.AbsoluteHTTP(a.URL) {
		return ansible.Result{}, fmt.Errorf("url %q is not an absolute http:// or https:// URL", a.URL)
	}
	if a.TokenURL != "" && a.Token == "" {
		return ansible.Result{}, errors.New("token_url is set but token is not; pass the token that deploy_token wrote, or drop token_url")
	}
	tokenURL := a.URL
	if a.TokenURL != "" {
		if !httpclient.AbsoluteHTTP(a.TokenURL) {
			return ansible.Result{}, fmt.Errorf("token_url %q is not an absolute http:// or https:// URL", a.TokenURL)
		}
		tokenURL = a.TokenURL
	}
	if a.URLPassword != "" && a.URLUsername == "" {
		// Without a user name no credentials would be sent at all.
		return ansible.Result{}, errors.New("url_password is set but url_username is not; set url_username too")
	}
	if a.Consecutive < 1 {
		return ansible.Result{}, fmt.Errorf("consecutive must be at least 1, got %d", a.Consecutive)
	}
	for _, o := range []struct {
		name string
		v    float64
	}{{"interval", a.Interval}, {"timeout", float64(a.Timeout)}, {"request_timeout", a.RequestTimeout}} {
		if err := ansible.CheckSeconds(o.name, o.v); err != nil {
			return ansible.Result{}, err
		}
	}

	if m.CheckMode {
		return dryRun(ctx, m, client, exp, a, tokenURL), nil
	}

	var last observation
	passes := 0
	// With a token, the url's checks start once token_url serves it: only
	// then is it known that the process answering is the one just started.
	tokenSeen, tokenAttempts := a.Token == "", 0
	attempts := 0
	get := func(ctx context.Context, method, target string, body *string) observation {
		return fetchShown(ctx, m, client, method, target, body, a)
	}
	check := func(ctx context.Context) (wait.Outcome, string, error) {
		attempts++
		// The token's answer stands for url's too when it is the same GET.
		reuse := false
		if !tokenSeen {
			last = get(ctx, "GET", tokenURL, nil)
			if problem := tokenMismatch(last, a.Token); problem != "" {
				last.problem = problem
				return wait.Retry, tokenURL + ": " + last.describe(msgExcerpt), nil
			}
			tokenSeen, tokenAttempts = true, attempts
			m.Progress("%s serves the deploy token", tokenURL)
			reuse = tokenURL == a.URL && strings.EqualFold(a.Method, "GET") && a.Body == nil
		}
		if !reuse {
			last = get(ctx, a.Method, a.URL, a.Body)
		}
		// The observation ends up in msg if the wait is cut short, so
		// it is bounded like the other excerpts in msg.
		if problem := exp.mismatch(last); problem != "" {
			passes = 0
			last.problem = problem
			return wait.Retry, last.describe(msgExcerpt), nil
		}
		passes++
		if passes >= a.Consecutive {
			return wait.Success, last.describe(msgExcerpt), nil
		}
		return wait.Retry, last.describe(msgExcerpt), nil
	}
	m.Progress("polling %s (nothing is changed by this module)", a.URL)
	interval := ansible.Seconds(a.Interval)
	w := wait.New(check, wait.WithDelay(interval, interval), wait.WithoutJitter())
	start := time.Now()
	res, err := w.Wait(ctx, time.Duration(a.Timeout)*time.Second)

	data := map[string]any{
		"url":          a.URL,
		"attempts":     res.Attempts,
		"elapsed":      res.Elapsed.Round(time.Millisecond).Seconds(),
		"status":       last.status,
		"body_excerpt": excerpt(last.shown, a.ExcerptLength),
		"passes":       passes,
	}
	if a.Token != "" {
		data["token_url"] = tokenURL
		data["token_verified"] = tokenSeen
		data["token_attempts"] = tokenAttempts
	}
	if last.err != nil {
		data["error"] = last.err.Error()
	}
	out := ansible.Result{Changed: false, Data: data}
	if err != nil {
		var te *wait.TimeoutError
		// A last request still running at the timeout may meet the run's
		// hard deadline (timeout plus grace) first: that is a timeout too.
		timedOut := errors.Is(context.Cause(ctx), context.DeadlineExceeded) && time.Since(start) >= time.Duration(a.Timeout)*time.Second
		if errors.As(err, &te) || timedOut {
			refused := refusedHint(last)
			if !tokenSeen {
				why := "the process answering is not the one just started " +
					"(did the deploy step restart the app, and does the app read the token file at start?)"
				if refused != "" {
					why = refused
				}
				return out, fmt.Errorf("%s did not serve the deploy token within %ds (%d attempts): %s; last observed: %s",
					tokenURL, a.Timeout, res.Attempts, why, last.describe(msgExcerpt))
			}
			if refused != "" {
				refused = "; " + refused
			}
			return out, fmt.Errorf("%s did not answer as expected within %ds (%d attempts): expected %s; last observed: %s%s",
				a.URL, a.Timeout, res.Attempts, exp.describe(), last.describe(msgExcerpt), refused)
		}
		return out, fmt.Errorf("verifying %s stopped after %d attempts: %w", a.URL, res.Attempts, err)
	}
	out.Msg = fmt.Sprintf("%s answered as expected after %d attempt(s) in %.1fs", a.URL, res.Attempts, res.Elapsed.Seconds())
	return out, nil
}

// Module is zerodowntime.rolling.deploy_verify.
var Module = ansible.NewModule(spec, run)
