# SPDX-License-Identifier: MIT
# Coverage: the library and the whole test suite built with gcc --coverage
# -O0 in build-cov/, run, and summarised by gcovr per layer.  Counters are
# updated atomically: the concurrent tests run threads.
#
#   make coverage                 build, run every test, print the table
#   make coverage COVERAGE_MIN_LINES=90 COVERAGE_MIN_BRANCHES=80
#                                 ... and fail unless src/core + src/pgtable
#                                 reach those percentages
#   make coverage-html            the same, plus build-cov/html/index.html
#   make coverage-clean
#
# The Makefile's own rules do the building: B, CFLAGS and LDFLAGS given on a
# sub-make's command line reach every compile and link, so the coverage
# build is the ordinary build with other flags in another directory.

COV_B := build-cov
COV_MAKE = $(MAKE) --no-print-directory B=$(COV_B) SANITIZE= TSAN= \
	CFLAGS='-O0 -g --coverage -fprofile-update=atomic' LDFLAGS=--coverage
# Branches the compiler adds on its own (exception edges, and branches gcov
# can see are never taken by construction) are not decisions in our code.
COV_GCOVR = gcovr -r . --object-directory $(COV_B) \
	--exclude-unreachable-branches --exclude-throw-branches
COV_LAYERS := $(notdir $(wildcard src/*))

.PHONY: coverage coverage-html coverage-clean

coverage:
	@tools/ensure-deps build test coverage
	@$(COV_MAKE) all
	@$(COV_MAKE) $(patsubst tests/%.c,$(COV_B)/tests/%,$(wildcard tests/test_*.c))
	@find $(COV_B) -name '*.gcda' -delete
	@rc=0; $(COV_MAKE) check >$(COV_B)/check.log 2>&1 || rc=$$?; \
	 tail -n 1 $(COV_B)/check.log; \
	 [ $$rc = 0 ] || { grep -E 'FAILED|failed:' $(COV_B)/check.log; \
	                   echo "coverage: the test suite failed (log: $(COV_B)/check.log)"; }; \
	 $(COV_GCOVR) --filter src/ --json -o $(COV_B)/coverage.json && \
	 tools/coverage-summary $(COV_B) "$(COVERAGE_MIN_LINES)" "$(COVERAGE_MIN_BRANCHES)" \
	 	|| rc=1; \
	 exit $$rc

# Per-line detail for finding what no test reaches (run `make coverage` first).
coverage-html:
	@mkdir -p $(COV_B)/html
	@$(COV_GCOVR) --filter src/ --html-details -o $(COV_B)/html/index.html
	@echo "coverage: $(COV_B)/html/index.html"

coverage-clean:
	rm -rf $(COV_B)
