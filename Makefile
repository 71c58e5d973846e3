# The README's two commands: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export YOLO_OFFLINE := 1
export YOLO_CONFIG_DIR := $(CURDIR)/.cache/ultralytics
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib

.PHONY: setup test test-all demo lint clean examples

setup: $(STAMP)

# Re-install only when the project's metadata changes, so a second `make` is instant.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=python3.11)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@mkdir -p $(YOLO_CONFIG_DIR) $(MPLCONFIGDIR)
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

# Slow tests too (kept out of CI).
test-all: setup
	$(PY) -m pytest -q -m ''

demo: setup
	$(VENV)/bin/screen demo

# The phantom walker videos in examples/ (deterministic: same bytes on every run).
examples: setup
	$(VENV)/bin/screen phantom video examples/phantom_positive.mp4 --label positive --seed 22 \
		--seconds 8 --size 640x360 --distractor clinician
	$(VENV)/bin/screen phantom video examples/phantom_negative.mp4 --label negative --seed 88 \
		--seconds 8 --size 360x640 --distractor passerby
	$(VENV)/bin/screen phantom video examples/phantom_neutral.mp4 --label neutral --seed 65 \
		--seconds 8 --size 640x360

lint: setup
	$(VENV)/bin/ruff check screen tests
	$(VENV)/bin/ruff format --check screen tests

clean:
	rm -rf $(VENV) .cache build *.egg-info
