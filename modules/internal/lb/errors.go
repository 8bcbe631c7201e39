package lb

import (
	"errors"
	"fmt"
)

// Error codes the modules return in failure.code when the provider gave
// none of its own.
const (
	CodeNotFound      = "not_found"
	CodeTargetUnknown = "target_unknown"
	CodeUnauthorized  = "unauthorized"
	CodeThrottled     = "throttled"
	CodeTimeout       = "timeout"
	CodeMinHealthy    = "min_healthy"
	CodeUnhealthy     = "unhealthy"
	CodeUnsupported   = "unsupported"
	CodeMetadata      = "metadata_unavailable"
)

// Error is a provider failure with the provider's own code and the resource
// it concerns, worded for the user.
type Error struct {
	Provider string // "hetzner" or "aws"
	Code     string // the provider's error code, or one of the Code* above
	Resource string // "load_balancer web-lb", "target_group web"
	Msg      string
	Err      error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Failure returns the failure dict of the module result.
func (e *Error) Failure() map[string]any {
	return map[string]any{"provider": e.Provider, "code": e.Code, "resource": e.Resource}
}

// Errorf builds an Error.
func Errorf(provider, code, resource string, err error, format string, args ...any) *Error {
	return &Error{Provider: provider, Code: code, Resource: resource, Err: err, Msg: fmt.Sprintf(format, args...)}
}

// IsCode reports whether err is an *Error with one of codes.
func IsCode(err error, codes ...string) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if e.Code == c {
			return true
		}
	}
	return false
}
