//go:build !linux

package haproxytest

import "os/exec"

func setPdeathsig(*exec.Cmd) {}
