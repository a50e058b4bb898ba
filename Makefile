# Two commands set everything up (see README.md):
#   make reproduce   fetch data, build, fit approximations, run the sweeps, write results/
#   make test        the whole test suite (what CI runs)
CARGO   ?= cargo
PROFILE ?= quick
COMPACT := target/release/compact

.PHONY: all test reproduce build

all: build

build:
	$(CARGO) build --release --workspace

test:
	$(CARGO) test --release --workspace

reproduce: build
	@mkdir -p results
	$(COMPACT) list > results/activations.txt
