// Package parallel runs independent calls at once and collects their errors
// by index, for callers that talk to several load balancers or target groups.
package parallel

import "sync"

// Run runs f(0) ... f(n-1) at once (one alone in the caller's goroutine)
// and returns their errors by index.
func Run(n int, f func(i int) error) []error {
	errs := make([]error, n)
	if n == 1 {
		errs[0] = f(0)
		return errs
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errs
}

// FirstError is the first error of errs that is not nil, in their order.
func FirstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
