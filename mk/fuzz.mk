# SPDX-License-Identifier: MIT
# libFuzzer targets (fuzz/*.c), built with clang and ASan + UBSan.
#
#   make fuzz-build           build every target into build-fuzz/
#   make fuzz [FUZZ_TIME=60]  build, then run each target FUZZ_TIME seconds
#                             (default 60) on a copy of its seed corpus
#   make fuzz FUZZ_TARGETS="fuzz_scenario"   only some targets
#
# The library is compiled again here, by clang with the fuzzer's coverage
# instrumentation (objects made by gcc in build/ carry none).  A target that
# crashes, leaks or times out fails `make fuzz`; its input is kept in
# build-fuzz/artifacts/TARGET/.  Inputs in fuzz/regress/TARGET/ (past crashes)
# are replayed at the start of every run.

FUZZ_CC := clang
FUZZ_TIME ?= 60
FZ := build-fuzz
# AP_URCU_CALLS: liburcu's out-of-line read side, as `make SANITIZE=1` uses
# (its inline one trips UBSan's alignment check; see src/core/rcu.h).
FZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -DAP_URCU_CALLS
FZ_CFLAGS := -std=c11 -D_DEFAULT_SOURCE $(WARN) -O1 -g $(FZ_SAN) -Iinclude
FZ_LIB_OBJ := $(LIB_SRC:%.c=$(FZ)/%.o)
# Compare tracing (trace-cmp) off in the page-table layer and the IOTLB; edge
# coverage and ASan + UBSan stay.  libFuzzer's trace-cmp hooks record the
# operands of every comparison, so that mutations can put them into inputs.
# Here the comparisons are of descriptor bits against format constants and of
# IOTLB tags, in loops over every slot of a table (512 at each table a domain
# frees, 256 leaf encodings at each domain it makes) and every entry of a
# set: no input holds a descriptor (the library builds them from IOVAs, sizes
# and permissions, which the core layer above compares, traced), and the
# hooks cost a quarter of fuzz_api_seq's time (perf, issue 15).  These files
# are checked bit for bit against Linux's tables by `make check`; the fuzzer
# still sees every branch of them an input reaches.
FZ_NO_CMP := $(wildcard src/pgtable/*.c) src/core/iotlb.c
$(FZ_NO_CMP:%.c=$(FZ)/%.o): FZ_COV := -fno-sanitize-coverage=trace-cmp
FUZZ_TARGETS ?= $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FZ_BIN := $(FUZZ_TARGETS:%=$(FZ)/%)

.PHONY: fuzz fuzz-build fuzz-deps

fuzz-deps:
	@tools/ensure-deps build clang

$(FZ)/.deps: tools/ensure-deps
	@tools/ensure-deps build clang
	@mkdir -p $(FZ) && touch $@

$(FZ)/src/%.o: src/%.c $(wildcard include/aperture/*.h src/*/*.h src/*/*/*.h) mk/fuzz.mk | $(FZ)/.deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FZ_CFLAGS) -fsanitize=fuzzer-no-link $(FZ_COV) -c $< -o $@

$(FZ)/libaperture.a: $(FZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The targets (not the library) with _GNU_SOURCE, for fopencookie (fuzz_sink.h).
# A target's own code has edge coverage but no compare tracing: its
# comparisons are its oracle's (what the library answered against what its
# model says) and its decoding of input bytes against small constants,
# which mutation finds unaided; tracing them cost fuzz_api_seq a tenth of
# its time (perf, issue 15) and taught the mutator nothing about the
# library, whose comparisons are still traced.
FZ_HARNESS_COV := -fno-sanitize-coverage=trace-cmp
$(FZ)/fuzz_%: fuzz/fuzz_%.c $(wildcard fuzz/*.h) $(FZ)/libaperture.a
	$(FUZZ_CC) $(FZ_CFLAGS) -D_GNU_SOURCE -fsanitize=fuzzer $(FZ_HARNESS_COV) $< -o $@ \
		$(FZ)/libaperture.a $(LIBS)

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory $(FZ_BIN)

fuzz: fuzz-build
	@fuzz/run-fuzz $(FZ) $(FUZZ_TIME) $(FUZZ_TARGETS)
