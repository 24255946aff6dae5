# Tracecraft. `make test` is the test command (CI runs it through .ci/run).
GO ?= go

.PHONY: test vet build run bench fuzz ui ui-test

# The whole test command: Go tests (race detector, browser tests included), the web app's unit
# tests, then each fuzz target for FUZZTIME.
test: vet
	$(GO) test -race -count=1 -timeout 40m ./...
	$(MAKE) ui-test
	$(MAKE) fuzz

# Fuzz targets, each explored for FUZZTIME (their seeds and committed corpus under testdata/fuzz
# also run with every `go test`). A failure writes the input to testdata/fuzz: commit it.
FUZZTIME ?= 10s
FUZZ_TARGETS = \
	./engine:FuzzExprCompileEval \
	./api:FuzzBindJSON \
	./forms:FuzzFormDefinition \
	./forms:FuzzRecordPayload \
	./forms:FuzzListQuery \
	./forms:FuzzImportCSV \
	./forms:FuzzImportXLSX \
	./workflow:FuzzFlowDefinition \
	./gs1:FuzzParse \
	./gs1:FuzzDigitalLink \
	./gs1:FuzzItemLink

# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded" when -fuzztime ends
# while a worker is busy (go.dev/issue/75804, fixed in Go 1.27): no input failed and none is
# written. Such a run is said and run once more; any other failure, or that one twice, fails.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		for try in 1 2; do \
			echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
			if $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg > .fuzz.out 2>&1; then cat .fuzz.out; break; fi; \
			cat .fuzz.out; \
			if [ $$try = 1 ] && grep -q '^    context deadline exceeded$$' .fuzz.out && ! grep -q 'Failing input written' .fuzz.out; then \
				echo "fuzz $$name: the coordinator's deadline race (go.dev/issue/75804), no failing input; running it again"; \
			else rm -f .fuzz.out; exit 1; fi; \
		done; \
	done; rm -f .fuzz.out

vet:
	$(GO) vet ./...

build:
	$(GO) build -o bin/tracecraft ./cmd/tracecraft

run:
	$(GO) run ./cmd/tracecraft serve

# Benchmarks run without the race detector (it slows the embedded store about tenfold).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

# The web app (builder-ui/): install the locked packages, run its unit tests, build dist/ (committed
# and embedded in the binary, so Go builds need no Node), then stamp dist with the hash of the
# sources it was built from (TestDistIsFresh in ./builder-ui fails when dist is stale).
ui: ui-test
	cd builder-ui && npm run build
	$(GO) test ./builder-ui -run '^TestDistIsFresh$$' -count=1 -update

# The web app's unit tests (Vitest).
ui-test:
	cd builder-ui && npm ci --no-audit --no-fund && npm test
