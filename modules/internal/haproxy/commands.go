package haproxy

import (
	"context"
)

// SetState sends "set server b/s state st".
func (c *Client) SetState(ctx context.Context, backend, server string, st AdminState) error {
	return c.runOn(ctx, backend, server, "set server", " state "+string(st))
}

// SetWeight sends "set server b/s weight w"; w is "0".."256" or "N%".
func (c *Client) SetWeight(ctx context.Context, backend, server, w string) error {
	return c.runOn(ctx, backend, server, "set server", " weight "+w)
}

// SetHealth forces the operational state: "up", "stopping" or "down". The
// next check result overrides it.
func (c *Client) SetHealth(ctx context.Context, backend, server, h string) error {
	return c.runOn(ctx, backend, server, "set server", " health "+h)
}

// EnableHealth enables or disables health checks.
func (c *Client) EnableHealth(ctx context.Context, backend, server string, on bool) error {
	return c.runOn(ctx, backend, server, enableWord(on)+" health", "")
}

// EnableAgent enables or disables agent checks.
func (c *Client) EnableAgent(ctx context.Context, backend, server string, on bool) error {
	return c.runOn(ctx, backend, server, enableWord(on)+" agent", "")
}

// ShutdownSessions kills every session on the server.
func (c *Client) ShutdownSessions(ctx context.Context, backend, server string) error {
	return c.runOn(ctx, backend, server, "shutdown sessions server", "")
}

// runOn runs "<verb> <backend>/<server><rest>" once both names are checked.
func (c *Client) runOn(ctx context.Context, backend, server, verb, rest string) error {
	if err := checkNames(backend, server); err != nil {
		return err
	}
	return c.run(ctx, verb+" "+backend+"/"+server+rest)
}

func enableWord(on bool) string {
	if on {
		return "enable"
	}
	return "disable"
}
