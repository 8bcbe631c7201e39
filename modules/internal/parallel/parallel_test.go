package parallel

import (
	"errors"
	"sync"
	"testing"
)

func TestRun(t *testing.T) {
	for _, n := range []int{0, 1, 5} {
		var mu sync.Mutex
		seen := map[int]bool{}
		errs := Run(n, func(i int) error {
			mu.Lock()
			seen[i] = true
			mu.Unlock()
			if i%2 == 1 {
				return errors.New("odd")
			}
			return nil
		})
		if len(errs) != n || len(seen) != n {
			t.Fatalf("n=%d: %d errors, %d calls", n, len(errs), len(seen))
		}
		for i, err := range errs {
			if (err != nil) != (i%2 == 1) {
				t.Errorf("n=%d: errs[%d] = %v", n, i, err)
			}
		}
	}
}

func TestRunAtOnce(t *testing.T) {
	// Each call waits for all the others: only calls made at once end.
	var wg sync.WaitGroup
	wg.Add(3)
	Run(3, func(int) error { wg.Done(); wg.Wait(); return nil })
}

func TestFirstError(t *testing.T) {
	a, b := errors.New("a"), errors.New("b")
	if got := FirstError([]error{nil, a, b}); got != a {
		t.Errorf("FirstError = %v, want a", got)
	}
	if got := FirstError([]error{nil, nil}); got != nil {
		t.Errorf("FirstError = %v, want nil", got)
	}
}
