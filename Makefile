# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# Torch pinned to the wheels these machines keep on disk (see README); any torch>=2.1 works.
TORCH  ?= torch==2.14.1 torchvision==0.29.1
DATA_ROOT ?= $(abspath ../shared/data)
export AVALANCHE_NEUROMOD_DATA ?= $(DATA_ROOT)
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.PHONY: run casestudy test lint install install-dev clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -q -e ".[dev,ray]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The case study into runs/casestudy/ (untracked); `make casestudy` regenerates the committed
# reports/casestudy/ with the command its report names.
run: $(VENV)/.installed
	$(VENV)/bin/avalanche-neuromod run

casestudy: $(VENV)/.installed
	$(VENV)/bin/avalanche-neuromod run --out reports/casestudy --no-progress

test: $(VENV)/.installed-dev
	$(PY) -m ruff check avalanche_neuromod tests benchmarks
	$(PY) -m pytest -q

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check avalanche_neuromod tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache wandb
