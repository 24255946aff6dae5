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

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

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
