# cnnc - a graph compiler for convolutional networks.
#
#   make            build/cnnc and build/libcnnrt.a
#   make check      every test: unit (Check), golden outputs (-O0 and -O2; -O2 with
#                   BLAS=none and with --threads 2), error messages, CLI, optimizer
#                   IR dumps, install, determinism and valgrind, a quick run of the
#                   benchmark's optimizer and pruning sections (python3, no PyTorch);
#                   then all of it again under ASan+UBSan (in build-san), then a short
#                   fuzz run of each target
#   make check SAN=1  only the sanitizer pass
#   make check-export  PyTorch exporter round trips (needs python3-torch; not in check)
#   make fuzz       build the libFuzzer targets (clang) and run each FUZZ_SECONDS
#   make fuzz-coverage  llvm-cov report of the compiler code the fuzz corpora reach
#   make demo       build and run the LeNet-5 example
#   make views      rewrite every example's NAME.summary.txt and NAME.svg (graphviz)
#   make deps       install missing Debian build packages (needs root or sudo)
#   make install    install cnnc, libcnnrt, cnnrt.h, cnnrt.pc, the man page, the docs
#   make uninstall  remove them again (same PREFIX and DESTDIR as for install)
#   make bench      time the generated code against PyTorch and ONNX Runtime (npm's
#                   onnxruntime-node in build/ort, installed by deps-bench), -O0 against -O2 and
#                   pruned against unpruned networks (bench/bench.py); BENCH_QUICK=1
#                   for a smoke test, BENCH_NETS=lenet5,cifar_vgg to choose networks,
#                   BENCH_SECTIONS=optimizer,pruning to choose sections (those two need
#                   no PyTorch), BENCH_ARGS=... for more bench.py options
#
# Variables: BLAS=openblas|none   V=1 (echo commands)   CC=...   SAN=1 (sanitizers)
#            PREFIX=/usr/local  DESTDIR= (staging)  BINDIR LIBDIR INCLUDEDIR MANDIR DOCDIR

CC      ?= cc
BLAS    ?= openblas
CFLAGS  ?= -O2 -g
# SAN=1: cnnc, the runtime, the tests and every generated test program are built
# with ASan and UBSan (any report is fatal), in their own tree.
ifeq ($(SAN),1)
BUILD   ?= build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
override CFLAGS += $(SAN_FLAGS)
export CNNC_EXTRA_CFLAGS := $(SAN_FLAGS)
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

.PHONY: all views check check-export bench bench-smoke deps-bench unit golden golden-noblas golden-threads errors cli ir install-test determinism valgrind \
        demo deps clean format install uninstall FORCE fuzz fuzz-build fuzz-smoke fuzz-coverage
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

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) golden golden-noblas golden-threads errors cli ir install-test determinism valgrind
ifneq ($(SAN),1)
	$(MAKE) bench-smoke
	$(MAKE) check SAN=1 BUILD=$(BUILD)-san
	$(MAKE) fuzz-smoke
endif

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "  UNIT    $$t"; CK_FORK=yes $$t; done

golden: all
	@bash tests/run-golden.sh

# The portable runtime (BLAS=none) in a build tree of its own, at -O2.
NOBLAS_BUILD := $(BUILD)/noblas
golden-noblas:
	@$(MAKE) --no-print-directory BLAS=none BUILD=$(NOBLAS_BUILD) $(NOBLAS_BUILD)/cnnc \
	    $(NOBLAS_BUILD)/libcnnrt.a $(NOBLAS_BUILD)/tools/f32cmp $(NOBLAS_BUILD)/tools/f32gen
	@GOLDEN_BUILD=$(CURDIR)/$(NOBLAS_BUILD) GOLDEN_OPT=-O2 bash tests/run-golden.sh

# Generated code with --threads 2, compiled with OpenMP (passive waiting, so a
# busy machine does not make the threads spin against each other).
golden-threads: all
	@OMP_WAIT_POLICY=passive GOLDEN_OPT=-O2,--threads=2 CNNC_EXTRA_CFLAGS="$(SAN_FLAGS) -fopenmp" \
	    bash tests/run-golden.sh

errors: all
	@bash tests/run-errors.sh

cli: all
	@bash tests/cli/driver.sh
	@bash tools/example-views.sh --check $(BUILD)/cnnc

# Every example's --summary and --emit=dot picture, beside its .cnn (needs graphviz).
views: all
	@bash tools/example-views.sh $(BUILD)/cnnc

# The optimizer: IR dumps after the passes (tests/ir/) and its options.
ir: all
	@bash tests/run-ir.sh
	@bash tests/cli/passes.sh
	@bash tests/cli/prune.sh

install-test: all
	@bash tests/install/run.sh

check-export: all
	@bash tests/export/run.sh

# ONNX import (tools/onnx2cnn.py): its error tests and libonnx-testdata's conformance tests;
# skips when python3-onnx or libonnx-testdata is missing. Not part of check.
.PHONY: check-onnx
check-onnx: all
	@bash tests/onnx/run.sh

determinism: all
	@bash tests/run-determinism.sh

# cnnc and every example's generated program under valgrind (skipped in SAN builds: ASan and
# valgrind do not mix).
valgrind: all
	@bash tests/run-valgrind.sh

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

fuzz-build:
	@bash tools/install-deps.sh fuzz
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) CFLAGS="$(FUZZ_CFLAGS)" SAN= \
	    $(patsubst %,$(FUZZ_BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))

# Each target runs FUZZ_SECONDS from its committed seeds (only read) and
# $(FUZZ_BUILD)/corpus/TARGET, where new inputs go; crashes go to $(FUZZ_BUILD)/crashes/.
fuzz: fuzz-build
	@bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Coverage of the compiler by each target's corpus (committed seeds plus
# $(FUZZ_BUILD)/corpus/TARGET), with llvm-cov.
fuzz-coverage:
	$(MAKE) BUILD=$(FUZZ_BUILD)-cov CC=$(FUZZ_CC) SAN= \
	    CFLAGS="-O0 -g -fprofile-instr-generate -fcoverage-mapping -fsanitize=fuzzer-no-link $(FUZZ_WFLAGS)" \
	    $(patsubst %,$(FUZZ_BUILD)-cov/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@bash tests/fuzz/coverage.sh $(FUZZ_BUILD)-cov \
	    $(foreach t,$(FUZZ_TARGETS),$(t):$(or $(FUZZ_CORPUS),$(FUZZ_BUILD)/corpus)/$(t))

# For make check: a few seconds per target, skipped without clang and libFuzzer.
fuzz-smoke:
	@if bash tests/fuzz/run.sh --available $(FUZZ_CC); then \
	    $(MAKE) fuzz FUZZ_SECONDS=$(or $(FUZZ_SMOKE_SECONDS),5); \
	else \
	    echo "  FUZZ    skipped: $(FUZZ_CC) with libFuzzer not found (apt-get install clang-14 libclang-rt-14-dev)"; \
	fi

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
