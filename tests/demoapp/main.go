// Command demoapp is the demo application of the zero-downtime tests: an HTTP
// server that serves its version, a restart token and a health check. See
// README.md for its flags and endpoints.
package main

import (
	"os"

	"github.com/zerodowntime/rolling/tests/demoapp/app"
)

func main() { os.Exit(app.Main(os.Args[1:], os.Stderr)) }
