package haproxymaint

import (
	"context"
	"errors"

	"github.com/zerodowntime/rolling/modules/internal/ansible"
	"github.com/zerodowntime/rolling/modules/internal/failure"
	"github.com/zerodowntime/rolling/modules/internal/haproxy"
)

// provider is the failure dict's provider for every failure of the module.
const provider = "haproxy"

// fail makes err the module's failure, with the code its cause calls for:
// failure: {provider: haproxy, code, resource}.
func fail(err error, resource string) error {
	var ae *ansible.Error
	if errors.As(err, &ae) {
		return err
	}
	return failed(&failure.Error{Provider: provider, Code: failureCode(err), Resource: resource, Msg: err.Error(), Err: err})
}

// failed is e as the module's error, its failure dict in the result.
func failed(e *failure.Error) error {
	return &ansible.Error{Msg: e.Msg, Err: e, Data: map[string]any{"failure": e.Failure()}}
}

// failureCode is the code for an error of the runtime API or of the wait.
func failureCode(err error) string {
	var se *haproxy.SocketError
	switch {
	case errors.As(err, &se):
		return failure.SocketUnreachable
	case errors.Is(err, haproxy.ErrPermission):
		return failure.PermissionDenied
	case errors.Is(err, haproxy.ErrNoBackend):
		return failure.BackendNotFound
	case errors.Is(err, haproxy.ErrNoServer):
		return failure.ServerNotFound
	case errors.Is(err, haproxy.ErrTooOld), errors.Is(err, haproxy.ErrUnknownCommand):
		return failure.VersionTooOld
	case errors.Is(err, context.DeadlineExceeded):
		return failure.Timeout
	}
	return failure.CommandFailed
}
