package deploywatch

import (
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/ansible/doccheck"
)

func TestDocMatchesSpec(t *testing.T) { doccheck.Check(t, spec) }
