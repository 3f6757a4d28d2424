# Every target creates the virtual environment on first use, so a fresh clone needs only make
# and Python 3.10 or newer.

PYTHON ?= python3
VENV ?= .venv
DB ?= logs.db
LOGS ?= logs
BIN := $(VENV)/bin

.PHONY: ingest serve demo test bench clean

$(BIN)/claude-logs: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

ingest: $(BIN)/claude-logs
	@if [ ! -e "$(LOGS)" ]; then \
		echo "No $(LOGS)/ folder. Save Console log pages there (see README, 'Saving pages')," >&2; \
		echo "or run 'make demo' to ingest the bundled synthetic sample." >&2; \
		exit 1; \
	fi
	$(BIN)/claude-logs ingest $(DB) $(LOGS)

serve: $(BIN)/claude-logs
	$(BIN)/datasette $(DB)

demo: $(BIN)/claude-logs
	rm -f demo.db demo.db-wal demo.db-shm
	@echo "First run:"
	$(BIN)/claude-logs ingest demo.db examples/logs
	@echo "Second run over the same files (nothing new to add):"
	$(BIN)/claude-logs ingest demo.db examples/logs
	@echo "Explore it with: $(BIN)/datasette demo.db"

test: $(BIN)/claude-logs
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) demo.db demo.db-wal demo.db-shm

# Compares ingest and the canned queries with the combine-then-jq workflow on generated pages,
# and writes docs/benchmarks.md. The default size takes a few minutes; the published figures
# use BENCH_ENTRIES=1000000. Generated pages are kept in bench/data/ for the next run.
BENCH_ENTRIES ?= 100000
BENCH_RUNS ?= 3
BENCH_OUTPUT ?= docs/benchmarks.md

bench: $(BIN)/claude-logs
	$(BIN)/python bench/run.py --entries $(BENCH_ENTRIES) --runs $(BENCH_RUNS) --output $(BENCH_OUTPUT)
	@echo "Peak memory of one 100 MB page file and one 100 MB HAR capture:"
	$(BIN)/python bench/formats_memory.py --megabytes 100
	@echo "Dashboard queries:"
	$(BIN)/python bench/dashboard_queries.py --entries $(BENCH_ENTRIES) \
		--db bench/data/dashboard-$(BENCH_ENTRIES).db
