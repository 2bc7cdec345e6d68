# lbm-model: two set-up commands on a fresh clone: `make demo` and `make test`.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
VENV := .venv
PY := $(VENV)/bin/python
WORLD := data/world-small-seed0
EXPORT := exports/ordinal_logit

.PHONY: install browser demo test test-fast bench params clean

$(VENV)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode --python python3.11
	@touch $@

install: $(VENV)/.installed

# the same commands as the DVC pipeline's stages (dvc.yaml: world -> fit -> score), with the default checks
$(WORLD)/cells.parquet: | install
	$(VENV)/bin/lbm world --scale small --seed 0 --out $(WORLD)

demo: install $(WORLD)/cells.parquet
	$(VENV)/bin/lbm-experiment
	$(VENV)/bin/lbm score --model $(EXPORT) --cells $(WORLD)/cells.parquet --out $(EXPORT)/scores.parquet --aggregate buurt,wijk,gemeente
	$(VENV)/bin/lbm verify $(EXPORT)
	$(VENV)/bin/lbm report $(EXPORT)
	@echo
	@echo "Frozen model : $(EXPORT)/model.json"
	@echo "Cell scores  : $(EXPORT)/scores.parquet (areas: $(EXPORT)/scores_{buurt,wijk,gemeente}.parquet)"
	@echo "MLflow UI    : $(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlruns.db  (then open http://127.0.0.1:5000)"
	@echo "Audit report : $(EXPORT)/report.html (open it in a browser)"

# the report tests open the pages in Debian's Chromium: installed with apt when it is missing
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: install browser
	$(PY) -m pytest -q -n 2 --dist loadfile

test-fast: install
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not slow"

# params.yaml for DVC: the composition `dvc exp run` makes of lbm_model/conf/pipeline.yaml (DVC's own function)
params: install
	$(PY) -c "from dvc.utils.hydra import compose_and_dump; compose_and_dump('params.yaml', None, 'lbm_model.conf', 'pipeline', '.', [])"

# every step's median of 3 runs; the report is rewritten after each step (BENCH_ARGS: e.g. --deadline 13:55 --skip bayes)
bench: install
	$(PY) benchmarks/run_benchmarks.py --scale nl --repeats 3 --out BENCHMARKS.md $(BENCH_ARGS)

clean:
	rm -rf exports runs data/world-* mlruns.db mlartifacts
