# Two commands on a fresh machine: `make test` and `make demo`. Each does its own setup.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo bench docs clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	# timm's scheduler module needs only torch; its torchvision dependency does not import with this torch.
	$(BIN)/pip install --quiet --no-deps timm
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -n 2 tests

demo: install
	$(BIN)/lrkit demo

bench: install
	$(BIN)/python benchmarks/bench_schedules.py

docs: install
	$(BIN)/python docs/make_figures.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .hypothesis
