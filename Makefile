# Two commands on a fresh machine:
#   make studio   installs what is needed and starts the studio on the embedded default model
#   make test     installs what is needed and runs the tests
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: studio test test-slow test-all install install-test bench

$(VENV)/.installed-cpu: pyproject.toml scripts/install.sh
	scripts/install.sh

$(VENV)/.installed-test: $(VENV)/.installed-cpu
	scripts/install.sh --test
	touch $@

install: $(VENV)/.installed-cpu
install-test: $(VENV)/.installed-test

studio: $(VENV)/.installed-cpu
	$(PY) launch.py $(ARGS)

test: $(VENV)/.installed-test
	$(PY) -m pytest $(ARGS)

test-slow: $(VENV)/.installed-test
	$(PY) -m pytest -m "slow" $(ARGS)

test-all: $(VENV)/.installed-test
	$(PY) -m pytest -m "not gpu" $(ARGS)

bench: $(VENV)/.installed-cpu
	$(PY) bench/train_speed.py
	$(PY) bench/memory.py
	$(PY) bench/inference.py
