# cnnc - a graph compiler for convolutional networks.
#
#   make            build/cnnc and build/libcnnrt.a
#   make test       the quick loop (about 1 min): unit (Check), golden outputs at
#                   -O2 (cases in parallel), error messages, optimizer IR dumps, CLI
#   make check      the complete gate (planned for at most 15 min on 2 cores; installs
#                   nothing, `make deps check` does): build and unit, then two at a
#                   time: golden at -O0 and -O2, -O2 with BLAS=none and with
#                   --threads 2, errors, CLI, IR, install, determinism, valgrind, a
#                   quick run of the benchmark's optimizer and pruning sections
#                   (python3, no PyTorch), a 5 s fuzz run of each target, three networks of
#                   the differential fuzzer (fuzzdiff-smoke), and the
#                   sanitizer pass (check-san)
#   make check-san  (or check SAN=1) ASan+UBSan in build-san, as san-X suites that
#                   check runs among its own: unit, golden (small cases at -O0 and
#                   -O2, the large ones at -O2; small ones with BLAS=none and
#                   --threads 2), errors, CLI, IR, determinism
#   make golden CASES="a b"  some golden cases only (GOLDEN_OPT="-O2" to pick levels)
#   make golden-isa  golden cases with blocked convs per instruction set (not in check)
#   make check-export  PyTorch exporter round trips (needs python3-torch; not in check)
#   make fuzz       build the libFuzzer targets (clang; `make deps-fuzz` installs it)
#                   and run each FUZZ_SECONDS (default 60)
#   make fuzz-coverage  llvm-cov report of the compiler code the fuzz corpora reach
#   make fuzz-differential  random valid networks at -O0, -O2 and --threads 2 under
#                   ASan+UBSan, compared with each other and with PyTorch (if present),
#                   FUZZDIFF_SECONDS (default 60) or FUZZDIFF_COUNT networks
#   make demo       build and run the LeNet-5 example
#   make views      rewrite every example's NAME.summary.txt and NAME.svg (graphviz)
#   make deps       install missing Debian build packages (needs root or sudo)
#   make install    install cnnc, libcnnrt, cnnrt.h, cnnrt.pc, the man page, the docs
#   make uninstall  remove them again (same PREFIX and DESTDIR as for install)
#   make bench      time the generated code against PyTorch and ONNX Runtime (npm's
#                   (then bench/qnets.py: int8 ResNet-18 and MobileNetV2, QNETS_ARGS=...)
#                   onnxruntime-node in build/ort, installed by deps-bench), -O0 against -O2 and
#                   pruned against unpruned networks (bench/bench.py); BENCH_QUICK=1
#                   for a smoke test, BENCH_NETS=lenet5,cifar_vgg to choose networks,
#                   BENCH_SECTIONS=optimizer,pruning to choose sections (those two need
#                   no PyTorch), BENCH_ARGS=... for more bench.py options
#
# Variables: BLAS=openblas|none   V=1 (echo commands)   CC=...   SAN=1 (sanitizers)
#            CASES="a b" (golden cases)  GOLDEN_OPT="-O0 -O2"  GOLDEN_JOBS=N (default:
#            the CPUs)  CHECK_JOBS=2 (check's suites at a time)
#            PREFIX=/usr/local  DESTDIR= (staging)  BINDIR LIBDIR INCLUDEDIR MANDIR DOCDIR

CC      ?= cc
BLAS    ?= openblas
CFLAGS  ?= -O2 -g
# The generated programs of the sanitizer, --threads and BLAS=none passes are
# compiled for this machine only (PROG_NATIVE= compiles them as the README does).
# Their kernels then have one copy, the one these runs execute, instead of one
# per instruction set chosen at run time (AVX-512, AVX2, SSE, portable): a
# sanitized build of a program takes about a quarter of the time. The plain
# golden pass (make test, and -O0/-O2 in check) compiles every copy, with the
# README's line; make golden-isa runs each copy.
PROG_NATIVE ?= -march=native
# SAN=1: cnnc, the runtime, the tests and every generated test program are built
# with ASan and UBSan (any report is fatal), in their own tree.
ifeq ($(SAN),1)
BUILD   ?= build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
override CFLAGS += $(SAN_FLAGS)
export CNNC_EXTRA_CFLAGS := $(SAN_FLAGS) $(PROG_NATIVE)
endif
BUILD   ?= build
export BUILD
WARN    := -Wall -Wextra -Werror
STD     := -std=c99 -D_POSIX_C_SOURCE=200809L
CPPFLAGS_ALL := -Icompiler -Iruntime -I$(BUILD)/gen
RT_DEFS := $(if $(filter openblas,$(BLAS)),-DCNNRT_OPENBLAS $(shell pkg-config --cflags openblas 2>/dev/null),)
BLAS_LIBS := $(strip $(if $(filter openblas,$(BLAS)),$(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas),))

# What `cnnc --cflags` / `cnnc --libs` print: this build tree's runtime.
CNNC_PATHS := -DCNNC_RUNTIME_INCLUDE='"$(CURDIR)/runtime"' \
              -DCNNC_RUNTIME_LIBDIR='"$(CURDIR)/$(BUILD)"' \
              -DCNNC_BLAS_LIBS='"$(BLAS_LIBS)"'

# Where `make install` puts things. Give `make` the same PREFIX as `make install`
# (e.g. `make PREFIX=/opt/cnnc && sudo make install PREFIX=/opt/cnnc`) and the
# install step compiles nothing.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/cnnc
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# Where the installed cnnc and cnnrt.pc are built (the tests use their own).
INSTALL_BUILD ?= $(BUILD)/install
VERSION    := $(shell sed -n 's/^\#define CNNC_VERSION "\(.*\)"/\1/p' compiler/main.c)

ifeq ($(V),1)
Q :=
else
Q := @
endif

COMPILER_SRC := $(wildcard compiler/*.c compiler/ops/*.c)
COMPILER_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(COMPILER_SRC)) $(BUILD)/gen/parser.o $(BUILD)/gen/lexer.o
LIB_OBJ      := $(filter-out $(BUILD)/compiler/main.o,$(COMPILER_OBJ))
RUNTIME_SRC  := $(wildcard runtime/*.c)
RUNTIME_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(RUNTIME_SRC))
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
UNIT_BIN     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
HEADERS      := $(wildcard compiler/*.h compiler/ops/*.h) $(BUILD)/gen/parser.h
TOOLS        := $(BUILD)/tools/f32cmp $(BUILD)/tools/f32gen

.PHONY: all views test check check-san san-golden san-golden-large san-golden-noblas \
        san-golden-threads san-unit san-determinism san-cli san-errors san-ir check-export bench bench-smoke deps-bench deps-fuzz unit golden golden-isa golden-noblas golden-threads errors cli ir install-test determinism valgrind valgrind-full \
        demo deps clean format install uninstall FORCE fuzz fuzz-build fuzz-smoke fuzz-coverage \
        fuzz-differential fuzzdiff-smoke
all: $(BUILD)/cnnc $(BUILD)/libcnnrt.a $(TOOLS) $(BUILD)/pkgconfig/cnnrt-uninstalled.pc \
     $(INSTALL_BUILD)/cnnc $(INSTALL_BUILD)/cnnrt.pc

# The build's configuration: rewritten only when it changes, and a prerequisite
# of every object, so `make BLAS=none` (or new CFLAGS, CC) after `make` rebuilds
# what it must instead of linking stale objects.
CONFIG_STAMP := $(CC) | $(CFLAGS) | $(RT_DEFS) | $(BLAS_LIBS)
$(BUILD)/config: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CONFIG_STAMP)' | cmp -s - $@ || echo '$(CONFIG_STAMP)' > $@

$(BUILD)/cnnc: $(COMPILER_OBJ) $(BUILD)/libcnnrt.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $(COMPILER_OBJ) -lm

$(BUILD)/libcnnrt.a: $(RUNTIME_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/gen/parser.c $(BUILD)/gen/parser.h: grammar/parser.y
	@mkdir -p $(BUILD)/gen
	@echo "  BISON   $<"
	$(Q)bison -Wall -Werror --defines=$(BUILD)/gen/parser.h -o $(BUILD)/gen/parser.c $<

$(BUILD)/gen/lexer.c $(BUILD)/gen/lexer.h: grammar/lexer.l $(BUILD)/gen/parser.h
	@mkdir -p $(BUILD)/gen
	@echo "  FLEX    $<"
	$(Q)flex --header-file=$(BUILD)/gen/lexer.h -o $(BUILD)/gen/lexer.c $<

# Generated scanner/parser code: same warnings, minus the ones flex's skeleton trips.
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c $(HEADERS) $(BUILD)/gen/lexer.h $(BUILD)/config
	@echo "  CC      $<"
	$(Q)$(CC) $(STD) $(WARN) -Wno-unused-function -Wno-sign-compare $(CFLAGS) $(CPPFLAGS_ALL) -c -o $@ $<

$(BUILD)/compiler/%.o: compiler/%.c $(HEADERS) $(BUILD)/gen/lexer.h $(BUILD)/config
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(STD) $(WARN) $(CFLAGS) $(CPPFLAGS_ALL) $(CNNC_PATHS) -c -o $@ $<

$(BUILD)/runtime/%.o: runtime/%.c runtime/cnnrt.h $(BUILD)/config
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(STD) $(WARN) -pedantic $(CFLAGS) $(RT_DEFS) -Iruntime -c -o $@ $<

# Test tools; f32cmp shares the runtime's comparison (cnnrt_compare_f32).
$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libcnnrt.a runtime/cnnrt.h $(BUILD)/config
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(STD) $(WARN) $(CFLAGS) -Iruntime -o $@ $< $(BUILD)/libcnnrt.a $(BLAS_LIBS) -lm

CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lm)
$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB_OBJ) $(BUILD)/libcnnrt.a $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(STD) $(WARN) $(CFLAGS) $(CPPFLAGS_ALL) $(shell pkg-config --cflags check 2>/dev/null) \
	    -o $@ $< $(LIB_OBJ) $(BUILD)/libcnnrt.a $(BLAS_LIBS) $(CHECK_LIBS) -lm

# ---- install ---------------------------------------------------------------
#
# The installed cnnc must print installed paths for --cflags and --libs, so it
# is a binary of its own: main.c compiled again with the install directories in
# place of this build tree's, linked with the same objects. Paths fixed at build
# time are the usual Unix way and need no code: finding the prefix from the
# binary's own location (/proc/self/exe) would be Linux-only and would break as
# soon as BINDIR, LIBDIR and INCLUDEDIR are not siblings. DESTDIR only stages
# the files; the binary and cnnrt.pc name PREFIX. The stamp `paths` holds the
# directories and is rewritten only when they change, so a new PREFIX
# recompiles main.c and nothing else.

INSTALL_PATHS := -DCNNC_RUNTIME_INCLUDE='"$(INCLUDEDIR)"' \
                 -DCNNC_RUNTIME_LIBDIR='"$(LIBDIR)"' \
                 -DCNNC_BLAS_LIBS='"$(BLAS_LIBS)"'
INSTALL_STAMP := $(PREFIX) $(BINDIR) $(INCLUDEDIR) $(LIBDIR) $(BLAS_LIBS) $(VERSION)

$(INSTALL_BUILD)/paths: FORCE
	@mkdir -p $(dir $@)
	@echo '$(INSTALL_STAMP)' | cmp -s - $@ || echo '$(INSTALL_STAMP)' > $@

$(INSTALL_BUILD)/main.o: compiler/main.c $(HEADERS) $(BUILD)/gen/lexer.h $(INSTALL_BUILD)/paths
	@echo "  CC      $< (installed paths)"
	$(Q)$(CC) $(STD) $(WARN) $(CFLAGS) $(CPPFLAGS_ALL) $(INSTALL_PATHS) -c -o $@ $<

$(INSTALL_BUILD)/cnnc: $(INSTALL_BUILD)/main.o $(LIB_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ -lm

# cnnrt.pc from runtime/cnnrt.pc.in: once for the install directories, and once
# as cnnrt-uninstalled.pc for this build tree (pkg-config prefers NAME-uninstalled.pc
# when it is on PKG_CONFIG_PATH; examples/embed's CMake project uses it).
PC_SUBST = sed -e 's|@VERSION@|$(VERSION)|' -e 's|@BLAS_LIBS@|$(BLAS_LIBS)|' \
               -e 's|@PREFIX@|$(1)|' -e 's|@BINDIR@|$(2)|' -e 's|@INCLUDEDIR@|$(3)|' -e 's|@LIBDIR@|$(4)|'

$(INSTALL_BUILD)/cnnrt.pc: runtime/cnnrt.pc.in $(INSTALL_BUILD)/paths
	$(Q)$(call PC_SUBST,$(PREFIX),$(BINDIR),$(INCLUDEDIR),$(LIBDIR)) $< > $@

$(BUILD)/pkgconfig/cnnrt-uninstalled.pc: runtime/cnnrt.pc.in Makefile
	@mkdir -p $(dir $@)
	$(Q)$(call PC_SUBST,$(CURDIR),$(CURDIR)/$(BUILD),$(CURDIR)/runtime,$(CURDIR)/$(BUILD)) $< > $@

install: $(INSTALL_BUILD)/cnnc $(BUILD)/libcnnrt.a $(INSTALL_BUILD)/cnnrt.pc
	install -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(LIBDIR)' '$(DESTDIR)$(INCLUDEDIR)' \
	    '$(DESTDIR)$(PKGCONFIGDIR)' '$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(DOCDIR)'
	install -m 755 $(INSTALL_BUILD)/cnnc '$(DESTDIR)$(BINDIR)/cnnc'
	install -m 644 $(BUILD)/libcnnrt.a '$(DESTDIR)$(LIBDIR)/libcnnrt.a'
	install -m 644 runtime/cnnrt.h '$(DESTDIR)$(INCLUDEDIR)/cnnrt.h'
	install -m 644 $(INSTALL_BUILD)/cnnrt.pc '$(DESTDIR)$(PKGCONFIGDIR)/cnnrt.pc'
	install -m 644 docs/cnnc.1 '$(DESTDIR)$(MANDIR)/man1/cnnc.1'
	install -m 644 README.md docs/language.md '$(DESTDIR)$(DOCDIR)/'

uninstall:
	rm -f '$(DESTDIR)$(BINDIR)/cnnc' '$(DESTDIR)$(LIBDIR)/libcnnrt.a' \
	    '$(DESTDIR)$(INCLUDEDIR)/cnnrt.h' '$(DESTDIR)$(PKGCONFIGDIR)/cnnrt.pc' \
	    '$(DESTDIR)$(MANDIR)/man1/cnnc.1' \
	    '$(DESTDIR)$(DOCDIR)/README.md' '$(DESTDIR)$(DOCDIR)/language.md'
	rmdir '$(DESTDIR)$(DOCDIR)' 2>/dev/null || true

FORCE:

# ---- tests -----------------------------------------------------------------
#
# `make test` is the quick loop, `make check` the complete gate (see the header).
# check runs its suites two at a time (make -j2 --output-sync: each suite's
# output comes out whole, in the order they finish), the golden runner also runs
# GOLDEN_JOBS cases at a time; CHECK_JOBS=N runs N suites at a time.
#
# What each piece costs, in CPU seconds (user+sys), each run alone with nice 10
# on a busy 2-core machine (load average 3 to 8, 2026-12-04; wall times there
# were 2-6 times these). On 2 idle cores a parallel piece takes about CPU/2 wall,
# a serial one about CPU.
#   build: all 6.5, the SAN tree (all + unit tests) 29, noblas tree 6
#   unit 3.7 (with its build), errors 5.4, ir 2.5, cli 5.3, install-test 3.8,
#   determinism 8.9, bench-smoke 5.3, valgrind 41 (serial: 8 programs)
#   golden, 127 cases: -O0 49, -O2 47 (resnet18 7, the other 126 under 3 each),
#     noblas -O2 45 (now only the cases whose C calls BLAS, GOLDEN_NEEDS:
#     64 of 163, 51 CPU s, 2026-12-05), threads -O2 56
#   SAN: unit ~3, errors 18, cli 22, ir 7.7, determinism 28;
#     golden, the 121 small cases: -O0 ~82, -O2 ~89; the 6 large ones
#     at -O0 / -O2: resnet18 33 / 26, resnet18_batch2 ~33 / ~27, the
#     mobilenet_v2 and cifar_vgg ones 5-7 each; noblas and threads on the
#     small cases ~90 each (estimated from -O2)
#   fuzz-smoke: its build ~30, then 5 s wall per target (3)
#   make test: 58-61 (96-99 s wall at load 2.6-5.5, nice 10; idle estimate about
#     40 s; measured from a fresh clone, otherwise
#     idle, 2026-12-04: 93 s wall, 136 CPU s)
#   make check, fresh clone, builds included: 955 (825 user + 130 sys; 32 min
#     wall at load 11.7 -> 7.4, nice 10); idle estimate CPU/2 plus packing, about
#     8-9 min, within the 15 min planned; measured from a fresh clone, otherwise idle,
#     2026-12-04, with the ops, tiles and suites added since: 13 min 14 s wall, 25.5 CPU min
# The previous check ran all of the plain pass again under SAN, one piece at a
# time (about 1150 CPU s; 16 min on 2 idle cores).
#
# Against the previous check, the sanitizer pass (ASan+UBSan, check-san) leaves
# out only the 6 large golden cases (GOLDEN_LARGE) at -O0, with BLAS=none and
# with --threads 2: 3 of their 4 sanitized runs, about 240 of the old ~1150 CPU
# s. They still run once under the sanitizers, at -O2, and at every level in the
# plain pass; san-determinism runs the sanitized cnnc on them; their kernels are
# the small cases' kernels, bigger (mini_mobilenet, tiny_fpn, kern_*, block_*
# cover the same code at -O0, BLAS=none and --threads 2 under the sanitizers).
# install-test and valgrind skip themselves in a SAN build, as before.

# The golden cases that are whole networks (the examples').
GOLDEN_LARGE := cifar_vgg cifar_vgg_batch2 mobilenet_v2 mobilenet_v2_batch2 resnet18 resnet18_batch2
GOLDEN_ALL   := $(patsubst tests/golden/%/,%,$(wildcard tests/golden/*/))
GOLDEN_SMALL := $(filter-out $(GOLDEN_LARGE),$(GOLDEN_ALL))
CHECK_JOBS   ?= 2
# `make deps test` / `make deps check`: deps first, even with -j.
DEPS_FIRST   := $(filter deps,$(MAKECMDGOALS))

test: $(DEPS_FIRST)
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory golden GOLDEN_OPT=-O2
	@$(MAKE) --no-print-directory errors ir cli

# check's suites, the longest first (make starts them in this order).
CHECK_SUITES := golden san-golden valgrind san-golden-large san-golden-noblas \
                san-golden-threads golden-threads golden-noblas san-unit fuzz-smoke fuzzdiff-smoke \
                san-determinism san-cli san-errors san-ir determinism errors cli ir \
                install-test bench-smoke check-quant check-calib
SAN_SUITES   := $(filter san-%,$(CHECK_SUITES))

ifeq ($(SAN),1)
# `make check SAN=1`: the sanitizer pass only.
check: check-san
SAN_BUILD := $(BUILD)
else
check: $(DEPS_FIRST)
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SAN=1 BUILD=$(BUILD)-san all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) --output-sync=target $(CHECK_SUITES)
	@echo "  CHECK   all passed"
SAN_BUILD := $(BUILD)-san
endif

# The sanitizer pass: cnnc, the runtime, the unit tests and every generated
# program with ASan+UBSan, in $(BUILD)-san (or BUILD with SAN=1). Each san-X
# suite is X in that tree.
SAN_MAKE := $(MAKE) --no-print-directory SAN=1 BUILD=$(SAN_BUILD)
check-san:
	@$(SAN_MAKE) all
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) --output-sync=target $(SAN_SUITES)

san-golden:
	@$(SAN_MAKE) golden GOLDEN_OPT="-O0 -O2" CASES="$(GOLDEN_SMALL)"
san-golden-large:
	@$(SAN_MAKE) golden GOLDEN_OPT=-O2 CASES="$(GOLDEN_LARGE)"
san-golden-noblas san-golden-threads:
	@$(SAN_MAKE) $(patsubst san-%,%,$@) CASES="$(GOLDEN_SMALL)"
san-unit san-determinism san-cli san-errors san-ir:
	@$(SAN_MAKE) $(patsubst san-%,%,$@)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "  UNIT    $$t"; CK_FORK=yes $$t; done

# Every case (or CASES="a b") at GOLDEN_OPT (default -O0 and -O2).
golden: all
	@bash tests/run-golden.sh $(CASES)

# The portable runtime (BLAS=none) in a build tree of its own, at -O2.
NOBLAS_BUILD := $(BUILD)/noblas
golden-noblas:
	@$(MAKE) --no-print-directory BLAS=none BUILD=$(NOBLAS_BUILD) $(NOBLAS_BUILD)/cnnc \
	    $(NOBLAS_BUILD)/tools/f32cmp $(NOBLAS_BUILD)/tools/f32gen
	@GOLDEN_BUILD=$(CURDIR)/$(NOBLAS_BUILD) GOLDEN_OPT=-O2 GOLDEN_NEEDS='cnnrt_sgem[mv]' \
	    CNNC_EXTRA_CFLAGS="$(CNNC_EXTRA_CFLAGS) $(PROG_NATIVE)" bash tests/run-golden.sh $(CASES)

# Generated code with --threads 2, compiled with OpenMP (passive waiting, so a
# busy machine does not make the threads spin against each other). Only the
# cases whose C has a loop split over threads or calls BLAS (87 of 221 on
# 2026-12-06) run; in the others --threads 2 changes nothing but the preamble.
golden-threads: all
	@OMP_WAIT_POLICY=passive GOLDEN_OPT=-O2,--threads=2 CNNC_EXTRA_CFLAGS="$(SAN_FLAGS) $(PROG_NATIVE) -fopenmp" \
	    GOLDEN_NEEDS='^[[:space:]]+NET_PARALLEL_FOR|cnnrt_sgem[mv]' bash tests/run-golden.sh $(CASES)

# The golden cases with blocked or depthwise convs at plain -O2, once per instruction
# set of the kernels' copies (CNNRT_ISA=sse, avx2, avx512) and once portable
# (issue 15; not in check: 403 s, 53 cases x 4, on the shared 2-core machine).
golden-isa: all
	@bash tests/run-golden-isa.sh

errors: all
	@bash tests/run-errors.sh

cli: all
	@bash tests/cli/driver.sh
	@bash tools/example-views.sh --check $(BUILD)/cnnc

# Every example's --summary and --emit=dot picture, beside its .cnn (needs graphviz).
views: all
	@bash tools/example-views.sh $(BUILD)/cnnc

# The optimizer: IR dumps after the passes (tests/ir/) and its options; the layout
# rules of docs/design.md (no compiler file over 900 lines, no call cycle).
ir: all
	@bash tests/run-ir.sh
	@bash tests/check-layout.sh $(BUILD)
	@bash tests/cli/passes.sh
	@bash tests/cli/prune.sh
	@bash tests/cli/quantize.sh

install-test: all
	@bash tests/install/run.sh

check-export: all
	@bash tests/export/run.sh

# PyTorch's quantized models (eager and FX, onednn and qnnpack) through
# tools/torch2cnn.py and cnnc, compared with PyTorch's quantized outputs
# (tests/quant/run.py; skips without python3-torch).
.PHONY: check-quant
check-quant: all
	@if /usr/bin/python3 -c 'import torch' 2>/dev/null; then \
	    /usr/bin/python3 tests/quant/run.py --build $(BUILD); \
	else echo "check-quant: skipped: /usr/bin/python3 cannot import torch"; fi

# cnnc's own int8 quantization on the Fashion-MNIST example: float against
# --quantize=int8 with each observer on the 10,000 test images (about a
# minute; skips without dataset-fashion-mnist).
.PHONY: check-calib
check-calib: all
	@bash tests/check-calib.sh

# ONNX import (tools/onnx2cnn.py): its error tests and libonnx-testdata's conformance tests;
# skips when python3-onnx or libonnx-testdata is missing. Not part of check.
.PHONY: check-onnx
check-onnx: all
	@bash tests/onnx/run.sh

determinism: all
	@bash tests/run-determinism.sh

# cnnc and every example's generated program under valgrind (skipped in SAN builds: ASan and
# valgrind do not mix). check leaves out resnet18 (99 s under memcheck, more than
# all the others together; its kernels are cifar_vgg's and tiny_fpn's, and it
# runs under ASan in san-golden-large); valgrind-full runs every example.
VALGRIND_SKIP ?= resnet18/resnet18
valgrind: all
	@VALGRIND_SKIP="$(VALGRIND_SKIP)" bash tests/run-valgrind.sh
valgrind-full: all
	@VALGRIND_SKIP= bash tests/run-valgrind.sh

# ---- fuzzing (libFuzzer: clang with ASan and UBSan) -------------------------

FUZZ_CC      ?= clang-14
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
# (the warning flag: clang on a bison-generated range check that is always true)
FUZZ_WFLAGS  := -Wno-tautological-constant-out-of-range-compare
FUZZ_CFLAGS  := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
                $(FUZZ_WFLAGS)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_OBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(STD) $(WARN) $(CFLAGS) -fsanitize=fuzzer $(CPPFLAGS_ALL) -o $@ $< $(LIB_OBJ) -lm

deps-fuzz:
	@bash tools/install-deps.sh fuzz

fuzz-build:
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) CFLAGS="$(FUZZ_CFLAGS)" SAN= \
	    $(patsubst %,$(FUZZ_BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))

# Each target runs FUZZ_SECONDS from its committed seeds (only read) and
# $(FUZZ_BUILD)/corpus/TARGET, where new inputs go; crashes go to $(FUZZ_BUILD)/crashes/.
fuzz: deps-fuzz
	@$(MAKE) --no-print-directory fuzz-build
	@bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Coverage of the compiler by each target's corpus (committed seeds plus
# $(FUZZ_BUILD)/corpus/TARGET), with llvm-cov.
fuzz-coverage:
	$(MAKE) BUILD=$(FUZZ_BUILD)-cov CC=$(FUZZ_CC) SAN= \
	    CFLAGS="-O0 -g -fprofile-instr-generate -fcoverage-mapping -fsanitize=fuzzer-no-link $(FUZZ_WFLAGS)" \
	    $(patsubst %,$(FUZZ_BUILD)-cov/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@bash tests/fuzz/coverage.sh $(FUZZ_BUILD)-cov \
	    $(foreach t,$(FUZZ_TARGETS),$(t):$(or $(FUZZ_CORPUS),$(FUZZ_BUILD)/corpus)/$(t))

# For make check: a few seconds per target, skipped without clang and libFuzzer
# (installs nothing: `make deps-fuzz` does).
fuzz-smoke:
	@if bash tests/fuzz/run.sh --available $(FUZZ_CC); then \
	    $(MAKE) --no-print-directory fuzz-build && \
	    bash tests/fuzz/run.sh $(FUZZ_BUILD) $(or $(FUZZ_SMOKE_SECONDS),5) $(FUZZ_TARGETS); \
	else \
	    echo "  FUZZ    skipped: $(FUZZ_CC) with libFuzzer not found (apt-get install clang-14 libclang-rt-14-dev)"; \
	fi

# The differential fuzzer of the generated code (tests/fuzz/differential.sh):
# random valid networks (tests/fuzz/gen_net.c, gen_ops.c) at -O0, -O2 and --threads 2,
# compiled with -Werror and ASan+UBSan, run, and compared with each other and
# with PyTorch where /usr/bin/python3 has it. FUZZDIFF_SECONDS (default 60) or
# FUZZDIFF_COUNT networks; FUZZDIFF_SEED the first seed; findings go to
# $(BUILD)/fuzzdiff/findings/.
FUZZDIFF_SECONDS ?= 60
GEN_NET_SRC := tests/fuzz/gen_net.c tests/fuzz/gen_ops.c
$(BUILD)/tools/gen_net: $(GEN_NET_SRC) tests/fuzz/gen_net.h $(LIB_OBJ) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $(GEN_NET_SRC)"
	$(Q)$(CC) $(STD) $(WARN) $(CFLAGS) $(CPPFLAGS_ALL) -o $@ $(GEN_NET_SRC) $(LIB_OBJ) -lm

fuzz-differential: all $(BUILD)/tools/gen_net
	@bash tests/fuzz/differential.sh $(if $(FUZZDIFF_COUNT),--count $(FUZZDIFF_COUNT),--seconds $(FUZZDIFF_SECONDS)) \
	    $(if $(FUZZDIFF_SEED),--seed $(FUZZDIFF_SEED))

# For make check: three fixed networks (seeds 1638-1640: 31 of the 55 ops and prune),
# without PyTorch, a few seconds, so that a broken generator or driver is caught.
fuzzdiff-smoke: all $(BUILD)/tools/gen_net
	@FUZZDIFF_TORCH=0 bash tests/fuzz/differential.sh --count 3 --seed 1638

demo: deps
	$(MAKE) all
	$(MAKE) -C examples/lenet5 run

deps:
	@bash tools/install-deps.sh

# ---- benchmark (not part of check: needs python3, and PyTorch if it can) ----

# For make check: bench.py's two sections that need no PyTorch, quick, on two small
# networks; --check fails on wrong counts (-O2's arena above -O0's, pruned networks
# not smaller, -O0 and -O2 outputs differing), never on times. About 10 s; skipped
# without python3.
bench-smoke: all
	@if command -v python3 >/dev/null 2>&1; then \
	    echo "  BENCH   optimizer and pruning sections, quick (bench.py --check)"; \
	    python3 bench/bench.py --quick --check --sections optimizer,pruning \
	        --nets lenet5,fmnist_pruning --out $(BUILD)/bench/smoke.md \
	        > $(BUILD)/bench-smoke.log 2>&1 || { cat $(BUILD)/bench-smoke.log; exit 1; }; \
	else \
	    echo "  BENCH   skipped: no python3"; \
	fi

deps-bench:
	@bash tools/install-deps.sh bench

bench: deps-bench
	$(MAKE) all
	/usr/bin/python3 bench/bench.py $(if $(filter-out 0,$(BENCH_QUICK)),--quick) \
	    $(if $(BENCH_NETS),--nets $(BENCH_NETS)) \
	    $(if $(BENCH_SECTIONS),--sections $(BENCH_SECTIONS)) $(BENCH_ARGS)
	/usr/bin/python3 bench/qnets.py --results bench/RESULTS.md $(QNETS_ARGS)

format:
	clang-format -i compiler/*.c compiler/*.h compiler/ops/*.c runtime/*.c runtime/*.h tests/unit/*.c tests/tools/*.c \
	    tests/fuzz/*.c

clean:
	rm -rf $(BUILD) $(BUILD)-san $(FUZZ_BUILD) $(FUZZ_BUILD)-cov

# ---- real models (not part of check: needs python3-torch and torchvision; slow) ----
#
# make check-models: torchvision's models (random weights) exported with torch2cnn,
# compiled at -O2 and -O0, built with cc -O2, run and compared with PyTorch; a table
# to stdout and $(BUILD)/models/report.md (tests/models/run.py). MODELS=resnet18,alexnet
# to choose, MODELS_TIMEOUT=S per model (default 1800). Also times the -O2 program
# against PyTorch frozen (1 thread, batch 1); all 25 take about 10 minutes: run it
# niced on a shared machine.
.PHONY: check-models
check-models: all
	/usr/bin/python3 tests/models/run.py $(if $(MODELS),--models $(MODELS)) \
	    $(if $(MODELS_TIMEOUT),--timeout $(MODELS_TIMEOUT)) --out $(BUILD)/models/report.md
