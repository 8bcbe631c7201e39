package failure

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestError(t *testing.T) {
	cause := errors.New("dial unix /run/haproxy.sock: connection refused")
	err := fmt.Errorf("draining: %w", Errorf("haproxy", SocketUnreachable, "socket /run/haproxy.sock", cause, "cannot reach %s", "/run/haproxy.sock"))
	if !IsCode(err, ServerNotFound, SocketUnreachable) {
		t.Errorf("IsCode(%v) = false through a wrapping error", err)
	}
	if IsCode(err, ServerNotFound) || IsCode(cause, SocketUnreachable) {
		t.Error("IsCode matched a code the error does not have")
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is not reachable with errors.Is")
	}
	var e *Error
	if !errors.As(err, &e) || e.Error() != "cannot reach /run/haproxy.sock" {
		t.Fatalf("message = %v", err)
	}
	want := map[string]any{"provider": "haproxy", "code": "socket_unreachable", "resource": "socket /run/haproxy.sock"}
	if got := e.Failure(); !reflect.DeepEqual(got, want) {
		t.Errorf("Failure() = %v, want %v", got, want)
	}
}
