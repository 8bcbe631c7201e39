# zerodowntime.rolling: build the Go modules for every platform, package the
# collection, run the tests. The controller needs no Go: binaries ship in the
# collection tarball.

SHELL       := /bin/bash
GO          ?= go
VERSION     := $(shell sed -n 's/^version: *//p' galaxy.yml)
PLATFORMS   := linux_amd64 linux_arm64 darwin_amd64 darwin_arm64
HOST        := $(shell $(GO) env GOOS)_$(shell $(GO) env GOARCH)
TARBALL     := collection/zerodowntime-rolling-$(VERSION).tar.gz
GOFLAGS_REL := -trimpath -ldflags='-s -w -buildid=' -buildvcs=false
comma       := ,
space       := $(subst ,, )
GO_SOURCES  := $(shell find modules -name '*.go' -not -name '*_test.go') go.mod go.sum
COLL_FILES  := galaxy.yml README.md meta/runtime.yml $(shell find plugins roles playbooks docs -type f -not -path '*/__pycache__/*' 2>/dev/null)
# A backstop only: each end-to-end test's own deadline comes from what it
# waits for (tests/rollout Budget), and tests wait for one of the machine's
# end-to-end slots (tests/slots) before it starts.
TEST_TIMEOUT ?= 45m
FUZZTIME    ?= 10s

export ZDT_COLLECTION := $(CURDIR)/$(TARBALL)

# The ansible-core versions the collection supports are the ones make test
# runs: Debian 12's 2.14, installed by apt and first on PATH, and Debian 13's
# 2.19, unpacked into ANSIBLE_CORE_219 by .ci/install-ansible-core. WITH_219
# puts 2.19 first for the command it prefixes.
ANSIBLE_CORE_219 ?= $(HOME)/.cache/zdt-ansible-core-2.19
WITH_219    := PATH="$(ANSIBLE_CORE_219)/usr/bin:$$PATH" PYTHONPATH="$(ANSIBLE_CORE_219)/usr/lib/python3/dist-packages"
# What runs under 2.14 as well: every module through its action plugin
# (local, SSH, become, delegate_to, check mode, diff, no_log, environment,
# the fallbacks, arm64 under qemu), the secrets tests, the role's own tests,
# a rollout behind each load balancer kind and the role's --check run.
COMPAT_PKGS := ./tests/integration/... ./tests/ansibletest/ ./tests/progress/
COMPAT_ROLLOUTS := ^(TestRollout|TestCheckMode)$$/^(haproxy|hetzner|aws)$$

.PHONY: all build binaries collection install ansible-core-2.19 test test-go test-go-2.14 test-long test-unit test-python lint sanity sanity-2.14 vet demo lbsim bench fuzz fuzz-short fuzz-long clean help

all: collection

help:
	@echo "make collection   cross-compile the modules and build $(TARBALL)"
	@echo "make test         vet, unit, integration and end-to-end tests, fuzzing, ansible-lint and"
	@echo "                  ansible-test sanity (the README's test command): everything under"
	@echo "                  ansible-core 2.19, the compatibility subset and sanity under 2.14 too"
	@echo "make test-long    every reliability scenario, with those make test leaves out"
	@echo "make demo         roll v1 -> v2 across three hosts under load (LB=haproxy|hetzner|aws,"
	@echo "                  BROKEN=nostart|stale-token|unhealthy|errors breaks host 2, NAIVE=1 skips draining,"
	@echo "                  NET=n puts the hosts on 127.0.n.11-13)"
	@echo "make lbsim        run the cloud load-balancer simulator with its default config"
	@echo "make bench        benchmarks, printed as tables"

# Two stripped, static builds per platform, each one binary holding several
# modules (zdt MODULE ARGS): zdt holds every module, zdt-host (Linux only)
# only those that run on app and load-balancer hosts, without the cloud
# SDKs. The modules share most of their code, so this is far smaller than a
# build per module (see docs/benchmarks.md, "Waits, requests, sizes"); the action plugins send a host the
# smallest build that holds the module it runs.
HOST_PLATFORMS := linux_amd64 linux_arm64
BUILDS      := $(foreach p,$(PLATFORMS),bin/zdt_$(p)) $(foreach p,$(HOST_PLATFORMS),bin/zdt-host_$(p))
# One archive per CPU architecture: a build and its siblings compiled for the
# same CPU share most bytes, and xz's 64 MiB window finds them, so the
# tarball stays under Galaxy's 20 MB limit.
ARCHIVES    := bin/zdt_amd64.tar.xz bin/zdt_arm64.tar.xz

binaries: $(BUILDS)

bin/zdt_%: $(GO_SOURCES)
	@mkdir -p bin
	@plat=$*; os=$${plat%_*}; arch=$${plat#*_}; echo "go build zdt for $$os/$$arch"; \
	 CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build $(GOFLAGS_REL) -o $@ ./modules/zdt

bin/zdt-host_%: $(GO_SOURCES)
	@mkdir -p bin
	@plat=$*; os=$${plat%_*}; arch=$${plat#*_}; echo "go build zdt-host for $$os/$$arch"; \
	 CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build $(GOFLAGS_REL) -tags zdt_host -o $@ ./modules/zdt

# What each build holds and its hash, for the action plugins.
bin/manifest.json: $(BUILDS) tools/manifest.py
	@python3 tools/manifest.py bin \
	  "zdt=$$($(GO) run ./modules/zdt --list)" "zdt-host=$$($(GO) run -tags zdt_host ./modules/zdt --list)" -- \
	  $(foreach a,amd64 arm64,zdt_$(a).tar.xz=$(subst $(space),$(comma),$(filter %_$(a),$(notdir $(BUILDS)))))

bin/zdt_%.tar.xz: $(BUILDS)
	@echo "xz $@"
	@cd bin && tar --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - $(filter %_$*,$(notdir $(BUILDS))) \
	  | xz -9 -T1 -c > $(notdir $@).tmp && mv -f $(notdir $@).tmp $(notdir $@)

# Host-only build, for quick local runs.
build: bin/zdt_$(HOST)

$(TARBALL): bin/manifest.json $(ARCHIVES) $(COLL_FILES)
	@mkdir -p collection
	@rm -rf collection/.staging && mkdir -p collection/.staging
	ansible-galaxy collection build --force --output-path collection/.staging .
	@mv -f collection/.staging/$(notdir $@) $@ && rmdir collection/.staging
	@ls -l $@ | awk '{printf "collection tarball: %s (%.1f MiB)\n", $$9, $$5/1048576}'

# Serialised with a lock: several test binaries may ask for it at once.
collection:
	@mkdir -p collection
	@flock collection/.build.lock $(MAKE) -j2 --no-print-directory $(TARBALL)

install: collection
	ansible-galaxy collection install --force $(TARBALL)

# staticcheck, pinned, fetched through the Go module proxy on first use.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

vet:
	$(GO) vet ./...
	$(GO) vet -tags zdt_host ./modules/zdt
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags zdt_host ./modules/zdt
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

test-unit:
	$(GO) test -short -count=1 ./modules/...

ansible-core-2.19:
	@.ci/install-ansible-core $(ANSIBLE_CORE_219)

# Every Go test, including the ones that drive real ansible-playbook, HAProxy,
# lbsim, awscli and hcloud-cli against the built collection, under 2.19.
test-go: collection ansible-core-2.19
	$(WITH_219) ansible --version | sed -n 1p
	$(WITH_219) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# The compatibility subset (COMPAT_PKGS, COMPAT_ROLLOUTS) under 2.14.
test-go-2.14: collection
	ansible --version | sed -n 1p
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(COMPAT_PKGS)
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -run '$(COMPAT_ROLLOUTS)' ./tests/rollout/

# The reliability scenarios make test leaves out (a fault class it covers on
# another load balancer, or timing-sensitive), with all the others.
test-long: collection ansible-core-2.19
	$(WITH_219) ZDT_LONG=1 $(GO) test -count=1 -timeout 60m -v ./tests/reliability/
	$(WITH_219) ZDT_LONG=1 $(GO) test -count=1 -timeout 30m -v -run 'TestWatchNoFalseAlarm' ./tests/rollout/

# The plugins' Python unit tests (tests/unit; the rollout callback in a real
# ansible-playbook), under 2.14 and 2.19.
test-python: ansible-core-2.19
	tests/unit/run.sh
	$(WITH_219) tests/unit/run.sh

lint:
	@if command -v ansible-lint >/dev/null; then ansible-lint -q --profile production roles playbooks; else echo "ansible-lint not installed; skipped"; fi

# ansible-test sanity, the tests of it that run offline (tools/sanity.sh says
# which, and what covers the others).
sanity: ansible-core-2.19
	@$(WITH_219) tools/sanity.sh

sanity-2.14:
	@tools/sanity.sh

# A short fuzz run of every target (the seed corpora also run in test-go).
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3s

test: vet test-python test-go test-go-2.14 fuzz-short lint sanity sanity-2.14

lbsim:
	$(GO) run ./tests/lbsim

# The demo needs ansible and HAProxy; a fresh Debian machine gets them here.
demo:
	@.ci/install-deps ansible-core ansible haproxy
	@$(MAKE) --no-print-directory collection
	$(GO) run ./tests/demo -lb $${LB:-haproxy} $${BROKEN:+-broken $$BROKEN} $${NAIVE:+-naive} $${NET:+-net $$NET}

bench: collection
	set -o pipefail; ZDT_BENCH=1 $(GO) test -p 1 -count=1 -run 'Bench' -v -timeout 90m ./tests/bench/... | tee bench.out

fuzz:
	@FUZZTIME=$(FUZZTIME) GO=$(GO) tools/fuzz.sh

fuzz-long:
	$(MAKE) fuzz FUZZTIME=5m

clean:
	rm -rf bin collection/*.tar.gz collection/.staging
