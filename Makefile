# Tracecraft. `make test` is the test command (CI runs it through .ci/run).
GO ?= go

.PHONY: test vet build run bench

test: vet
	$(GO) test -race -count=1 -timeout 40m ./...

vet:
	$(GO) vet ./...

build:
	$(GO) build -o bin/tracecraft ./cmd/tracecraft

run:
	$(GO) run ./cmd/tracecraft serve

# Benchmarks run without the race detector (it slows the embedded store about tenfold).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...
