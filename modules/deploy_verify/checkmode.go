package deployverify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
)

// dryRun is check mode. The deploy before it ran in check mode too: the
// token it would have written was not, and the app was not restarted, so
// a wait would only wait for what check mode did not do. It says what a
// run would verify and, when the method cannot change anything (GET or
// HEAD), sends one request to url to show what answers now. That answer
// is information: check mode never fails on it, nor waits.
func dryRun(ctx context.Context, m *ansible.Module, c *http.Client, exp *expectations, a args, tokenURL string) ansible.Result {
	var plan strings.Builder
	fmt.Fprintf(&plan, "check mode: would poll %s until it answers with %s", a.URL, exp.describe())
	if a.Consecutive > 1 {
		fmt.Fprintf(&plan, ", %d times in a row", a.Consecutive)
	}
	if a.Token != "" {
		fmt.Fprintf(&plan, ", after %s serves the new deploy token", tokenURL)
	}
	fmt.Fprintf(&plan, " (every %gs, for up to %ds)", a.Interval, a.Timeout)

	data := map[string]any{"url": a.URL, "attempts": 0, "elapsed": 0.0, "status": 0, "body_excerpt": "", "passes": 0}
	if a.Token != "" {
		data["token_url"], data["token_verified"], data["token_attempts"] = tokenURL, false, 0
	}
	method := strings.ToUpper(a.Method)
	if method != http.MethodGet && method != http.MethodHead {
		fmt.Fprintf(&plan, "; sent no request, since a %s may change something", method)
		return ansible.Result{Msg: plan.String(), Data: data}
	}
	start := time.Now()
	o := fetchShown(ctx, m, c, a.Method, a.URL, a.Body, a)
	data["attempts"], data["elapsed"] = 1, time.Since(start).Round(time.Millisecond).Seconds()
	data["status"], data["body_excerpt"] = o.status, excerpt(o.shown, a.ExcerptLength)
	if o.err != nil {
		data["error"] = o.err.Error()
	}
	if o.problem = exp.mismatch(o); o.problem == "" {
		data["passes"] = 1
		plan.WriteString("; it answers as expected now")
	} else {
		fmt.Fprintf(&plan, "; now: %s", o.describe(msgExcerpt))
	}
	return ansible.Result{Msg: plan.String(), Data: data}
}
