// Package failure is the one vocabulary of the modules' failure dict:
//
//	failure: {provider: hetzner|aws|haproxy, code: ..., resource: ...}
//
// A provider's own error code (an ELBv2 or Hetzner API code) is passed on
// as it is; the codes below are for failures the provider gave no code for.
package failure

import (
	"errors"
	"fmt"
)

// Codes of failures found by the modules themselves.
const (
	NotFound      = "not_found"            // a load balancer or target group
	TargetUnknown = "target_unknown"       // the target is in none of them
	Unauthorized  = "unauthorized"         // the credentials were refused
	Throttled     = "throttled"            // the API's rate limit outlasted the timeout
	Timeout       = "timeout"              // the wait ended before the state was reached
	MinHealthy    = "min_healthy"          // taking the target out would break min_healthy
	Unhealthy     = "unhealthy"            // the load balancer calls the target unhealthy
	Unsupported   = "unsupported"          // the target's kind cannot do what was asked
	Metadata      = "metadata_unavailable" // target: auto, and no metadata service answered

	// HAProxy's runtime API.
	SocketUnreachable = "socket_unreachable"
	PermissionDenied  = "permission_denied"
	BackendNotFound   = "backend_not_found"
	ServerNotFound    = "server_not_found"
	VersionTooOld     = "version_too_old"
	CommandFailed     = "command_failed"
)

// Error is a failure with its provider, code and the resource it concerns,
// worded for the user.
type Error struct {
	Provider string // "hetzner", "aws" or "haproxy"
	Code     string // the provider's own code, or one of the codes above
	Resource string // "load_balancer web-lb", "target_group web", "server www/web1"
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
