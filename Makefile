# The SDE's build and test entry points. Every Go command here passes -tags duckdb_arrow:
# duckdb-go only builds its Arrow API with that tag, and the ingest of Arrow IPC (and later the
# query path and Flight SQL) need it. Use these targets rather than bare `go test`.

TAGS    := -tags duckdb_arrow
GO      ?= go
CACHE   ?= $(HOME)/.cache/sde
PKGS    := ./...

.PHONY: dev test check vet fmt vault web chromium build bench clean

## dev: run the whole service on its embedded defaults (synthetic data, local keyring)
dev:
	$(GO) run $(TAGS) ./cmd/sde serve --dev

## test: everything CI runs — fetch/build what the tests need (Vault dev server, the chart
## library from npm, Debian's Chromium), then vet, gofmt and all tests
test: vault web check
	SDE_VAULT_BIN="$$(scripts/vault.sh)" SDE_CHROMIUM_BIN="$$(scripts/chromium.sh)" \
		$(GO) test $(TAGS) -count=1 -timeout 30m $(PKGS)

## check: gofmt and go vet (fast, no test run)
check: fmt vet

vet:
	$(GO) vet $(TAGS) $(PKGS)

fmt:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## vault: build the Vault dev server for the integration tests (cached under ~/.cache/sde)
vault:
	@scripts/vault.sh >/dev/null

## web: fetch the web UI's chart library from npm into the embedded assets (see scripts/web.sh)
web:
	@scripts/web.sh

## chromium: install Debian's Chromium for the browser tests if missing
chromium:
	@scripts/chromium.sh >/dev/null

## build: the sde binary in ./bin
build:
	$(GO) build $(TAGS) -o bin/sde ./cmd/sde

## bench: the benchmarks recorded in docs/benchmarks.md
bench: vault
	SDE_VAULT_BIN="$$(scripts/vault.sh)" $(GO) test $(TAGS) -run '^$$' -bench . -benchtime 1x -timeout 60m $(PKGS)

clean:
	rm -rf bin sde-data
