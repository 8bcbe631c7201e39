package main

import (
	"testing"

	"github.com/zerodowntime/rolling/modules/internal/lb/lbtest"
)

func TestDocsMatchSpec(t *testing.T) { lbtest.CheckDocs(t, spec) }
