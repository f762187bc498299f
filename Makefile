# Two commands: `make demo` (the whole DAG on the embedded demo, offline, CPU) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test install clean-demo dry-run benchmark constraints lint test-slurm report gpu-smoke

install: $(STAMP)

# (Re)install when the project's dependency files change.
$(STAMP): pyproject.toml requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements/constraints.txt -e '.[ml,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake all --cores $(CORES) --scheduler greedy --rerun-incomplete --configfile demo/config.yaml
	@echo; cat demo_output/results/tables/table1_dataset_stats.md
	@echo; cat demo_output/results/tables/table2_cq_i2t_by_method.md
	@echo; cat demo_output/results/tables/table3_cq_t2i_by_method.md
	@echo; cat demo_output/results/tables/table6_rec_overview.md
	@echo; cat demo_output/results/tables/tableC1_calibration.md

# The workflow linter, then the test suite. The real-SLURM test (tests/test_slurm.py) installs packages
# and starts daemons, so it runs only when asked: `make test-slurm`, or REQUIRE_SLURM=1 (CI, where it
# must run); a plain `make test` counts it as skipped.
test: $(STAMP)
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakemake --lint --configfile demo/config.yaml

test-slurm: $(STAMP)
	MMPCBENCH_TEST_SLURM=1 $(BIN)/python -m pytest -m slurm

# The demo's model stages on CUDA against the CPU (ci/gpu-smoke.sh): for a machine with an NVIDIA GPU;
# elsewhere it says so and fails. Not part of `make test` (CI has no GPU).
gpu-smoke: $(STAMP)
	bash ci/gpu-smoke.sh

# The HTML report of the demo (every table and figure it has written, with captions).
report: $(STAMP)
	$(BIN)/snakemake --report demo_output/report.html --configfile demo/config.yaml

# Plan every job of the paper run without touching the network.
dry-run: $(STAMP)
	$(BIN)/snakemake -n --quiet rules all

benchmark: $(STAMP)
	$(BIN)/python benchmarks/parse_kcore.py
	$(BIN)/python benchmarks/cq_metrics.py

clean-demo:
	rm -rf demo_output

constraints: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep '==' > requirements/constraints.new
	@echo "review requirements/constraints.new, then move it over requirements/constraints.txt"
