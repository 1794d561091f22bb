# Two commands do all set-up: `make demo` and `make test` (both install what they need).
.PHONY: setup demo test lint typecheck bench-engine bench-frames bench-queue bench-gateway clean

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

# The peers each benchmark measures against: decoders in their own venv, the rest as an extra.
bench-frames: setup
	scripts/setup_bench.sh
	.venv-bench/bin/python bench/frames.py

bench-queue bench-gateway: setup
	$(PY) -m pip install --quiet -c scripts/constraints-cpu.txt -e ".[bench]"
	command -v wrk >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || apt-get install -y -qq wrk >/dev/null
	$(PY) bench/$(subst bench-,,$@).py

clean:
	rm -rf .cache .pytest_cache .mypy_cache .ruff_cache
