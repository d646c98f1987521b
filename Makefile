PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench chaos clean report-png samples

# The virtualenv is rebuilt whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,pandas]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sharebatch demo

lint: $(STAMP)
	$(BIN)/ruff check runner tests bench
	$(BIN)/mypy
	$(BIN)/vulture runner vulture_whitelist.py --min-confidence 60
	$(BIN)/bandit -q -r runner

# Two pytest-xdist workers: most of the suite waits on sockets, subprocesses and settle windows, so two
# halves overlap well on two cores; worksteal moves queued tests to an idle worker. TEST_WORKERS=0: serial.
TEST_WORKERS ?= 2
test: lint
	$(BIN)/pytest -q -rs -n $(TEST_WORKERS) --dist worksteal

# Seeded chaos episodes against the simulator (tests/chaos/harness.py); prints the seed of any failing one.
SEED ?= 1
EPISODES ?= 200
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos.harness --seed $(SEED) --episodes $(EPISODES)

# Renders the demo's report.html to a PNG in headless Chromium (apt-get install -y chromium).
report-png: $(STAMP)
	$(BIN)/sharebatch demo > /dev/null
	$(BIN)/python tools/render_report_png.py out/demo/report.html out/demo/report.png

# Speed side by side with peers (a few minutes; ARGS=--quick for a smoke run). See bench/README.md.
bench: $(STAMP)
	$(BIN)/python bench/run_bench.py $(ARGS)

# Regenerates the sample inputs and the demo's package data (runner/demo/) from them.
samples: $(STAMP)
	$(BIN)/python samples/make_samples.py samples
	cp samples/shares.csv samples/devices.json runner/demo/
	cp jobs/demo.toml runner/demo/demo.toml

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
