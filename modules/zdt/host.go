//go:build zdt_host

package main

import "github.com/zerodowntime/rolling/modules/internal/ansible"

var cloudModules []ansible.Entry
