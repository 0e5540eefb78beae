# cnnc - a graph compiler for convolutional networks.
#
#   make            build/cnnc and build/libcnnrt.a
#   make check      every test: unit (Check), golden outputs, error messages, CLI
#   make demo       build and run the LeNet-5 example
#   make deps       install missing Debian build packages (needs root or sudo)
#   make bench      time the generated code against PyTorch (bench/bench.py);
#                   BENCH_QUICK=1 for a smoke test, BENCH_NETS=lenet5,cifar_vgg to
#                   choose networks, BENCH_ARGS=... for more bench.py options
#
# Variables: BLAS=openblas|none   V=1 (echo commands)   CC=...

CC      ?= cc
BLAS    ?= openblas
BUILD   ?= build
CFLAGS  ?= -O2 -g
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

.PHONY: all check unit golden errors cli demo deps deps-bench bench clean format
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
	$(MAKE) golden errors cli

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "  UNIT    $$t"; CK_FORK=yes $$t; done

golden: all
	@bash tests/run-golden.sh

errors: all
	@bash tests/run-errors.sh

cli: all
	@bash tests/cli/driver.sh

demo: deps
	$(MAKE) all
	$(MAKE) -C examples/lenet5 run

deps:
	@bash tools/install-deps.sh

# ---- benchmark (not part of check: needs python3, and PyTorch if it can) ----

deps-bench:
	@bash tools/install-deps.sh bench

bench: deps-bench
	$(MAKE) all
	/usr/bin/python3 bench/bench.py $(if $(filter-out 0,$(BENCH_QUICK)),--quick) \
	    $(if $(BENCH_NETS),--nets $(BENCH_NETS)) $(BENCH_ARGS)

format:
	clang-format -i compiler/*.c compiler/*.h runtime/*.c runtime/*.h tests/unit/*.c tests/tools/*.c

clean:
	rm -rf $(BUILD)
