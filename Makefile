# `make demo`: full benchmark on the built-in synthetic data set. `make test`: the test suite (what CI runs);
# `make test-fast`: the same without the `slow` tests (learning checks). All create .venv when missing and install
# the project into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNS ?= results/runs
SITE ?= site
# pytest-xdist processes for `make test` / `make test-fast`, one compute thread each (see tests/conftest.py)
TEST_WORKERS ?= 2
PYTEST := HF_HUB_OFFLINE=1 $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup

.PHONY: demo test test-fast pdflatex chromium lint bench gpu-check clean-runs

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The demo: every method of `--methods all` with its smoke preset on a small synthetic set (200 known normals, 200
# unlabeled, 50 + 50 validation and 100 + 100 test images); README gives its time and what it prints. One compute
# thread: these small networks gain little from a second one and lose several times over when anything else runs.
DEMO_SET := --set data.n_normal=200 --set data.unlabeled_size=200 --set data.n_val=50 --set data.n_test=100

demo: $(BIN)/.installed
	OMP_NUM_THREADS=1 $(BIN)/bench run --methods all --dataset synthetic --preset smoke $(DEMO_SET) --runs $(RUNS)
	$(BIN)/bench report --dataset synthetic --runs $(RUNS)
	$(BIN)/bench site --runs $(RUNS) --to $(SITE)

test: $(BIN)/.installed pdflatex chromium
	$(BIN)/ruff check .
	$(PYTEST)

test-fast: $(BIN)/.installed pdflatex chromium
	$(PYTEST) -m "not slow"

pdflatex:
	@# pdflatex for the LaTeX-table tests: Debian's texlive-latex-base + texlive-latex-recommended (booktabs), ~40 s
	command -v pdflatex >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	  texlive-latex-base texlive-latex-recommended; }

chromium:
	@# a headless browser for the leaderboard site's tests (tests/report/test_site.py): Debian's chromium
	command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

lint: $(BIN)/.installed
	$(BIN)/ruff check .

bench: $(BIN)/.installed
	$(BIN)/python -m benchmarks

# The first machine with a GPU: both GANs' training step (ours vs plain fp32 eager, paper size), the fast presets and
# the anomalib baselines on synthetic data, bf16-vs-fp32 score agreement, the GANs' learning curves, every method's
# step FLOPs and MFU (benchmarks/flops.py); results/gpu-check.json and .md, < 8 min expected (not yet timed with these).
gpu-check: $(BIN)/.installed
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.gpu_check --out results

clean-runs:
	rm -rf $(RUNS)
