# PoxScreen: every target creates .venv on first use and installs into it.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch comes first so pip takes the wheels this machine caches; override for other platforms.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
DIR ?= ../shared/datasets/msid
DATA ?= ../shared/datasets/msid
MODEL ?= resources/models/default.safetensors
OUT ?= results.csv
ARGS ?=
DIST ?= dist

.PHONY: run test screen bench evaluate train-default guard-default lint clean screenshots package package-test translations

$(VENV)/.runtime: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

## make run: open the desktop app (ARGS="--db FILE --screen FOLDER" also work)
run: $(VENV)/.runtime
	$(PY) -m desktop $(ARGS)

## make test: lint and run every test
test: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	OMP_WAIT_POLICY=PASSIVE QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(ARGS)

## make screen DIR=folder [OUT=results.csv] [ARGS="--device cpu"]
screen: $(VENV)/.runtime
	$(VENV)/bin/poxscreen screen "$(DIR)" --recursive --out "$(OUT)" $(ARGS)

## make bench: speed and memory figures (never part of make test)
bench: $(VENV)/.dev
	$(PY) bench/run_all.py

## make evaluate: reproduce the shipped model's test-split figures (report + plots in evaluation/)
evaluate: $(VENV)/.dev
	$(PY) -m trainer evaluate "$(MODEL)" "$(DATA)" --split resources/models/msid_split.json --subset test --out evaluation

## make train-default [FOLDS=5] [CV=runs/cv]: choose the default model's recipe by grouped k-fold
## cross-validation (resumable: finished folds are kept), train it on the recorded split, fit its
## out-of-scope guard, write its model card to $(CV)/final/MODEL_CARD.md and put it to the app's
## promotion gate against the shipped model ($(CV)/final/gate.json). Copying the result over
## resources/models/default.safetensors is a deliberate, reviewed step, taken only if it passes.
FOLDS ?= 5
# the desktop's training child gets the same (engine.training.CHILD_ENV): glibc keeps freed
# activations instead of unmapping them every step (~25% faster on CPU)
TRAIN_ENV = OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1099511627776 MALLOC_TOP_PAD_=1073741824
CV ?= runs/cv
train-default: $(VENV)/.dev
	$(TRAIN_ENV) $(PY) -m trainer.cv run --data "$(DATA)" --split resources/models/msid_split.json --folds $(FOLDS) --out "$(CV)"
	$(TRAIN_ENV) $(PY) -m trainer.cv final --data "$(DATA)" --split resources/models/msid_split.json --folds $(FOLDS) --out "$(CV)"
	$(PY) -m trainer evaluate "$(CV)/final/model.safetensors" "$(DATA)" --split resources/models/msid_split.json --subset test --out "$(CV)/final/evaluation"
	$(PY) -m trainer.model_card "$(CV)/final/model.safetensors" "$(CV)/final/evaluation/report.json" "$(CV)/final/MODEL_CARD.md" --split resources/models/msid_split.json --notes resources/models/selection_notes.md --cv "$(CV)/cv_summary.json"
	$(PY) -m trainer.cv gate --data "$(DATA)" --split resources/models/msid_split.json --out "$(CV)"

## make guard-default: refit the shipped model's out-of-scope guard from its recorded split
guard-default: $(VENV)/.dev
	$(PY) -m trainer.guard "$(MODEL)" --data "$(DATA)" --split resources/models/msid_split.json

## make package: the one-folder desktop app in dist/PoxScreen/ (several minutes; runs under nice)
package: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e ".[package]"
	time nice -n 10 $(PY) -m PyInstaller --noconfirm --log-level WARN \
		--distpath "$(DIST)" --workpath "build/$(notdir $(DIST))" build.spec
	$(PY) bundle/sizes.py "$(DIST)/PoxScreen"

## make package-test: smoke-test the built app (self-test, screen, train, offline, read-only folder)
package-test:
	test -x "$(DIST)/PoxScreen/PoxScreen" || test -f "$(DIST)/PoxScreen/PoxScreen.exe" || $(MAKE) package
	nice -n 10 $(PY) bundle/package_test.py "$(DIST)/PoxScreen"

## make screenshots: the real app on a sample folder, one PNG per screen in docs/screenshots/
## (under Xvfb when xvfb-run is installed, else Qt's offscreen platform)
screenshots: $(VENV)/.dev
	if command -v xvfb-run >/dev/null; then \
		xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m desktop.screenshots; \
	else QT_QPA_PLATFORM=offscreen $(PY) -m desktop.screenshots; fi

## make translations: re-extract PoxScreen's text (engine, trainer, desktop, launcher) into
## resources/locale/poxscreen.pot, merge it into each language's poxscreen.po, compile the .mo
## files the app reads. Commit the .po and .mo together (tests/test_translations.py checks both).
LOCALE_DIR := resources/locale
LANGUAGES := fr pt
translations: $(VENV)/.runtime
	$(VENV)/bin/pybabel extract -F babel.cfg -k _ -k N_ -k ngettext:1,2 --add-location=file \
		--sort-output --project=PoxScreen --copyright-holder="PoxScreen authors" \
		-o $(LOCALE_DIR)/poxscreen.pot engine trainer desktop launcher
	for lang in $(LANGUAGES); do \
		test -f $(LOCALE_DIR)/$$lang/LC_MESSAGES/poxscreen.po || $(VENV)/bin/pybabel init \
			-D poxscreen -i $(LOCALE_DIR)/poxscreen.pot -d $(LOCALE_DIR) -l $$lang || exit 1; \
		$(VENV)/bin/pybabel update -D poxscreen -i $(LOCALE_DIR)/poxscreen.pot -d $(LOCALE_DIR) \
			-l $$lang --no-fuzzy-matching --ignore-obsolete || exit 1; \
	done
	$(VENV)/bin/pybabel compile -D poxscreen -d $(LOCALE_DIR) --statistics

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) build dist .pytest_cache bench/results
