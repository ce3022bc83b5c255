# One way to run everything. The README names these targets.
SHELL := /bin/bash
PY := .venv/bin/python
STAMP := .venv/.install-stamp
N ?= 1000000
SEED ?= 7
QUARTERS ?= 4
UNTIL ?= 2026Q3
export PREFECT_HOME ?= $(CURDIR)/var/prefect
export PREFECT_SERVER_ALLOW_EPHEMERAL_MODE ?= true
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_DATABASE_CONNECTION_URL ?= sqlite+aiosqlite:///$(CURDIR)/var/prefect/prefect.db
export GX_ANALYTICS_ENABLED ?= false
export MPLBACKEND ?= Agg

.PHONY: install demo test test-fast lint format bench bench-national eval clean system-deps

install: $(STAMP)

# Re-install when the package list changes; a missing .venv triggers it too.
$(STAMP): pyproject.toml constraints.txt
	@$(MAKE) --no-print-directory system-deps
	python3 -m venv .venv
	@# pip's warnings about this machine's unused local index folders are noise: filtered.
	set -o pipefail; .venv/bin/pip install --quiet --upgrade pip 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	set -o pipefail; .venv/bin/pip install --quiet -c constraints.txt -e '.[dev]' 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	@touch $(STAMP)

# WeasyPrint needs pango (in the image) and harfbuzz-subset for fast font subsetting.
system-deps:
	@if ! ldconfig -p | grep -q libharfbuzz-subset; then \
	  echo "installing Debian packages: libharfbuzz-subset0 fonts-dejavu-core"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libharfbuzz-subset0 fonts-dejavu-core >/dev/null; \
	fi
	@# The tests start their own throw-away PostgreSQL from the server binaries (tests/conftest.py);
	@# Debian's package would also create and start a "main" cluster: switched off before it is installed.
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing Debian package: postgresql (server binaries for the tests; no cluster is created)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  APT="$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq"; \
	  $$SUDO apt-get update -qq && $$APT postgresql-common >/dev/null && \
	  $$SUDO sed -i 's/^#*[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
	    /etc/postgresql-common/createcluster.conf && \
	  $$APT postgresql >/dev/null; \
	fi
	@# Voikko gives the sentiment lexicon Finnish base forms (tasks/text/sentiment_morph.py); without it the stems still work.
	@if ! ldconfig -p | grep -q libvoikko.so.1 || [ ! -d /usr/lib/voikko ]; then \
	  echo "installing Debian packages: libvoikko1 voikko-fi (Finnish morphology)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libvoikko1 voikko-fi >/dev/null; \
	fi
	@# pdftoppm renders the reports' first pages to PNG in the tests, for a person to look at.
	@if ! command -v pdftoppm >/dev/null 2>&1; then \
	  echo "installing Debian package: poppler-utils (pdftoppm)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq poppler-utils >/dev/null; \
	fi

demo: install
	@mkdir -p var/prefect
	$(PY) -m cxloop.cli demo --seed $(SEED) --quarters $(QUARTERS) --until $(UNTIL)

test: install
	@mkdir -p var/prefect
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m 'not slow'

# Linter, import layers (pyproject [tool.importlinter]) and type checker; CI runs it before the tests.
lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
	.venv/bin/mypy

# Apply the formatter and the linter's safe fixes.
format: install
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench: install
	$(PY) -m tools.bench --rows $(N)
	$(PY) -m tools.bench_effects
	@# Single stages: text analyser (rules), emerging topics, key drivers by office.
	$(PY) -m tools.micro_bench analyser 100000
	@# The learned sentiment model: training on 100,000 rated texts and rules + model texts/s.
	$(PY) -m tools.micro_bench model 100000
	$(PY) -m tools.micro_bench topics 50000
	$(PY) -m tools.micro_bench drivers 2400 400
	@# Rendering: one regional report (serial, per scope) and all 86 reports (85 regions +
	@# national) in parallel processes, on 85 regions / 2,400 offices with a tenth of the rows.
	$(PY) -m tools.bench_national --rows 100000

# The whole national size (1,000,000 rows; ~16 min on 2 cores, 5 of them making the files); KEEP=/dir keeps the database
# for `python -m tools.bench_national --reports-only <folder>`; WORKERS=1 validates and renders
# in one process; DATABASE=postgresql runs it on a throw-away PostgreSQL server.
bench-national: install
	$(PY) -m tools.bench_national $(if $(ROWS),--rows $(ROWS)) $(if $(KEEP),--keep $(KEEP)) \
	  $(if $(WORKERS),--workers $(WORKERS)) $(if $(DATABASE),--database $(DATABASE))

# Text analytics quality on the labelled set in tests/data/text_eval (dev and held-out test splits),
# then on the real dev set (look and score parts).
eval: install
	$(PY) -m tools.text_eval
	@# Transfer to real feedback nobody here wrote (../shared/data/text_real_dev; skipped with a note when absent).
	$(PY) -m tools.text_eval_real --learned --cv 5

clean:
	rm -rf var out .pytest_cache
