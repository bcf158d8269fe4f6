# SPDX-License-Identifier: MIT
# Examples (examples/*.c): small programs a user copies from, built like a
# user's program (public headers, the static library) and run by `make
# check` with the unit tests, so that they never rot; the threaded ones by
# `make check TSAN=1` too.

EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
TEST_UNIT += $(EXAMPLES)

$(B)/examples/%: examples/%.c $(B)/libaperture.a | $(B)/.deps-build
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fvisibility=default $< -o $@ $(B)/libaperture.a $(LDFLAGS_ALL) $(LIBS)

.PHONY: examples
examples: $(EXAMPLES)
