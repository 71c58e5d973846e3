# The README's two commands: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export YOLO_OFFLINE := 1
export YOLO_CONFIG_DIR := $(CURDIR)/.cache/ultralytics
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib

.PHONY: setup lock test test-all demo lint clean examples demo-weights demo-weights-compare \
	demo-recalibrate bench bench-full \
	phantom-videos evaluate-videos frontend-train

setup: $(STAMP)

# Re-install only when the project's metadata or the lock changes, so a second `make` is
# instant.  constraints.txt pins every package to the versions the suite passed with: a new
# release of a dependency (typer 0.29 once broke the CLI) cannot slip into a fresh clone.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=python3.11)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,ray]'
	@mkdir -p $(YOLO_CONFIG_DIR) $(MPLCONFIGDIR)
	touch $(STAMP)

# Refresh constraints.txt: resolve pyproject.toml's ranges afresh (newest allowed releases) in
# a throwaway venv and freeze it (setuptools too: torch imports it; pip is only the installer).
# Then `make clean test`, and commit constraints.txt only if the suite passes.
LOCK_VENV ?= .cache/lock-venv
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/pip install --quiet -e '.[dev,ray]'
	{ grep '^#' constraints.txt; $(LOCK_VENV)/bin/pip freeze --all --exclude-editable | grep -v '^pip=='; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf $(LOCK_VENV)

test: setup
	$(PY) -m pytest -q

# Slow tests too (kept out of CI).
test-all: setup
	$(PY) -m pytest -q -m ''

# Screen the three shipped phantom examples (positive with a clinician standing by, negative
# with a passer-by, neutral), then classify the positive walker's ground-truth silhouettes:
# what the model says when segmentation is perfect.
demo: setup
	for label in positive negative neutral; do \
		$(VENV)/bin/screen examples/phantom_$$label.mp4 || exit 1; done
	$(VENV)/bin/screen classify examples/phantom_positive.masks.npz

# The phantom walker videos in examples/ (deterministic: same bytes on every run).
examples: setup
	$(VENV)/bin/screen phantom video examples/phantom_positive.mp4 --label positive --seed 22 \
		--seconds 8 --size 640x360 --distractor clinician
	$(VENV)/bin/screen phantom video examples/phantom_negative.mp4 --label negative --seed 88 \
		--seconds 8 --size 360x640 --distractor passerby
	$(VENV)/bin/screen phantom video examples/phantom_neutral.mp4 --label neutral --seed 65 \
		--seconds 8 --size 640x360

# The committed demo classifier, under an hour on an idle 2-core CPU: a phantom dataset with
# balanced classes (~1 min) -> ScoNet-MT with a short schedule (the paper's recipe, but 8 ids x
# 2 sequences x 30 frames for DEMO_ITERATIONS iterations, lr x0.1 at 50/70/90% of them; ~25 s
# per iteration in fp32 on AVX2, ~12 s in bf16 on AVX512-BF16) -> evaluated on the held-out
# phantom test split (~5-13 min), after calibrating it on the validation split (temperature
# scaling and operating points, ~5-13 min) -> weights/sconet-mt-demo.safetensors (fp16) and
# models/sconet-mt-demo.card.md, whose numbers come from this run.  `make demo-weights-compare`
# also trains plain ScoNet on the same data for the paper's comparison (doubles the time).
DEMO_DIR ?= data/demo
DEMO_ITERATIONS ?= 100
DEMO_SCHEDULE ?= --iterations $(DEMO_ITERATIONS) --batch 8x2 --frames 30 --lr 0.1 \
	--milestones $(shell echo $$(($(DEMO_ITERATIONS)*5/10)),$$(($(DEMO_ITERATIONS)*7/10)),$$(($(DEMO_ITERATIONS)*9/10))) \
	--save-every 20 --seed 0
DEMO_DATA ?= --train 300 --train-ratio 1:1:1 --test 90 --test-ratio 1:1:1 --val 90 --seed 0 \
	--view front,side,front,oblique,front
DEMO_WEIGHTS ?= weights/sconet-mt-demo.safetensors
DEMO_CARD ?= models/sconet-mt-demo.card.md
DEMO_ALSO ?=
DEMO_TRAIN = $(VENV)/bin/screen train $(DEMO_DIR)/phantoms \
	--partition $(DEMO_DIR)/phantoms/partition.json $(DEMO_SCHEDULE) $(DEMO_ALSO) \
	--trained-on "synthetic phantom walkers (screen phantom dataset $(DEMO_DATA))"
DEMO_PUBLISH = $(VENV)/bin/screen demo-weights --phantoms $(DEMO_DIR)/phantoms \
	--mt $(DEMO_DIR)/sconet-mt/sconet-mt-demo.safetensors --weights $(DEMO_WEIGHTS) --card $(DEMO_CARD)
demo-weights: setup
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/screen phantom dataset $(DEMO_DIR)/phantoms $(DEMO_DATA)
	$(DEMO_TRAIN) --out $(DEMO_DIR)/sconet-mt --model sconet-mt --name sconet-mt-demo
	$(DEMO_PUBLISH)

# Calibrate and evaluate the shipped weights again without training (the dataset is built
# if missing; the walkers are the same bytes): after a change to calibration or evaluation.
demo-recalibrate: setup $(DEMO_DIR)/phantoms/partition.json
	$(VENV)/bin/screen demo-weights --phantoms $(DEMO_DIR)/phantoms --mt $(DEMO_WEIGHTS) \
		--weights $(DEMO_WEIGHTS) --card $(DEMO_CARD)

demo-weights-compare: demo-weights
	$(DEMO_TRAIN) --out $(DEMO_DIR)/sconet --model sconet --name sconet-demo
	$(DEMO_PUBLISH) --ce $(DEMO_DIR)/sconet/sconet-demo.safetensors

# The whole tool on labelled videos.  `phantom-videos`: one video per walker of the demo
# dataset's test split (90 walkers: 8 s, 640x360 or 360x640, views, distractors and camera
# motions mixed alike in every class; about 1 min on 2 cores), built only when its manifest
# is missing (the dataset too, as demo-weights builds it).  `evaluate-videos`: `screen
# evaluate` screens every video as `screen batch` does (about 8-15 min with 2 workers;
# resumable), writing $(VIDEOSET_EVAL)/evaluation.json and the printed tables beside it.
VIDEOSET_DIR ?= $(DEMO_DIR)/videos
VIDEO_FILMING ?= --seconds 8 --size 640x360 --workers 2
VIDEOSET_OPTIONS ?= --split test $(VIDEO_FILMING)
VIDEOSET_EVAL ?= $(VIDEOSET_DIR)/evaluation
EVALUATE_OPTIONS ?= --workers 2
phantom-videos: setup $(VIDEOSET_DIR)/videoset.json

$(DEMO_DIR)/phantoms/partition.json: | setup
	$(VENV)/bin/screen phantom dataset $(DEMO_DIR)/phantoms $(DEMO_DATA)

$(VIDEOSET_DIR)/videoset.json: | setup $(DEMO_DIR)/phantoms/partition.json
	$(VENV)/bin/screen phantom videoset $(VIDEOSET_DIR) --from $(DEMO_DIR)/phantoms $(VIDEOSET_OPTIONS)

evaluate-videos: phantom-videos
	mkdir -p $(VIDEOSET_EVAL)
	COLUMNS=100 $(VENV)/bin/screen evaluate $(VIDEOSET_DIR) \
		--partition $(DEMO_DIR)/phantoms/partition.json --out $(VIDEOSET_EVAL) \
		$(EVALUATE_OPTIONS) > $(VIDEOSET_EVAL)/evaluation.txt
	cat $(VIDEOSET_EVAL)/evaluation.txt
	$(VENV)/bin/screen demo-card --videos $(VIDEOSET_EVAL)/evaluation.json \
		--videoset $(VIDEOSET_DIR)/videoset.json --card $(DEMO_CARD)

# The front end's own silhouettes of the training walkers: one video per walker of the train
# split, filmed as phantom-videos films the test split (~3 min), exported by the default offline
# front end as a Scoliosis1K tree (~20 min on 2 cores; both resume).  `make demo-weights
# DEMO_ALSO="--also $(FRONTEND_TRAIN)"` trains on them beside the true silhouettes.
TRAIN_VIDEOS_DIR ?= $(DEMO_DIR)/videos-train
FRONTEND_TRAIN ?= $(DEMO_DIR)/frontend-train
frontend-train: setup $(DEMO_DIR)/phantoms/partition.json
	$(VENV)/bin/screen phantom videoset $(TRAIN_VIDEOS_DIR) --from $(DEMO_DIR)/phantoms \
		--split train $(VIDEO_FILMING)
	$(VENV)/bin/screen silhouettes $(TRAIN_VIDEOS_DIR) --out $(FRONTEND_TRAIN) --quiet

# Speed and memory of the whole pipeline on phantom videos (720p, 20 s and 60 s, made once
# into .cache/bench/): prints a table, writes bench.json.  About 5 minutes on 2 idle cores;
# `bench-full` adds the straightforward reference runs and the in-process batch (~15 minutes).
bench: setup
	$(PY) tests/bench_pipeline.py

bench-full: setup
	$(PY) tests/bench_pipeline.py --full

# The README's pictures of the batch report (headless Chromium) and of `--explain`, from real
# runs on the examples: examples/report.png, report_student.png, attention_positive*.png.
.PHONY: report-pictures
report-pictures: setup
	$(PY) tests/report_pictures.py

lint: setup
	$(VENV)/bin/ruff check screen tests
	$(VENV)/bin/ruff format --check screen tests

clean:
	rm -rf $(VENV) .cache build *.egg-info
