# One set of targets for developers and CI (.ci/run calls `make test` unchanged).
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := core/argoai_core gateway/argoai_gateway reviewer/argoai_reviewer operator/argoai_operator cli/argoai_cli

.PHONY: install run dev test lint typecheck imports pytest faults crds bench bench-gateway bench-review bench-analyzers fmt clean

$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server >/dev/null)
	touch $@

install: $(BIN)/.installed

## run: install, show a review of this repository's last commit, then run ArgoAI locally (argoai dev)
run: install
	-$(BIN)/argoai review --repo . --base HEAD~1
	$(BIN)/argoai dev

dev: run

## test: everything CI checks: lint, types, import boundaries, the whole test suite
test: lint typecheck imports pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy $(PACKAGES)

imports: install
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest

faults: install
	$(BIN)/pytest tests/faults -v

crds: install
	$(BIN)/python scripts/gen_crd.py

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: bench-gateway bench-review bench-analyzers

bench-gateway: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python bench/gateway/run.py

bench-review: install
	$(BIN)/python bench/review/run.py

bench-analyzers: install
	$(BIN)/python bench/analyzers/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
