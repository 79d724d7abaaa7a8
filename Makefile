# The two commands of the README: `make demo` and `make test`. Each sets up what it needs first:
# the demo only what it runs, the tests the whole lab.
.PHONY: setup setup-demo demo test lint unit i18n wheel
VENV := .venv/bin

setup:
	./scripts/setup.sh test

setup-demo:
	./scripts/setup.sh demo

demo: setup-demo
	$(VENV)/siaga demo

lint: setup
	$(VENV)/ruff check src tests bench
	$(VENV)/mypy

test: setup lint
	$(VENV)/pytest -q -n 2

unit: setup
	$(VENV)/pytest -q tests/unit

i18n: setup
	./scripts/i18n.sh

# A wheel that carries the templates, catalogs and the front-end packages (from node_modules): dist/
wheel: setup
	$(VENV)/python -m build --wheel --no-isolation -o dist .
