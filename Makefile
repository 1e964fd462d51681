# The README's two commands are `make run` and `make test`.
.PHONY: run test build deps-start deps-stop fmt fuzz chaos

run: ## start local databases (unless configured) and run tradewind all
	scripts/run.sh

test: ## start local databases and run the whole suite with -race
	scripts/test.sh

chaos: ## the chaos suite at full size (real binary, PostgreSQL, Redis, faults); writes docs/chaos.md
	scripts/chaos.sh

build:
	go build -o bin/tradewind ./cmd/tradewind

deps-start:
	scripts/deps.sh start

deps-stop:
	scripts/deps.sh stop

fmt:
	gofmt -w $$(git ls-files '*.go')

FUZZTIME ?= 30s
fuzz: ## run every fuzz target for FUZZTIME each
	@for pkg in $$(go list ./adapters/...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep ^Fuzz); do \
	    echo "== $$pkg $$f"; go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done
