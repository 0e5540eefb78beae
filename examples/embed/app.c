/* app.c - a tiny application with a neural network compiled in.
 *
 * It classifies clothes pictures with LeNet-5 (examples/lenet5): cnnc turned
 * lenet5.cnn and its weights into lenet5.c and lenet5.h at build time, and
 * this program just calls lenet5_run(). No model file is read at run time.
 *
 *   app IMAGES.f32
 *
 * IMAGES.f32 holds 28x28 grey images as raw little-endian float32, already
 * preprocessed as the network was trained ((pixel/255 - 0.2860) / 0.3530);
 * ../lenet5/samples/images.f32 has 16 of them. Prints one line per image. */
#include <stdio.h>

#include "lenet5.h"

/* Fashion-MNIST's ten classes, in label order. */
static const char *const class_names[LENET5_FC3_F] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

/* One call's worth: LENET5_BATCH images in, LENET5_BATCH x 10 scores out. */
static float images[LENET5_IMAGE_SIZE];
static float scores[LENET5_FC3_SIZE];

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGES.f32\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    int n = 0;
    /* A batch at a time (1 image unless cnnc was given --batch N). */
    while (fread(images, sizeof images, 1, f) == 1) {
        lenet5_run(images, scores);
        for (int b = 0; b < LENET5_BATCH; b++, n++) {
            const float *s = scores + b * LENET5_FC3_F;
            int best = 0;
            for (int k = 1; k < LENET5_FC3_F; k++)
                if (s[k] > s[best])
                    best = k;
            printf("image %2d: %s\n", n, class_names[best]);
        }
    }
    fclose(f);
    if (n == 0) {
        fprintf(stderr, "%s: no complete image batch\n", argv[1]);
        return 1;
    }
    return 0;
}
