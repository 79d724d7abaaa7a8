# The two commands of the README: `make demo` and `make test`. Both set everything up first.
.PHONY: setup demo test lint unit i18n
VENV := .venv/bin

setup:
	./scripts/setup.sh

demo: setup
	$(VENV)/siaga demo

lint: setup
	$(VENV)/ruff check src tests bench
	$(VENV)/mypy

test: setup lint
	$(VENV)/pytest -q

unit: setup
	$(VENV)/pytest -q tests/unit

i18n: setup
	./scripts/i18n.sh
