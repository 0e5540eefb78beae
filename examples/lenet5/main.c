/* main.c - classify the 16 sample Fashion-MNIST images with the C code cnnc
 * generated from lenet5.cnn, and check the result against PyTorch.
 *
 *   cnnc lenet5.cnn -o build/lenet5.c      (writes build/lenet5.c and build/lenet5.h)
 *   cc -std=c99 -Ibuild build/lenet5.c main.c $(cnnc --cflags) $(cnnc --libs) -o build/lenet5
 *   build/lenet5 [EXPECTED_LOGITS]         (run it from this directory)
 *
 * Inputs, written by train.py:
 *   samples/images.f32           16 images, float32 [16][1][28][28], already
 *                                preprocessed: (pixel/255 - 0.2860) / 0.3530
 *   samples/labels.txt           the 16 true labels, one integer per line
 *   samples/expected_logits.f32  PyTorch's output for them, float32 [16][10]
 *                                (or the file named on the command line, for a
 *                                variant such as train.py --kernel 3)
 * The .f32 files are raw little-endian floats, the byte order of every common
 * machine, so they are read straight into float arrays.
 *
 * The generated API (build/lenet5.h):
 *   void lenet5_run(const float *image, float *fc3);
 *     image: LENET5_IMAGE_SIZE floats, LENET5_BATCH images of
 *            LENET5_IMAGE_C x LENET5_IMAGE_H x LENET5_IMAGE_W
 *     fc3:   LENET5_FC3_SIZE floats, LENET5_FC3_F logits per image
 * The default batch is 1 (cnnc --batch N changes it); this program works with
 * any batch size by filling one batch at a time. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lenet5.h"

#define NUM_IMAGES 16
#define NUM_CLASSES 10

/* Fashion-MNIST's ten classes, in label order. */
static const char *const class_names[NUM_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

/* The generated sizes as plain int constants (whatever type the header gives
 * them): images per call, floats per image, logits per image. */
enum {
    BATCH = LENET5_BATCH,
    IMAGE_FLOATS = LENET5_IMAGE_C * LENET5_IMAGE_H * LENET5_IMAGE_W,
    LOGITS_FLOATS = LENET5_FC3_F
};

static float images[NUM_IMAGES * IMAGE_FLOATS];
static float expected[NUM_IMAGES * NUM_CLASSES];
static float logits[NUM_IMAGES * NUM_CLASSES];
static int labels[NUM_IMAGES];

/* One batch for lenet5_run (the generated code's input and output). */
static float batch_in[LENET5_IMAGE_SIZE];
static float batch_out[LENET5_FC3_SIZE];

/* Read exactly `count` floats from a raw float32 file. */
static int read_floats(const char *path, float *buf, size_t count)
{
    FILE *f = fopen(path, "rb");
    size_t got;
    int extra;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    got = fread(buf, sizeof(float), count, f);
    extra = fgetc(f);
    fclose(f);
    if (got != count || extra != EOF) {
        fprintf(stderr, "%s: expected exactly %lu float32 values\n", path, (unsigned long)count);
        return -1;
    }
    return 0;
}

static int read_labels(const char *path, int *buf, int count)
{
    FILE *f = fopen(path, "r");
    int i;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    for (i = 0; i < count; i++) {
        if (fscanf(f, "%d", &buf[i]) != 1 || buf[i] < 0 || buf[i] >= NUM_CLASSES) {
            fprintf(stderr, "%s: expected %d labels from 0 to %d\n", path, count, NUM_CLASSES - 1);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

/* The index of the largest of n scores: the predicted class. */
static int argmax(const float *x, int n)
{
    int i, best = 0;

    for (i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

int main(int argc, char **argv)
{
    const char *expected_path = argc > 1 ? argv[1] : "samples/expected_logits.f32";
    int i, j, correct = 0;
    double max_diff = 0.0;

    if (LOGITS_FLOATS != NUM_CLASSES) {
        fprintf(stderr, "this network has %d outputs; Fashion-MNIST has %d classes\n",
                LOGITS_FLOATS, NUM_CLASSES);
        return 1;
    }
    if (read_floats("samples/images.f32", images, (size_t)NUM_IMAGES * IMAGE_FLOATS) != 0 ||
        read_floats(expected_path, expected, (size_t)NUM_IMAGES * NUM_CLASSES) != 0 ||
        read_labels("samples/labels.txt", labels, NUM_IMAGES) != 0)
        return 1;

    /* Run the network: LENET5_BATCH images per call (one, by default). A short
     * last batch is padded with zeros and the extra results are ignored. */
    for (i = 0; i < NUM_IMAGES; i += BATCH) {
        int n = NUM_IMAGES - i < BATCH ? NUM_IMAGES - i : BATCH;

        memset(batch_in, 0, sizeof batch_in);
        memcpy(batch_in, &images[i * IMAGE_FLOATS], (size_t)n * IMAGE_FLOATS * sizeof(float));
        lenet5_run(batch_in, batch_out);
        memcpy(&logits[i * NUM_CLASSES], batch_out, (size_t)n * NUM_CLASSES * sizeof(float));
    }

    printf("LeNet-5 on %d Fashion-MNIST test images\n\n", NUM_IMAGES);
    printf("image  predicted     true label\n");
    for (i = 0; i < NUM_IMAGES; i++) {
        int pred = argmax(&logits[i * NUM_CLASSES], NUM_CLASSES);

        if (pred == labels[i]) {
            correct++;
            printf("%5d  %-12s  %s\n", i, class_names[pred], class_names[labels[i]]);
        } else {
            printf("%5d  %-12s  %-12s  <- wrong\n", i, class_names[pred], class_names[labels[i]]);
        }
        for (j = 0; j < NUM_CLASSES; j++) {
            double d =
                fabs((double)logits[i * NUM_CLASSES + j] - (double)expected[i * NUM_CLASSES + j]);
            if (d > max_diff)
                max_diff = d;
        }
    }
    printf("\ncorrect: %d/%d\n", correct, NUM_IMAGES);

    /* The same network in PyTorch gave samples/expected_logits.f32. Float sums
     * in a different order differ in the last bits, so allow a small tolerance. */
    printf("largest difference from PyTorch's logits: %.3g (%s)\n", max_diff,
           max_diff <= 1e-3 ? "matches" : "MISMATCH");
    return max_diff <= 1e-3 ? 0 : 1;
}
