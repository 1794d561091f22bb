# Two commands do all set-up: `make demo` and `make test` (both install what they need).
.PHONY: setup demo test lint typecheck bench-engine clean

VENV ?= .venv
PY := $(VENV)/bin/python

setup:
	scripts/setup.sh

demo:
	scripts/setup.sh --no-vllm
	HF_HUB_OFFLINE=1 $(PY) scripts/demo.py

test: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -p no:cacheprovider --durations=15

lint: setup
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts

typecheck: setup
	$(VENV)/bin/mypy

bench-engine: setup
	HF_HUB_OFFLINE=1 $(PY) bench/engine.py

clean:
	rm -rf .cache .pytest_cache .mypy_cache .ruff_cache
