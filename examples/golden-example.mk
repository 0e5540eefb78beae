# golden-example.mk - the rules shared by the examples that run on a golden
# case's input (resnet18, mobilenet_v2, cifar_vgg, tiny_fpn). An example's
# Makefile sets NAME (its .cnn is NAME.cnn, its golden case tests/golden/NAME)
# and COUNT (floats in one input), then includes this file.
#
#   make          build build/NAME (and cnnc itself, if it is not built yet)
#   make run      build, run on the golden input, compare with PyTorch's output
#   make bench    build, then print the median time of 20 runs
#   make clean    remove build/ (the generated code, the program, its files)
#
# Everything generated goes to build/, which git ignores.

TOP    := ../..
CNNC   := $(TOP)/build/cnnc
TOOLS  := $(TOP)/build/tools
CASE   := $(TOP)/tests/golden/$(NAME)
CC     ?= cc
CFLAGS ?= -O2
# The generated code is strict C99 and compiles without a warning.
WARN   := -std=c99 -Wall -Wextra -pedantic -Werror

.PHONY: all run bench clean

all: build/$(NAME)

# Build the compiler, its runtime and the test tools in the top directory if missing.
$(CNNC) $(TOOLS)/f32gen $(TOOLS)/f32cmp:
	$(MAKE) -C $(TOP)

# --main adds main(): ./build/$(NAME) [--bench N] IN.f32 OUT.f32 (raw float32 files).
# The weights (init he(seed=1) in $(NAME).cnn) are baked into the C file, or
# above 16 MiB (resnet18) into build/$(NAME).c.weights, which it includes.
build/$(NAME).c: $(NAME).cnn $(CNNC)
	@mkdir -p build
	$(CNNC) $(NAME).cnn --main -o build/$(NAME).c

build/$(NAME).h: build/$(NAME).c

build/$(NAME): build/$(NAME).c build/$(NAME).h
	$(CC) $(WARN) $(CFLAGS) -o build/$(NAME) build/$(NAME).c $$($(CNNC) --cflags) $$($(CNNC) --libs)

# The golden case's input: $(COUNT) values U(-1, 1) from the seed in input.seed.
build/input.f32: $(CASE)/input.seed $(TOOLS)/f32gen
	@mkdir -p build
	$(TOOLS)/f32gen $$(cat $(CASE)/input.seed) $(COUNT) build/input.f32

run: build/$(NAME) build/input.f32 $(TOOLS)/f32cmp
	./build/$(NAME) build/input.f32 build/output.f32
	$(TOOLS)/f32cmp build/output.f32 $(CASE)/expected.f32

bench: build/$(NAME) build/input.f32
	./build/$(NAME) --bench 20 build/input.f32 build/output.f32

clean:
	rm -rf build
