# cnnc - a graph compiler for convolutional networks.
#
#   make            build/cnnc and build/libcnnrt.a
#   make check      every test: unit (Check), golden outputs, error messages, CLI,
#                   determinism and valgrind; then all of it again under ASan+UBSan
#                   (in build-san), then a short fuzz run of each target
#   make check SAN=1  only the sanitizer pass
#   make fuzz       build the libFuzzer targets (clang) and run each FUZZ_SECONDS
#   make fuzz-coverage  llvm-cov report of the compiler code the fuzz corpora reach
#   make demo       build and run the LeNet-5 example
#   make deps       install missing Debian build packages (needs root or sudo)
#
# Variables: BLAS=openblas|none   V=1 (echo commands)   CC=...   SAN=1 (sanitizers)

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
BLAS_LIBS := $(if $(filter openblas,$(BLAS)),$(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas),)

# What `cnnc --cflags` / `cnnc --libs` print: this build tree's runtime.
CNNC_PATHS := -DCNNC_RUNTIME_INCLUDE='"$(CURDIR)/runtime"' \
              -DCNNC_RUNTIME_LIBDIR='"$(CURDIR)/$(BUILD)"' \
              -DCNNC_BLAS_LIBS='"$(BLAS_LIBS)"'

ifeq ($(V),1)
Q :=
else
Q := @
endif

COMPILER_SRC := $(wildcard compiler/*.c)
COMPILER_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(COMPILER_SRC)) $(BUILD)/gen/parser.o $(BUILD)/gen/lexer.o
LIB_OBJ      := $(filter-out $(BUILD)/compiler/main.o,$(COMPILER_OBJ))
RUNTIME_SRC  := $(wildcard runtime/*.c)
RUNTIME_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(RUNTIME_SRC))
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
UNIT_BIN     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
HEADERS      := $(wildcard compiler/*.h) $(BUILD)/gen/parser.h
TOOLS        := $(BUILD)/tools/f32cmp

.PHONY: all check unit golden errors cli determinism valgrind demo deps clean format \
        fuzz fuzz-build fuzz-smoke fuzz-coverage
all: $(BUILD)/cnnc $(BUILD)/libcnnrt.a $(TOOLS)

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
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c $(HEADERS) $(BUILD)/gen/lexer.h
	@echo "  CC      $<"
	$(Q)$(CC) $(STD) $(WARN) -Wno-unused-function -Wno-sign-compare $(CFLAGS) $(CPPFLAGS_ALL) -c -o $@ $<

$(BUILD)/compiler/%.o: compiler/%.c $(HEADERS) $(BUILD)/gen/lexer.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(STD) $(WARN) $(CFLAGS) $(CPPFLAGS_ALL) $(CNNC_PATHS) -c -o $@ $<

$(BUILD)/runtime/%.o: runtime/%.c runtime/cnnrt.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(STD) $(WARN) -pedantic $(CFLAGS) $(RT_DEFS) -Iruntime -c -o $@ $<

$(BUILD)/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(STD) $(WARN) $(CFLAGS) -o $@ $< -lm

CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lm)
$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB_OBJ) $(BUILD)/libcnnrt.a $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(STD) $(WARN) $(CFLAGS) $(CPPFLAGS_ALL) $(shell pkg-config --cflags check 2>/dev/null) \
	    -o $@ $< $(LIB_OBJ) $(BUILD)/libcnnrt.a $(BLAS_LIBS) $(CHECK_LIBS) -lm

# ---- tests -----------------------------------------------------------------

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) golden errors cli determinism valgrind
ifneq ($(SAN),1)
	$(MAKE) check SAN=1 BUILD=$(BUILD)-san
	$(MAKE) fuzz-smoke
endif

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "  UNIT    $$t"; CK_FORK=yes $$t; done

golden: all
	@bash tests/run-golden.sh

errors: all
	@bash tests/run-errors.sh

cli: all
	@bash tests/cli/driver.sh

determinism: all
	@bash tests/run-determinism.sh

# The generated LeNet-5 program under valgrind (skipped in SAN builds: ASan and
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

format:
	clang-format -i compiler/*.c compiler/*.h runtime/*.c runtime/*.h tests/unit/*.c tests/tools/*.c \
	    tests/fuzz/*.c

clean:
	rm -rf $(BUILD) $(BUILD)-san $(FUZZ_BUILD) $(FUZZ_BUILD)-cov
