# crm-funnel: the two commands in the README do all set-up on a fresh machine.
#   make demo   sample events -> DuckDB -> dbt build -> funnel printed
#   make test   pytest (loader, generator, end-to-end on DuckDB and PostgreSQL) + lint

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_EVENTS ?= 60000
DEMO_SEED ?= 42
DEMO_FILE := data/sample/events_$(DEMO_EVENTS)_$(DEMO_SEED).ndjson.gz
DEMO_SHEETS := data/sample/sheets_$(DEMO_EVENTS)_$(DEMO_SEED)
# The sample data ends on 2026-06-30; the demo looks at it from the day after, so the
# forecast, the plan and the lifecycle see an open pipeline (DEMO_AS_OF= : build time).
DEMO_AS_OF ?= 2026-07-01T00:00:00Z
INBOX ?= data/inbox
DBT := $(BIN)/dbt
export DBT_PROFILES_DIR := $(CURDIR)

.PHONY: help install warehouse quality demo pipeline dashboard docs browsers java test test-spark lint bench clean

help:
	@echo "make demo    create .venv, generate $(DEMO_EVENTS) sample events (plus webhooks, a contacts sheet, spend, campaigns), load them into DuckDB, dbt build, print the funnel"
	@echo "make test    all tests: pytest (loader, generator, dbt on DuckDB and PostgreSQL) and lint"
	@echo "make quality load the sample, dbt build, then the Great Expectations suites (Data Docs in target/data_docs/)"
	@echo "make pipeline  load new files from $(INBOX) (INBOX=dir), freshness, dbt build, quality gate, docs: one summary"
	@echo "make dashboard  the Streamlit dashboard on http://127.0.0.1:8501 (after make demo)"
	@echo "make docs    dbt docs (lineage, every model and rule) on http://127.0.0.1:8080"
	@echo "make lint    sqlfluff on models and tests, dbt-score conventions, ruff and mypy --strict on Python"
	@echo "make test-spark  the full dbt build on local Spark (pyspark, Java 17), compared with DuckDB (part of make test)"
	@echo "make bench   benchmark of 100k and 1m generated events on DuckDB and PostgreSQL (SIZE=10m adds 10m): the seed-style pipeline, bulk load, funnel-load, core reports, full and +1% builds, the issue 16 targets; target/bench.json and a dated copy in docs/benchmarks.md"
	@echo "make clean   remove build output, the demo database and sample data"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.10+ (or run make PYTHON=/path/to/python3)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	@touch $@

install: $(STAMP) profiles.yml

profiles.yml:
	cp profiles.yml.example profiles.yml

# One run writes the events and, in DEMO_SHEETS, the matching contacts sheet, spend,
# campaigns, Resend webhooks, Segment calls and queue actions (queue.ndjson, the newest
# of them: a sample written before it existed is written again).
$(DEMO_SHEETS)/queue.ndjson: | $(STAMP)
	@mkdir -p $(dir $(DEMO_FILE))
	$(BIN)/funnel-generate --events $(DEMO_EVENTS) --seed $(DEMO_SEED) --out $(DEMO_FILE) --sheets $(DEMO_SHEETS)

# A production build: dbt's unit tests check the SQL on fixed inputs and run in make test.
warehouse: install $(DEMO_SHEETS)/queue.ndjson
	$(BIN)/funnel-load $(DEMO_FILE) $(DEMO_SHEETS)/resend.ndjson $(DEMO_SHEETS)/segment.ndjson \
		$(DEMO_SHEETS)/queue.ndjson
	$(BIN)/funnel-load --kind contacts $(DEMO_SHEETS)/contacts.csv
	$(BIN)/funnel-load --kind spend $(DEMO_SHEETS)/spend.csv
	$(BIN)/funnel-load --kind campaigns $(DEMO_SHEETS)/campaigns.csv
	$(DBT) source freshness
	$(DBT) build --exclude-resource-type unit_test $(if $(DEMO_AS_OF),--vars '{as_of: "$(DEMO_AS_OF)"}')

quality: warehouse
	$(BIN)/funnel-quality

demo: quality
	$(BIN)/funnel-report

pipeline: install
	$(BIN)/funnel-pipeline --inbox $(INBOX)

dashboard: install
	$(BIN)/streamlit run loaders/crm_funnel/serve/dashboard/app.py --server.headless true \
		--server.port $${PORT:-8501} --server.address 127.0.0.1 \
		--browser.gatherUsageStats false --client.toolbarMode viewer

docs: install
	$(DBT) docs generate
	@echo "dbt docs at http://127.0.0.1:$${PORT:-8080} (Ctrl+C stops)"
	$(BIN)/python -m http.server $${PORT:-8080} --bind 127.0.0.1 --directory target

# The browser tests drive Debian's Chromium (no browser download).
browsers:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else echo "error: the browser tests need /usr/bin/chromium and /usr/bin/chromedriver: sudo apt-get install -y chromium chromium-driver"; exit 2; fi

# The Spark target runs on a local pyspark, which needs a Java runtime.
java:
	@if command -v java >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless; \
	else echo "error: the Spark tests need Java 17: sudo apt-get install -y openjdk-17-jre-headless"; exit 2; fi

# Two workers (three, beside the gates, were slower on these 2 cores); the modules that
# share a warehouse stay on one worker (xdist_group marks). --durations=15 lists the
# slowest tests, so the next slow one is seen when it lands. Then the quality gate on
# the demo data and lint, side by side (-O: each one's output in one piece).
test: install browsers java
	$(BIN)/pytest -n 2 --dist loadgroup --durations=15
	$(MAKE) --no-print-directory -j 2 -O quality lint

test-spark: install java
	$(BIN)/pytest tests/python/test_spark.py

bench: install
	$(BIN)/funnel-bench --sizes 100k,1m$(SIZE:%=,%) --history docs/benchmarks.md

lint: install
	CRM_FUNNEL_DUCKDB_PATH=target/sqlfluff-empty.duckdb $(BIN)/sqlfluff lint models tests/data_tests snapshots
	$(DBT) parse --quiet
	PYTHONPATH=lint $(BIN)/dbt-score lint --namespace crm_funnel_conventions \
		--manifest target/manifest.json --fail-project-under 10 --fail-any-item-under 10
	$(BIN)/ruff check loaders tests lint
	$(BIN)/ruff format --check loaders tests lint
	$(BIN)/mypy

clean:
	rm -rf target logs data/sample crm_funnel.duckdb crm_funnel.duckdb.wal
