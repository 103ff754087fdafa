# The first two targets are the README's first two commands: they set up everything they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

demo: $(STAMP)
	$(BIN)/tradetape demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --durations=15

lint: $(STAMP)
	$(BIN)/ruff check events projections engine tests bench examples
	$(BIN)/mypy --strict events projections engine

bench: $(STAMP)
	$(BIN)/python bench/append.py
	$(BIN)/python bench/replay.py

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) tradetape.db tradetape.db-wal tradetape.db-shm out
