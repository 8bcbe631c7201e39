package ansible

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestInterrupted simulates SIGTERM by cancelling the context given to
// RunArgs, as Main's signal.NotifyContext does.
func TestInterrupted(t *testing.T) {
	tests := []struct {
		name     string
		progress string
		finish   func(ctx context.Context) (Result, error) // after the interruption
		wantCode int
		wantMsg  string
		wantData map[string]any
	}{
		{
			name:     "reports progress",
			progress: "deregistered web from pool-1, waiting for it to drain",
			finish: func(ctx context.Context) (Result, error) {
				return Result{}, fmt.Errorf("waiting: %w", context.Cause(ctx))
			},
			wantCode: 1,
			wantMsg:  "probe was interrupted by a signal; state left: deregistered web from pool-1, waiting for it to drain",
		},
		{
			name:     "module's own error kept",
			progress: "step 2",
			finish: func(ctx context.Context) (Result, error) {
				return Result{}, errors.New("pool web not found")
			},
			wantCode: 1,
			wantMsg:  "pool web not found; then probe was interrupted by a signal; state left: step 2",
		},
		{
			name:     "interruption formatted with %v",
			progress: "step 3",
			finish: func(ctx context.Context) (Result, error) {
				return Result{}, fmt.Errorf("waiting for web: %v", context.Cause(ctx))
			},
			wantCode: 1,
			wantMsg:  "probe was interrupted by a signal; state left: step 3",
		},
		{
			name: "nothing done yet",
			finish: func(ctx context.Context) (Result, error) {
				return Result{}, ctx.Err()
			},
			wantCode: 1,
			wantMsg:  "probe was interrupted by a signal; state left: nothing had been changed yet",
		},
		{
			name:     "keeps the module's data",
			progress: "halfway",
			finish: func(ctx context.Context) (Result, error) {
				return Result{Changed: true, Data: map[string]any{"done": []string{"a"}}}, ctx.Err()
			},
			wantCode: 1,
			wantMsg:  "probe was interrupted by a signal; state left: halfway",
			wantData: map[string]any{"done": []any{"a"}, "changed": true},
		},
		{
			name:     "module completes its step",
			progress: "almost there",
			finish: func(ctx context.Context) (Result, error) {
				return Result{Changed: true, Msg: "finished the last step first"}, nil
			},
			wantCode: 0,
			wantMsg:  "finished the last step first",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cause error
			run := func(rctx context.Context, m *Module, _ map[string]any) (Result, error) {
				if tt.progress != "" {
					m.Progress("%s", tt.progress)
				}
				cancel() // the signal arrives while the module works
				<-rctx.Done()
				cause = context.Cause(rctx)
				return tt.finish(rctx)
			}
			start := time.Now()
			_, res, code := runArgs(t, ctx, probeSpec(), `{"name": "web"}`, run)
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %s; RunArgs must return as soon as the module stops", d)
			}
			if code != tt.wantCode || res["msg"] != tt.wantMsg {
				t.Errorf("got code %d, msg %q; want %d, %q", code, res["msg"], tt.wantCode, tt.wantMsg)
			}
			if !errors.Is(cause, ErrInterrupted) {
				t.Errorf("the module saw cause %v, want ErrInterrupted", cause)
			}
			for k, v := range tt.wantData {
				if fmt.Sprint(res[k]) != fmt.Sprint(v) {
					t.Errorf("%s = %v, want %v", k, res[k], v)
				}
			}
		})
	}
}

// TestFinishedBeforeInterrupt: a module that is already done when the signal
// arrives reports its own result, never "interrupted".
func TestFinishedBeforeInterrupt(t *testing.T) {
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		run := func(context.Context, *Module, map[string]any) (Result, error) {
			cancel()
			return Result{}, errors.New("own failure")
		}
		_, res, _ := runArgs(t, ctx, probeSpec(), `{"name": "web"}`, run)
		// The select may see the signal first; the module's error still
		// leads the message.
		msg, _ := res["msg"].(string)
		if msg != "own failure" && msg != "own failure; then probe was interrupted by a signal; state left: nothing had been changed yet" {
			t.Fatalf("msg = %q, want the module's own error first", msg)
		}
	}
}

func TestTimeoutOption(t *testing.T) {
	spec := func(grace time.Duration) Spec {
		s := Spec{Name: "probe", Options: map[string]Option{"timeout": {Type: Int, Default: 60}, "wait": {Type: Float}}, TimeoutOption: "timeout", TimeoutGrace: grace}
		return s
	}
	tests := []struct {
		name string
		spec Spec
		args string
		want time.Duration // 0: no deadline
	}{
		{name: "default grace", spec: spec(0), args: `{"timeout": 5}`, want: 15 * time.Second},
		{name: "own grace", spec: spec(2 * time.Second), args: `{"timeout": 5}`, want: 7 * time.Second},
		{name: "default timeout", spec: spec(time.Second), args: `{}`, want: 61 * time.Second},
		{name: "string timeout converted", spec: spec(time.Second), args: `{"timeout": "3"}`, want: 4 * time.Second},
		{name: "zero means no deadline", spec: spec(0), args: `{"timeout": 0}`},
		{name: "no timeout option", spec: Spec{Name: "probe", Options: map[string]Option{"timeout": {Type: Int}}}, args: `{"timeout": 5}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var deadline time.Time
			var has bool
			start := time.Now()
			run := func(ctx context.Context, _ *Module, _ map[string]any) (Result, error) {
				deadline, has = ctx.Deadline()
				return Result{}, nil
			}
			runArgs(t, context.Background(), tt.spec, tt.args, run)
			if tt.want == 0 {
				if has {
					t.Errorf("deadline %s, want none", deadline.Sub(start))
				}
				return
			}
			if got := deadline.Sub(start); !has || got < tt.want || got > tt.want+time.Second {
				t.Errorf("deadline in %s (set: %v), want %s", got, has, tt.want)
			}
		})
	}
}

// TestDeadlineReportsProgress: when the hard deadline ends a module, the
// result says where it stood.
func TestDeadlineReportsProgress(t *testing.T) {
	tests := []struct {
		name     string
		progress string
		err      error
		wantMsg  string
	}{
		{name: "with progress", progress: "set web to drain", err: fmt.Errorf("waiting for web: %w", context.DeadlineExceeded),
			wantMsg: "waiting for web: context deadline exceeded; state left: set web to drain"},
		{name: "without progress", err: fmt.Errorf("waiting for web: %w", context.DeadlineExceeded),
			wantMsg: "waiting for web: context deadline exceeded"},
		{name: "other errors unchanged", progress: "set web to drain", err: errors.New("refused"), wantMsg: "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(_ context.Context, m *Module, _ map[string]any) (Result, error) {
				if tt.progress != "" {
					m.Progress("%s", tt.progress)
				}
				return Result{}, tt.err
			}
			_, res, code := runArgs(t, context.Background(), probeSpec(), `{"name": "web"}`, run)
			if code != 1 || res["msg"] != tt.wantMsg {
				t.Errorf("code %d, msg %q; want 1, %q", code, res["msg"], tt.wantMsg)
			}
		})
	}
}

func TestRunReadsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "args")
	if err := os.WriteFile(path, []byte(`{"name": "web", "_ansible_check_mode": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantMsg string
		code    int
	}{
		{name: "args file", path: path, wantMsg: "", code: 0},
		{name: "missing file", path: filepath.Join(dir, "nope"), wantMsg: "cannot read the module arguments file: open " + filepath.Join(dir, "nope") + ": no such file or directory", code: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf strings.Builder
			code := Run(context.Background(), probeSpec(), tt.path, &buf, echo)
			res := checkOneObject(t, []byte(buf.String()))
			msg, _ := res["msg"].(string)
			if code != tt.code || msg != tt.wantMsg {
				t.Errorf("code %d, msg %q; want %d, %q", code, msg, tt.code, tt.wantMsg)
			}
			if tt.code == 0 && res["check"] != true {
				t.Errorf("check mode not read from the file: %v", res)
			}
		})
	}
}

// TestUnencodableResult: a result JSON cannot carry still gives one failed
// JSON object.
func TestUnencodableResult(t *testing.T) {
	run := func(context.Context, *Module, map[string]any) (Result, error) {
		return Result{Data: map[string]any{"ratio": math.NaN()}}, nil
	}
	_, res, code := runArgs(t, context.Background(), probeSpec(), `{"name": "web"}`, run)
	if msg, _ := res["msg"].(string); code != 1 || !strings.HasPrefix(msg, "cannot encode the module result: ") {
		t.Errorf("code %d, result %v", code, res)
	}
}

// TestModuleConcurrentUse runs under -race: waiters report progress and
// warnings from their own goroutines.
func TestModuleConcurrentUse(t *testing.T) {
	run := func(_ context.Context, m *Module, _ map[string]any) (Result, error) {
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.Warn("w%d", i)
				m.Progress("p%d", i)
				m.Deprecate("d", "")
				m.AddSecret(fmt.Sprintf("sec%d", i))
				m.Scrub("x")
			}()
		}
		wg.Wait()
		return Result{Msg: "sec3"}, nil
	}
	_, res, _ := runArgs(t, context.Background(), probeSpec(), `{"name": "web"}`, run)
	if len(res["warnings"].([]any)) != 8 || len(res["deprecations"].([]any)) != 8 || res["msg"] != "********" {
		t.Errorf("result %v", res)
	}
}
