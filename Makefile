# Two commands on a fresh machine: `make test` and `make demo`. Each does its own setup.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo bench docs clean chromium

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	# timm's scheduler module needs only torch; its torchvision dependency does not import with this torch.
	$(BIN)/pip install --quiet --no-deps timm
	touch $(STAMP)

test: install chromium
	$(BIN)/python -m pytest -q -n 2 tests

# Debian's Chromium renders the HTML report in the report test; without it that one test is skipped.
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo "chromium not installed: the report's browser test will be skipped"

demo: install
	$(BIN)/lrkit demo

bench: install
	$(BIN)/python benchmarks/bench_schedules.py

docs: install
	$(BIN)/python docs/make_figures.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .hypothesis
