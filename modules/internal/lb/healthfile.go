package lb

import (
	"fmt"

	"github.com/zerodowntime/rolling/modules/internal/healthfile"
)

// With method health, health_file is created (drain) or removed (register)
// on the host the module runs on. Without it the module only waits for the
// health checks: someone else makes the application fail or pass them, as
// the deploy role does with the health_file module on the app host while
// the waits run where the credentials are.

// healthFileExists tells whether health_file is there as a regular file.
func healthFileExists(path string) (bool, error) {
	ok, err := healthfile.Exists(path)
	return ok, optionErr(err)
}

// createHealthFile creates health_file where nothing is; made is false when
// a regular file appeared there meanwhile.
func createHealthFile(path string) (bool, error) {
	made, err := healthfile.Create(path, "drained by zerodowntime.rolling.lb_drain\n")
	return made, optionErr(err)
}

// removeHealthFile removes health_file if it is a regular file.
func removeHealthFile(path string) (bool, error) {
	gone, err := healthfile.Remove(path)
	return gone, optionErr(err)
}

func optionErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("health_file: %w", err)
}
