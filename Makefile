# cnnc - a graph compiler for convolutional networks.
#
#   make            build/cnnc and build/libcnnrt.a
#   make check      every test: unit (Check), golden outputs (-O0 and -O2), error
#                   messages, CLI, install, optimizer IR dumps
#   make check-export  PyTorch exporter round trips (needs python3-torch; not in check)
#   make demo       build and run the LeNet-5 example
#   make deps       install missing Debian build packages (needs root or sudo)
#   make install    install cnnc, libcnnrt, cnnrt.h, cnnrt.pc, the man page, the docs
#   make uninstall  remove them again (same PREFIX and DESTDIR as for install)
#
# Variables: BLAS=openblas|none   V=1 (echo commands)   CC=...
#            PREFIX=/usr/local  DESTDIR= (staging)  BINDIR LIBDIR INCLUDEDIR MANDIR DOCDIR

CC      ?= cc
BLAS    ?= openblas
BUILD   ?= build
CFLAGS  ?= -O2 -g
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

COMPILER_SRC := $(wildcard compiler/*.c)
COMPILER_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(COMPILER_SRC)) $(BUILD)/gen/parser.o $(BUILD)/gen/lexer.o
LIB_OBJ      := $(filter-out $(BUILD)/compiler/main.o,$(COMPILER_OBJ))
RUNTIME_SRC  := $(wildcard runtime/*.c)
RUNTIME_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(RUNTIME_SRC))
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
UNIT_BIN     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
HEADERS      := $(wildcard compiler/*.h) $(BUILD)/gen/parser.h
TOOLS        := $(BUILD)/tools/f32cmp $(BUILD)/tools/f32gen

.PHONY: all check check-export unit golden errors cli ir install-test demo deps clean format install uninstall FORCE
all: $(BUILD)/cnnc $(BUILD)/libcnnrt.a $(TOOLS) $(BUILD)/pkgconfig/cnnrt-uninstalled.pc \
     $(INSTALL_BUILD)/cnnc $(INSTALL_BUILD)/cnnrt.pc

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
	$(MAKE) golden errors cli ir install-test

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "  UNIT    $$t"; CK_FORK=yes $$t; done

golden: all
	@bash tests/run-golden.sh

errors: all
	@bash tests/run-errors.sh

cli: all
	@bash tests/cli/driver.sh

# The optimizer: IR dumps after the passes (tests/ir/) and its options.
ir: all
	@bash tests/run-ir.sh
	@bash tests/cli/passes.sh
	@bash tests/cli/prune.sh

install-test: all
	@bash tests/install/run.sh

check-export: all
	@bash tests/export/run.sh

demo: deps
	$(MAKE) all
	$(MAKE) -C examples/lenet5 run

deps:
	@bash tools/install-deps.sh

format:
	clang-format -i compiler/*.c compiler/*.h runtime/*.c runtime/*.h tests/unit/*.c tests/tools/*.c

clean:
	rm -rf $(BUILD)
