# SPDX-License-Identifier: MIT
# aperture - a userspace IOMMU.  GNU Make, C11.
#
#   make              library (static + shared) and the aperture CLI
#   make run          run the embedded default scenario
#   make check        build and run every test (QEMU's, as a VFIO client of
#                     `aperture shim`, when qemu-system-x86 is installed)
#   make check SANITIZE=1   the same under ASan + UBSan (build-asan/)
#   make check TSAN=1 the concurrent tests under ThreadSanitizer (build-tsan/)
#   make valgrind     the unit tests and scenarios under valgrind
#   make stress       the concurrent tests for longer (STRESS_MS per phase)
#   make bench        benchmarks (not part of check)
#   make install PREFIX=DIR

CC ?= cc
PREFIX ?= /usr/local
VERSION := 0.1.0

ifeq ($(SANITIZE),1)
B := build-asan
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	-DAP_URCU_CALLS
else ifeq ($(TSAN),1)
B := build-tsan
SAN := -fsanitize=thread -fno-omit-frame-pointer
else
B := build
SAN :=
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-qual -Wvla -Wformat=2 -Wundef
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_DEFAULT_SOURCE $(WARN) $(CFLAGS) $(SAN) -fPIC -ftls-model=initial-exec \
	-fvisibility=hidden -Iinclude
LDFLAGS_ALL := $(SAN) $(LDFLAGS)
# What a program linking libaperture.a also links (pkg-config: Libs.private).
LIBS := -lurcu-bp -lfdt -pthread -lm

LIB_SRC := $(wildcard src/util/*.c) $(wildcard src/pgtable/*.c) $(wildcard src/core/*.c) \
	$(wildcard src/core/kinds/*.c) $(wildcard src/pci/*.c) $(wildcard src/vfio/*.c) \
	$(wildcard src/virtio/*.c) $(wildcard src/view/*.c) $(wildcard src/firmware/*.c) \
	$(wildcard src/scenario/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
# The preload library: the library inside, only the interposed libc
# entry points exported.
SHIM_SRC := $(wildcard src/shim/*.c)
SHIM_OBJ := $(SHIM_SRC:%.c=$(B)/%.o)
CLI_SRC := $(wildcard tools/aperture/*.c) bench/bench.c bench/vfio_scale.c
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o) $(B)/tools/aperture/default_scenario.o

TEST_UNIT := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/test_*.c))
# Tests of the command line, run against $(B)/aperture.
TEST_SCRIPTS := $(sort $(wildcard tests/cli/test_*.sh))
# Helpers every unit test links (a virtio driver, the QEMU qtest client).
TEST_LIB_OBJ := $(patsubst %.c,$(B)/%.o,$(wildcard tests/lib/*.c))
TEST_LIB := $(B)/tests/lib/libtest.a
SCENARIOS := tools/aperture/default.scn $(sort $(wildcard tests/scenarios/*.scn tests/bad/*.scn))
MANPAGES := man/aperture.1 man/aperture-scenario.5
# The tests that run threads: what TSan checks (the rest are one thread).
CONCURRENT_TESTS := $(B)/tests/test_concurrent $(B)/tests/test_iotlb $(B)/tests/test_concurrent_ram \
	$(B)/tests/test_thread_errors $(B)/tests/test_vfio_concurrent $(B)/tests/test_pci \
	$(B)/tests/test_vfio_device
ifeq ($(TSAN),1)
TEST_UNIT := $(CONCURRENT_TESTS)
SCENARIOS :=
TEST_SCRIPTS :=
endif
STRESS_MS ?= 5000

.PHONY: all run deps check check-man check-install valgrind stress bench install uninstall clean
all: $(B)/libaperture.a $(B)/libaperture.so $(B)/aperture $(B)/libaperture-shim.so

# The library needs liburcu and libfdt (Debian: liburcu-dev, libfdt-dev),
# installed here if missing.
$(B)/.deps-build: tools/ensure-deps
	@tools/ensure-deps build
	@mkdir -p $(B) && touch $@

$(B)/%.o: %.c $(wildcard include/aperture/*.h src/*/*.h src/*/*/*.h bench/*.h tests/*.h) | $(B)/.deps-build
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/libaperture.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libaperture.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libaperture.so.0 $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(B)/libaperture-shim.so: $(SHIM_OBJ) $(LIB_OBJ) src/shim/exports.map
	$(CC) -shared -Wl,--version-script=src/shim/exports.map $(LDFLAGS_ALL) -o $@ \
		$(SHIM_OBJ) $(LIB_OBJ) $(LIBS) -ldl

# The default scenario is a readable file, embedded as a C string.
$(B)/tools/aperture/default_scenario.c: tools/aperture/default.scn
	@mkdir -p $(dir $@)
	@{ echo '/* SPDX-License-Identifier: MIT */'; \
	   echo '/* generated from tools/aperture/default.scn */'; \
	   echo 'extern const char ap_default_scenario[];'; \
	   echo 'const char ap_default_scenario[] ='; \
	   sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	   echo ';'; } > $@

$(B)/tools/aperture/default_scenario.o: $(B)/tools/aperture/default_scenario.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/aperture: $(CLI_OBJ) $(B)/libaperture.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(B)/libaperture.a $(LIBS)

run: $(B)/aperture
	$(B)/aperture run

# Unit tests use cmocka (Debian: libcmocka-dev).
$(B)/tests/lib/%.o: tests/lib/%.c $(wildcard tests/lib/*.h include/aperture/*.h) | $(B)/.deps-build
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(TEST_LIB): $(TEST_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/tests/%: tests/%.c $(B)/libaperture.a $(TEST_LIB) $(wildcard tests/*.h tests/lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fvisibility=default -Itests $< -o $@ $(TEST_LIB) \
		$(B)/libaperture.a $(LDFLAGS_ALL) -lcmocka $(LIBS)

# Clean-room VFIO programs (tests/shim/*.c): plain C on <linux/vfio.h>, no
# aperture header, run under `aperture shim` by tools/run-shim-tests.
SHIM_TESTS := $(patsubst tests/shim/%.c,$(B)/tests/shim/%,$(wildcard tests/shim/*.c))
# A sanitized shim needs the sanitizer's runtime loaded first in the
# programs it is preloaded into.
ifeq ($(SANITIZE),1)
SHIM_ENV := SHIM_PRELOAD=$(shell $(CC) -print-file-name=libasan.so)
else ifeq ($(TSAN),1)
# (TSan refuses threads in a child of a threaded fork unless told: the
# devices' thread starts again in the child of the fork test.)
SHIM_ENV := SHIM_PRELOAD=$(shell $(CC) -print-file-name=libtsan.so) TSAN_OPTIONS=die_after_fork=0
endif
$(B)/tests/shim/%: tests/shim/%.c tests/shim/cr.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) $(SAN) -pthread $< -o $@ $(LDFLAGS_ALL)

# On a fresh Debian machine, as root, the first check installs cmocka.
deps:
	@tools/ensure-deps build test qemu $(if $(filter 1,$(TSAN)),tsan)

check: deps
	@tools/check-spdx
	@tools/check-layers
	@tools/check-man $(MANPAGES)
	@$(MAKE) --no-print-directory all $(TEST_UNIT) $(SHIM_TESTS)
	@$(SHIM_ENV) tools/run-tests $(B) $(TEST_UNIT) $(TEST_SCRIPTS) -- $(SCENARIOS)
	@$(SHIM_ENV) tools/run-shim-tests $(B) $(SHIM_TESTS)
ifeq ($(SANITIZE)$(TSAN),)
	@tools/run-qemu-tests $(B)
endif
	@$(if $(SAN),,tools/check-install .)

# The manuals are well-formed: groff and man print no warning.
check-man:
	@tools/check-man $(MANPAGES)

# make install into a scratch prefix, then what a user does with it: the
# manuals, the examples built with the README's pkg-config line and run
# with no environment, the tool and its preload library; make uninstall
# leaves nothing.
check-install:
	@tools/check-install .

# Valgrind runs one thread at a time and starves spinning ones, so the
# thread tests are TSan's and ASan's (check TSAN=1, check SANITIZE=1).
VALGRIND_TESTS := $(filter-out $(B)/tests/test_concurrent,$(TEST_UNIT))

valgrind:
	@tools/ensure-deps build test valgrind
	@$(MAKE) --no-print-directory all $(VALGRIND_TESTS)
	@VALGRIND=1 tools/run-tests $(B) $(VALGRIND_TESTS) -- $(SCENARIOS)

stress: deps
	@$(MAKE) --no-print-directory $(CONCURRENT_TESTS)
	@AP_STRESS_MS=$(STRESS_MS) tools/run-tests $(B) $(CONCURRENT_TESTS) --

$(B)/bench/ap-bench: bench/main.c bench/bench.c bench/vfio_scale.c $(B)/libaperture.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) bench/main.c bench/bench.c bench/vfio_scale.c -o $@ $(B)/libaperture.a $(LDFLAGS_ALL) $(LIBS)

# The second part replays issue 14's table workloads against the library at
# commit f6d9080, built from git beside this one (tools/bench-compare).
bench: $(B)/bench/ap-bench
	$(B)/bench/ap-bench
	@CC="$(CC)" tools/bench-compare $(B) --libs "$(LIBS)"

# Where things go; the .pc names the library's directory absolutely (and
# as the rpath), so a relative PREFIX works too.
PREFIX_ABS = $(abspath $(PREFIX))
D := $(DESTDIR)$(PREFIX)
MAN1 := $(D)/share/man/man1
MAN5 := $(D)/share/man/man5
DOCDIR := $(D)/share/doc/aperture
SCHEMADIR := $(D)/share/aperture/json-schema
HEADERS := $(notdir $(wildcard include/aperture/*.h))
SCHEMAS := $(notdir $(wildcard doc/json-schema/*.json))
EXAMPLE_SRC := $(notdir $(wildcard examples/*.c))

install: all
	install -d $(D)/bin $(D)/lib/pkgconfig $(D)/include/aperture $(MAN1) $(MAN5) \
		$(DOCDIR)/examples $(SCHEMADIR)
	install -m 755 $(B)/aperture $(D)/bin/aperture
	install -m 644 $(B)/libaperture.a $(D)/lib/libaperture.a
	install -m 755 $(B)/libaperture.so $(D)/lib/libaperture.so.$(VERSION)
	ln -sf libaperture.so.$(VERSION) $(D)/lib/libaperture.so.0
	ln -sf libaperture.so.0 $(D)/lib/libaperture.so
	install -m 755 $(B)/libaperture-shim.so $(D)/lib/libaperture-shim.so
	install -m 644 include/aperture/*.h $(D)/include/aperture/
	sed -e 's|@PREFIX@|$(PREFIX_ABS)|' -e 's|@VERSION@|$(VERSION)|' aperture.pc.in \
		> $(D)/lib/pkgconfig/aperture.pc
	sed -e 's|@VERSION@|$(VERSION)|' man/aperture.1 > $(MAN1)/aperture.1
	sed -e 's|@VERSION@|$(VERSION)|' man/aperture-scenario.5 > $(MAN5)/aperture-scenario.5
	install -m 644 examples/*.c examples/README.md $(DOCDIR)/examples/
	install -m 644 doc/json-schema/*.json $(SCHEMADIR)/

# Everything install put there, and the directories it made if empty.
uninstall:
	rm -f $(D)/bin/aperture $(D)/lib/libaperture.a $(D)/lib/libaperture.so \
		$(D)/lib/libaperture.so.0 $(D)/lib/libaperture.so.$(VERSION) $(D)/lib/libaperture-shim.so \
		$(D)/lib/pkgconfig/aperture.pc $(MAN1)/aperture.1 $(MAN5)/aperture-scenario.5 \
		$(addprefix $(D)/include/aperture/,$(HEADERS)) \
		$(addprefix $(DOCDIR)/examples/,$(EXAMPLE_SRC) README.md) \
		$(addprefix $(SCHEMADIR)/,$(SCHEMAS))
	-rmdir $(D)/include/aperture $(DOCDIR)/examples $(DOCDIR) $(SCHEMADIR) \
		$(D)/share/aperture 2>/dev/null

clean:
	rm -rf build build-asan build-tsan build-cov build-fuzz

# Further targets, one file a concern (fuzzing, static analysis, coverage).
include $(sort $(wildcard mk/*.mk))
