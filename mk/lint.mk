# SPDX-License-Identifier: MIT
# Static analysis: `make lint` runs cppcheck and clang-tidy over the library,
# the CLI and the benchmarks, and fails on any finding.  Checks: .clang-tidy;
# suppressions, each with its reason: tools/cppcheck-suppressions.txt,
# tools/clang-tidy-suppressions.txt.  JOBS=N sets clang-tidy's parallelism.

LINT_SRC := $(sort $(wildcard src/*/*.c src/*/*/*.c)) $(sort $(wildcard tools/aperture/*.c)) \
	$(sort $(wildcard bench/*.c))

.PHONY: lint
lint:
	@tools/ensure-deps lint
	@tools/lint $(LINT_SRC)
