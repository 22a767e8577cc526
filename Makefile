# make setup  : create .venv with the pinned requirements (idempotent)
# make test   : run the test suite (what CI runs)
# make demo   : the whole pipeline on the embedded synthetic dataset
PY := .venv/bin/python

.PHONY: setup blender test demo
setup:
	bash scripts/setup.sh

blender:
	bash scripts/setup.sh --blender

test: setup
	$(PY) -m pytest -q

demo: setup
	$(PY) demo.py
