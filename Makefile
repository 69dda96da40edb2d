# Pulse — `make run` starts the local stack, `make test` runs every check. See README.md.

GO       ?= go
# sam build sets ARTIFACTS_DIR; `make build` puts each function's bootstrap under bin/.
ARTIFACTS_DIR ?= bin
# Lambda's provided.al2023 on arm64 (template.yaml), a static binary without the RPC shim.
# make invoke builds the same binary for this machine (LAMBDA_ARCH), which can run it.
LAMBDA_ARCH ?= arm64
LAMBDA_BUILD = GOOS=linux GOARCH=$(LAMBDA_ARCH) CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -buildvcs=false

# lambda builds ./functions/$(1) into $(ARTIFACTS_DIR)/bootstrap, never into a source folder.
lambda = $(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(1)

# FUNCTIONS and one build-<LogicalId> target per function (sam build calls these) are generated
# from template.yaml by `go generate ./...` (internal/gen).
include functions/functions.mk

.PHONY: run test lint build clean tools assets invoke bench fuzz load generate

## run: DynamoDB Local plus the whole API on http://localhost:3000 with a demo tenant
run: assets
	$(GO) run ./cmd/pulse run

## test: lint, then every test with the race detector, all against one in-memory DynamoDB Local
##   (`pulse ddb exec`; a test binary run alone starts its own): a JVM per test binary compiled the
##   emulator's hot code again in each, and the suite took 849 s where it takes 664 s on one
##   (each test still has a database of its own, internal/ddbtest).
##   internal/e2e (the system tests) runs after the others, alone: its built-function tests hold
##   a function to its template timeout (4,000 sessions revoked within 29 s), and DynamoDB Local, which writes the
##   table's stream in the write path where AWS does not, gets slow when it shares the CPU.
##   Every AWS call a function's handler makes is held to its IAM policy as it happens
##   (internal/iamcheck) and written to $(IAM_RECORD); `pulse iam` then lists, over the whole
##   suite, the grants no call used, and fails on any that no comment in template.yaml explains.
IAM_RECORD = .cache/iam
test: lint tools assets
	rm -rf $(IAM_RECORD)
	PULSE_IAM_RECORD=$(CURDIR)/$(IAM_RECORD) $(GO) run ./cmd/pulse ddb exec -- sh -c \
	  '$(GO) test -race -count=1 $$($(GO) list ./... | grep -v "/internal/e2e$$") && $(GO) test -race -count=1 ./internal/e2e'
	$(GO) run ./cmd/pulse iam -records $(IAM_RECORD)

## fuzz: every fuzz target for a fixed number of inputs each, about 5 s on this project's
##   2-core machine (CI); FUZZTIME=1m (or 10000x) runs each for that long instead. Crashers land
##   in testdata. Counts, not durations, by default: Go 1.26's fuzzing coordinator can fail a
##   target with a bare "context deadline exceeded" when a -fuzztime duration ends mid-run
##   (golang/go#75804, fixed in Go 1.27; CI hit it on 2 of 7 targets in one run), and a count has
##   no deadline to race. A duration run that fails that way, with no failing input written, is
##   run once more; anything else fails at once.
FUZZTIME ?=
FUZZ_TARGETS = shared/pulse:FuzzValidID:300000 shared/useragent:FuzzParse:200000 shared/engage:FuzzISOParam:12000 \
	shared/admin:FuzzPaging:30000 shared/manage:FuzzListQuery:30000 shared/manage:FuzzBodies:20000 shared/store:FuzzMapKey:50000
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; budget=$${FUZZTIME:-$${rest##*:}x}; \
	  for try in 1 2; do \
	    echo "fuzz $$fn ($$budget)"; \
	    out=$$($(GO) test ./$$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $$budget 2>&1); code=$$?; echo "$$out" | tail -3; \
	    [ $$code -eq 0 ] && break; \
	    if [ $$try -eq 1 ] && echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
	      echo "fuzz $$fn: the coordinator's deadline race (golang/go#75804), no failing input: once more"; continue; fi; \
	    echo "$$out"; exit 1; \
	  done; done

## load: the load tests with their figures (requests, errors, duration), loopback only
load:
	$(GO) test -count=1 -run '^TestLoad(OneSession|ManySessions|Batches)$$' -v ./internal/e2e | grep -E '^(---|ok|FAIL)|load:'

## generate: functions/*/main.go, their build targets and the route list (docs/routes.md), from template.yaml
generate:
	$(GO) generate ./...

## lint: formatting, go vet, staticcheck, and openapi.yaml under Redocly CLI's recommended rules
##   (internal/openapi/redocly.yaml says which rules are off and why)
lint: tools
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	node_modules/.bin/redocly lint openapi.yaml --config internal/openapi/redocly.yaml --format=summary

## tools: DynamoDB Local, cfn-guard, Redocly CLI, openapi-typescript (with openapi-fetch and tsc
##   for the generated client's test) from npm, as package-lock.json pins them (npm checks the
##   integrity hashes; no install scripts run; cfn-guard's unused peer aws-cdk-lib is left out)
tools: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --legacy-peer-deps --no-audit --no-fund

## assets: the dashboard's chart library, from node_modules (package-lock.json pins it) into the
##   page's embedded assets (shared/dashboard/web/vendor, not committed); the dashboard's binary,
##   make run and make test build after it
VENDOR = shared/dashboard/web/vendor
assets: $(VENDOR)/uPlot.iife.min.js $(VENDOR)/uPlot.min.css
$(VENDOR)/%: node_modules/.package-lock.json
	@mkdir -p $(VENDOR)
	cp node_modules/uplot/dist/$* $@
build-DashboardFunction: assets

## invoke: run a built function under AWS's Lambda Runtime Interface Emulator against make run's DynamoDB Local
##   make invoke FN=ListUserSessionsFunction EVENT=events/list-user-sessions.json
invoke:
	$(GO) run ./cmd/pulse invoke -fn $(FN) -event $(EVENT)

## bench: measure capacity, latency and cold starts into BENCHMARKS.md (BENCH_FLAGS=-quick: smoke)
bench:
	$(GO) run ./cmd/pulse bench $(BENCH_FLAGS)

## build: every function's bootstrap under bin/<LogicalId>/, as sam build makes them
build:
	@for f in $(FUNCTIONS); do id=$${f%%:*}; \
	  $(MAKE) --no-print-directory build-$$id ARTIFACTS_DIR=$(ARTIFACTS_DIR)/$$id || exit 1; \
	  echo "$(ARTIFACTS_DIR)/$$id/bootstrap"; done

clean:
	rm -rf bin .aws-sam
