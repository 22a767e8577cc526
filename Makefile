# make setup  : create .venv with the pinned requirements (idempotent)
# make test   : run the test suite (what CI runs)
# make demo   : the whole pipeline on the embedded synthetic dataset
# make app    : the web demo on http://127.0.0.1:7860 (the demo model; see README "Web demo")
# make browser: also install Debian's chromium (the web demo's browser tests need it)
# make pretrained : train, evaluate and export the shipped model (weights/pretrained_synthetic; ~2 h on 2 idle cores)
# make fidelity   : the shipped model's per-family table on 24 clips a family it never saw (~20 min; ARGS=key=value ...)
PY := .venv/bin/python

.PHONY: setup blender browser test demo app pretrained fidelity
setup:
	bash scripts/setup.sh

blender:
	bash scripts/setup.sh --blender

browser:
	bash scripts/setup.sh --browser

test: setup
	$(PY) -m pytest -q

demo: setup
	$(PY) demo.py

app: setup
	$(PY) app.py --cfg configs/demo_finetune.yaml

pretrained: setup
	$(PY) pretrained.py

# Held-out clips from another seed: the test split holds only 5-8 distinct clips a family (README "Per-family fidelity").
FIDELITY := data/synthetic_fidelity
fidelity: setup
	test -f $(FIDELITY)/meta.json || $(PY) prepare/synthetic.py --out $(FIDELITY) --clips 1280 --seed 1
	$(PY) bench/family_bench.py --cfg configs/pretrained_synthetic.yaml test.family_data=$(FIDELITY) \
		test.family_split=train test.family_clips=48 $(ARGS)
