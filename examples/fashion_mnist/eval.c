/* eval.c - evaluate the cnnc-compiled Fashion-MNIST network on the 10,000
 * test images, and check it against PyTorch.
 *
 *   cnnc fmnist.cnn -o build/fmnist.c      (writes build/fmnist.c and build/fmnist.h)
 *   cc -std=c99 -Ibuild build/fmnist.c eval.c $(cnnc --cflags) $(cnnc --libs) -lz -o build/eval
 *   build/eval [--data DIR] [--predictions FILE] [--svg FILE]
 *
 * Reads the gzipped IDX test files of Debian's dataset-fashion-mnist
 * (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) with zlib,
 * preprocesses each image exactly as train.py does, runs fmnist_run on it and
 * prints: accuracy; per-class precision, recall, F1 and one-vs-rest ROC AUC
 * with their macro averages; the confusion matrix. It writes the confusion
 * matrix as an SVG heatmap, and compares its predictions with PyTorch's
 * (pytorch_predictions.bin, written by train.py).
 *
 * Exit status: 0; 1 on any error, or if the numbers disagree with PyTorch
 * beyond float rounding: a top-2 logit margin differing by more than 1e-3, or
 * a different prediction where PyTorch's margin was above 1e-3 (not a tie). */
#define _POSIX_C_SOURCE 200809L /* isatty, fileno, clock_gettime */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "fmnist.h"

#define NUM_CLASSES 10
#define SIDE 28
#define MARGIN_TOLERANCE 1e-3
#define MAX_LISTED 50 /* differing images listed */

static const char *const class_names[NUM_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

/* The generated sizes as int constants: images per call, floats per image. */
enum { BATCH = FMNIST_BATCH, IMAGE_FLOATS = FMNIST_IMAGE_C * FMNIST_IMAGE_H * FMNIST_IMAGE_W };

typedef struct {
    const char *data_dir;
    const char *predictions_path;
    const char *svg_path;
} Options;

typedef struct {
    long count;            /* number of images */
    unsigned char *pixels; /* count x 28 x 28, row-major, 0..255 */
    unsigned char *labels; /* count labels, 0..9 */
} TestSet;

typedef struct {
    long count;
    unsigned char *pred; /* PyTorch's predicted class per image */
    float *margin;       /* its largest logit minus its second largest */
} Reference;

/* ---- reading IDX files through zlib -------------------------------------- */

/* Open DIR/NAME.gz, or DIR/NAME if only that exists (zlib reads plain files
 * too). On failure path names the .gz file. */
static gzFile open_data(const char *dir, const char *name, char *path, size_t size)
{
    gzFile f;

    snprintf(path, size, "%s/%s.gz", dir, name);
    if ((f = gzopen(path, "rb")) != NULL)
        return f;
    snprintf(path, size, "%s/%s", dir, name);
    if ((f = gzopen(path, "rb")) != NULL)
        return f;
    snprintf(path, size, "%s/%s.gz", dir, name);
    return NULL;
}

/* zlib's message for the last error, without the "path: " it starts with. */
static const char *gz_message(gzFile f, const char *path)
{
    int errnum;
    const char *msg = gzerror(f, &errnum);
    size_t n = strlen(path);

    if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        msg += n + 2;
    return msg;
}

static int gz_failed(gzFile f)
{
    int errnum;

    gzerror(f, &errnum);
    return errnum != Z_OK;
}

/* Read exactly n bytes; on failure say why (zlib's error, or a short file). */
static int read_bytes(gzFile f, const char *path, unsigned char *buf, unsigned long n,
                      const char *what)
{
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, buf, chunk);

        if (got < 0 || (got == 0 && gz_failed(f))) {
            fprintf(stderr, "%s: cannot decompress the %s: %s\n", path, what, gz_message(f, path));
            return -1;
        }
        if (got == 0) {
            fprintf(stderr, "%s: the file ends in the middle of the %s\n", path, what);
            return -1;
        }
        buf += got;
        n -= (unsigned long)got;
    }
    return 0;
}

/* The header of an IDX file: 0, 0, type 0x08 (unsigned byte), the number of
 * dimensions, then each dimension as a big-endian 32-bit integer. */
static int read_idx_header(gzFile f, const char *path, int ndims, unsigned long *dims)
{
    unsigned char magic[4], be[4];
    int i;

    if (read_bytes(f, path, magic, 4, "IDX header") != 0)
        return -1;
    if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] != ndims) {
        fprintf(stderr,
                "%s: not an IDX file of unsigned bytes with %d dimension%s "
                "(magic number %02x %02x %02x %02x, expected 00 00 08 %02x)\n",
                path, ndims, ndims == 1 ? "" : "s", magic[0], magic[1], magic[2], magic[3], ndims);
        return -1;
    }
    for (i = 0; i < ndims; i++) {
        if (read_bytes(f, path, be, 4, "IDX header") != 0)
            return -1;
        dims[i] = (unsigned long)be[0] << 24 | (unsigned long)be[1] << 16 |
                  (unsigned long)be[2] << 8 | be[3];
    }
    return 0;
}

/* After the data: the file must end here (and its gzip checksum must match). */
static int expect_end(gzFile f, const char *path)
{
    unsigned char extra;
    int got = gzread(f, &extra, 1);

    if (got > 0) {
        fprintf(stderr, "%s: unexpected data after the end of the IDX data\n", path);
        return -1;
    }
    if (got < 0 || gz_failed(f)) {
        fprintf(stderr, "%s: corrupt gzip data: %s\n", path, gz_message(f, path));
        return -1;
    }
    return 0;
}

/* Read an IDX file of unsigned bytes with `ndims` dimensions: its dimensions
 * into dims, its data into a new buffer (NULL on error, after a message). */
static unsigned char *read_idx(const char *dir, const char *name, int ndims, unsigned long *dims)
{
    char path[4096];
    unsigned long total = 1;
    unsigned char *data = NULL;
    gzFile f = open_data(dir, name, path, sizeof path);
    int i, ok;

    if (f == NULL) {
        perror(path);
        fprintf(stderr, "(the Debian package dataset-fashion-mnist installs the files in "
                        "/usr/share/datasets/fashion-mnist; --data DIR reads them elsewhere)\n");
        return NULL;
    }
    ok = read_idx_header(f, path, ndims, dims) == 0;
    for (i = 0; ok && i < ndims; i++) {
        if (dims[i] == 0 || dims[i] > 100000000UL / total) {
            fprintf(stderr, "%s: unreasonable dimension %lu\n", path, dims[i]);
            ok = 0;
        } else {
            total *= dims[i];
        }
    }
    if (ok && (data = malloc(total)) == NULL) {
        fprintf(stderr, "%s: out of memory for %lu bytes\n", path, total);
        ok = 0;
    }
    ok = ok && read_bytes(f, path, data, total, "IDX data") == 0 && expect_end(f, path) == 0;
    gzclose(f);
    if (!ok) {
        free(data);
        return NULL;
    }
    return data;
}

/* The test images and labels: counts must match, images be 28x28, labels 0..9. */
static int load_test_set(const char *dir, TestSet *t)
{
    unsigned long idims[3], ldims[1];
    long i;

    t->pixels = read_idx(dir, "t10k-images-idx3-ubyte", 3, idims);
    t->labels = t->pixels ? read_idx(dir, "t10k-labels-idx1-ubyte", 1, ldims) : NULL;
    if (t->labels == NULL)
        return -1;
    if (idims[1] != SIDE || idims[2] != SIDE) {
        fprintf(stderr, "%s: images are %lux%lu, the network takes %dx%d\n", dir, idims[1],
                idims[2], SIDE, SIDE);
        return -1;
    }
    if (idims[0] != ldims[0]) {
        fprintf(stderr, "%s: %lu test images but %lu labels\n", dir, idims[0], ldims[0]);
        return -1;
    }
    t->count = (long)idims[0];
    for (i = 0; i < t->count; i++) {
        if (t->labels[i] >= NUM_CLASSES) {
            fprintf(stderr, "%s: label %d of image %ld is not a class 0..9\n", dir, t->labels[i],
                    i);
            return -1;
        }
    }
    return 0;
}

/* ---- PyTorch's predictions (see train.py) -------------------------------- */

static unsigned long le32(const unsigned char *p)
{
    return (unsigned long)p[0] | (unsigned long)p[1] << 8 | (unsigned long)p[2] << 16 |
           (unsigned long)p[3] << 24;
}

/* A little-endian IEEE float32, whatever the byte order of this machine. */
static float le_float(const unsigned char *p)
{
    unsigned long bits = le32(p);
    unsigned int u = (unsigned int)bits;
    float f;

    memcpy(&f, &u, sizeof f);
    return f;
}

static int read_file(const char *path, unsigned char **data, long *size)
{
    FILE *f = fopen(path, "rb");
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        perror(path);
        if (f)
            fclose(f);
        return -1;
    }
    *data = malloc(n > 0 ? (size_t)n : 1);
    if (*data == NULL || fread(*data, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: cannot read %ld bytes\n", path, n);
        fclose(f);
        free(*data);
        return -1;
    }
    fclose(f);
    *size = n;
    return 0;
}

/* "FMNPRED1", uint32 N, uint32 K, N uint8 predictions, N float32 margins. */
static int load_reference(const char *path, long count, Reference *r)
{
    unsigned char *d;
    long size, i;

    if (read_file(path, &d, &size) != 0)
        return -1;
    if (size < 16 || memcmp(d, "FMNPRED1", 8) != 0) {
        fprintf(stderr, "%s: not a predictions file written by train.py\n", path);
        free(d);
        return -1;
    }
    if ((long)le32(d + 8) != count || le32(d + 12) != NUM_CLASSES || size != 16 + 5 * count) {
        fprintf(stderr,
                "%s: holds %lu predictions over %lu classes (%ld bytes); expected %ld over %d\n",
                path, le32(d + 8), le32(d + 12), size, count, NUM_CLASSES);
        free(d);
        return -1;
    }
    r->count = count;
    r->pred = malloc((size_t)count);
    r->margin = malloc((size_t)count * sizeof(float));
    if (r->pred == NULL || r->margin == NULL) {
        fprintf(stderr, "%s: out of memory\n", path);
        free(d);
        return -1;
    }
    for (i = 0; i < count; i++) {
        r->pred[i] = d[16 + i];
        r->margin[i] = le_float(d + 16 + count + 4 * i);
        if (r->pred[i] >= NUM_CLASSES) {
            fprintf(stderr, "%s: prediction %d for image %ld is not a class 0..9\n", path,
                    r->pred[i], i);
            free(d);
            return -1;
        }
    }
    free(d);
    return 0;
}

/* ---- running the network ------------------------------------------------- */

/* Exactly train.py's preprocessing, in float32: x = pixel / 255, then
 * (x - 0.2860) / 0.3530. The constants are rounded to float through double,
 * as numpy's np.float32(0.2860) does. */
static void preprocess(const unsigned char *pixels, float *x)
{
    const float mean = (float)0.2860, std = (float)0.3530;
    int i;

    for (i = 0; i < SIDE * SIDE; i++) {
        float v = (float)pixels[i] / 255.0f;
        x[i] = (v - mean) / std;
    }
}

/* Progress on stderr: a percentage rewritten in place on a terminal, a line
 * at every quarter otherwise (a log file should not fill with percentages). */
static void show_progress(long done, long total)
{
    static int last = -1;
    int percent = (int)(100 * done / total);

    if (percent == last)
        return;
    if (isatty(fileno(stderr))) {
        fprintf(stderr, "\rrunning the network: %3d%% (%ld/%ld images)", percent, done, total);
        if (done == total)
            fputc('\n', stderr);
    } else if (percent / 25 != last / 25 || last < 0) {
        fprintf(stderr, "running the network: %d%% (%ld/%ld images)\n", percent, done, total);
    }
    last = percent;
    fflush(stderr);
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* All images, BATCH per call; a short last batch is padded with zeros. */
static void run_network(const TestSet *t, float *logits)
{
    static float in[FMNIST_IMAGE_SIZE];
    static float out[FMNIST_FC2_SIZE];
    long i;
    int b;

    show_progress(0, t->count);
    for (i = 0; i < t->count; i += BATCH) {
        int n = t->count - i < BATCH ? (int)(t->count - i) : BATCH;

        memset(in, 0, sizeof in);
        for (b = 0; b < n; b++)
            preprocess(t->pixels + (i + b) * SIDE * SIDE, in + b * IMAGE_FLOATS);
        fmnist_run(in, out);
        memcpy(logits + i * NUM_CLASSES, out, (size_t)n * NUM_CLASSES * sizeof(float));
        show_progress(i + n, t->count);
    }
}

/* ---- metrics ------------------------------------------------------------- */

static int argmax(const float *x)
{
    int k, best = 0;

    for (k = 1; k < NUM_CLASSES; k++)
        if (x[k] > x[best])
            best = k;
    return best;
}

/* The largest logit minus the second largest. */
static double top2_margin(const float *x)
{
    int best = argmax(x), k, second = best == 0 ? 1 : 0;

    for (k = 0; k < NUM_CLASSES; k++)
        if (k != best && x[k] > x[second])
            second = k;
    return (double)x[best] - (double)x[second];
}

/* cm[true][predicted] */
static void confusion_matrix(const TestSet *t, const float *logits, long cm[][NUM_CLASSES])
{
    long i;

    memset(cm, 0, sizeof(long) * NUM_CLASSES * NUM_CLASSES);
    for (i = 0; i < t->count; i++)
        cm[t->labels[i]][argmax(logits + i * NUM_CLASSES)]++;
}

static double ratio(double num, double den)
{
    return den > 0 ? num / den : 0.0;
}

typedef struct {
    double precision, recall, f1, auc;
    long support;
} ClassMetrics;

static void precision_recall_f1(long cm[][NUM_CLASSES], int k, ClassMetrics *m)
{
    long predicted = 0, actual = 0;
    int j;

    for (j = 0; j < NUM_CLASSES; j++) {
        predicted += cm[j][k];
        actual += cm[k][j];
    }
    m->precision = ratio((double)cm[k][k], (double)predicted);
    m->recall = ratio((double)cm[k][k], (double)actual);
    m->f1 = ratio(2 * m->precision * m->recall, m->precision + m->recall);
    m->support = actual;
}

/* Softmax of one image's logits, in double. */
static void softmax(const float *logits, double *p)
{
    double max = logits[argmax(logits)], sum = 0;
    int k;

    for (k = 0; k < NUM_CLASSES; k++)
        sum += p[k] = exp((double)logits[k] - max);
    for (k = 0; k < NUM_CLASSES; k++)
        p[k] /= sum;
}

typedef struct {
    double score;
    int positive;
} Scored;

static int by_score(const void *a, const void *b)
{
    double x = ((const Scored *)a)->score, y = ((const Scored *)b)->score;

    return (x > y) - (x < y);
}

/* One-vs-rest ROC AUC from scores sorted ascending: the Mann-Whitney statistic.
 * AUC = (sum of the positives' ranks - P(P+1)/2) / (P * N), where tied scores
 * all get the mean of their ranks (so a tie counts one half). Exact: ranks are
 * multiples of 1/2 far below 2^53. */
static double auc_from_sorted(const Scored *s, long n)
{
    double rank_sum = 0, pos = 0;
    long i = 0, j, k;

    while (i < n) {
        for (j = i; j + 1 < n && s[j + 1].score == s[i].score; j++)
            ;
        for (k = i; k <= j; k++) {
            if (s[k].positive) {
                rank_sum += 0.5 * (double)(i + 1 + j + 1); /* ranks i+1 .. j+1 */
                pos++;
            }
        }
        i = j + 1;
    }
    if (pos == 0 || pos == n)
        return NAN; /* undefined with one kind only */
    return (rank_sum - pos * (pos + 1) / 2) / (pos * ((double)n - pos));
}

static double roc_auc(const TestSet *t, const double *probs, int k, Scored *work)
{
    long i;

    for (i = 0; i < t->count; i++) {
        work[i].score = probs[i * NUM_CLASSES + k];
        work[i].positive = t->labels[i] == k;
    }
    qsort(work, (size_t)t->count, sizeof *work, by_score);
    return auc_from_sorted(work, t->count);
}

/* Per-class metrics from the confusion matrix and the softmax scores. */
static int class_metrics(const TestSet *t, const float *logits, long cm[][NUM_CLASSES],
                         ClassMetrics *m)
{
    double *probs = malloc((size_t)t->count * NUM_CLASSES * sizeof(double));
    Scored *work = malloc((size_t)t->count * sizeof(Scored));
    long i;
    int k;

    if (probs == NULL || work == NULL) {
        fprintf(stderr, "out of memory\n");
        free(probs);
        free(work);
        return -1;
    }
    for (i = 0; i < t->count; i++)
        softmax(logits + i * NUM_CLASSES, probs + i * NUM_CLASSES);
    for (k = 0; k < NUM_CLASSES; k++) {
        precision_recall_f1(cm, k, &m[k]);
        m[k].auc = roc_auc(t, probs, k, work);
    }
    free(probs);
    free(work);
    return 0;
}

/* ---- reports ------------------------------------------------------------- */

static void print_class_table(const ClassMetrics *m)
{
    ClassMetrics avg = {0, 0, 0, 0, 0};
    int k;

    printf("class          precision  recall      F1  ROC AUC  support\n");
    for (k = 0; k < NUM_CLASSES; k++) {
        printf("%-13s     %.4f  %.4f  %.4f   %.4f  %7ld\n", class_names[k], m[k].precision,
               m[k].recall, m[k].f1, m[k].auc, m[k].support);
        avg.precision += m[k].precision / NUM_CLASSES;
        avg.recall += m[k].recall / NUM_CLASSES;
        avg.f1 += m[k].f1 / NUM_CLASSES;
        avg.auc += m[k].auc / NUM_CLASSES;
        avg.support += m[k].support;
    }
    printf("macro average     %.4f  %.4f  %.4f   %.4f  %7ld\n", avg.precision, avg.recall, avg.f1,
           avg.auc, avg.support);
}

static void print_confusion_table(long cm[][NUM_CLASSES])
{
    int i, j;

    printf("confusion matrix (rows: true class, columns: predicted class)\n\n");
    printf("%15s", "");
    for (j = 0; j < NUM_CLASSES; j++)
        printf("%6d", j);
    printf("\n");
    for (i = 0; i < NUM_CLASSES; i++) {
        printf("%d %-12s ", i, class_names[i]);
        for (j = 0; j < NUM_CLASSES; j++)
            printf("%6ld", cm[i][j]);
        printf("\n");
    }
}

/* ---- the confusion matrix as an SVG heatmap ------------------------------ */

enum { CELL = 58, LEFT = 150, TOP = 150, LEGEND_W = 16 };

/* A cell's colour: white to dark blue by the share of its row (the true
 * class), on a square-root scale so that 2% confusions still show. */
static void cell_colour(double share, char *out, size_t size)
{
    static const int lo[3] = {255, 255, 255}, hi[3] = {8, 48, 107};
    double t = sqrt(share);

    snprintf(out, size, "#%02x%02x%02x", (int)(lo[0] + t * (hi[0] - lo[0]) + 0.5),
             (int)(lo[1] + t * (hi[1] - lo[1]) + 0.5), (int)(lo[2] + t * (hi[2] - lo[2]) + 0.5));
}

/* Counts: white on dark cells, dark on light ones, zeros faint. */
static const char *text_colour(double share, long count)
{
    return count == 0 ? "#bbb" : sqrt(share) > 0.55 ? "#fff" : "#222";
}

static void svg_cells(FILE *f, long cm[][NUM_CLASSES])
{
    int i, j;

    for (i = 0; i < NUM_CLASSES; i++) {
        long row = 0;

        for (j = 0; j < NUM_CLASSES; j++)
            row += cm[i][j];
        for (j = 0; j < NUM_CLASSES; j++) {
            double share = ratio((double)cm[i][j], (double)row);
            char colour[8];
            int x = LEFT + j * CELL, y = TOP + i * CELL;

            cell_colour(share, colour, sizeof colour);
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", x, y,
                    CELL, CELL, colour);
            fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"n\" fill=\"%s\">%ld</text>\n", x + CELL / 2,
                    y + CELL / 2 + 5, text_colour(share, cm[i][j]), cm[i][j]);
        }
    }
}

static void svg_labels(FILE *f)
{
    int k, grid = NUM_CLASSES * CELL;

    for (k = 0; k < NUM_CLASSES; k++) {
        int c = k * CELL + CELL / 2;

        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"r\">%s</text>\n", LEFT - 8, TOP + c + 5,
                class_names[k]);
        fprintf(f, "<text class=\"l\" transform=\"translate(%d,%d) rotate(-45)\">%s</text>\n",
                LEFT + c + 4, TOP - 8, class_names[k]);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"axis\">predicted class</text>\n", LEFT + grid / 2,
            TOP + grid + 30);
    fprintf(f,
            "<text class=\"axis\" transform=\"translate(%d,%d) rotate(-90)\">true class</text>\n",
            24, TOP + grid / 2);
}

/* A colour bar with ticks at a few shares (placed on the square-root scale). */
static void svg_legend(FILE *f)
{
    static const double ticks[] = {0, 0.01, 0.05, 0.2, 0.5, 1};
    int x = LEFT + NUM_CLASSES * CELL + 30, h = NUM_CLASSES * CELL;
    size_t i;

    fprintf(f, "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
               "<stop offset=\"0\" stop-color=\"#ffffff\"/><stop offset=\"1\" "
               "stop-color=\"#08306b\"/></linearGradient></defs>\n");
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"url(#scale)\" "
            "stroke=\"#999\"/>\n",
            x, TOP, LEGEND_W, h);
    for (i = 0; i < sizeof ticks / sizeof ticks[0]; i++) {
        int y = TOP + h - (int)(sqrt(ticks[i]) * h + 0.5);

        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n",
                x + LEGEND_W, y, x + LEGEND_W + 4, y);
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"t\">%g%%</text>\n", x + LEGEND_W + 7, y + 4,
                100 * ticks[i]);
    }
    fprintf(f,
            "<text class=\"axis\" transform=\"translate(%d,%d) rotate(90)\">share of the true "
            "class</text>\n",
            x + LEGEND_W + 52, TOP + h / 2);
}

static int write_svg(const char *path, long cm[][NUM_CLASSES], long correct, long total)
{
    FILE *f = fopen(path, "w");
    int grid = NUM_CLASSES * CELL, width = LEFT + grid + 120, height = TOP + grid + 50;

    if (f == NULL) {
        perror(path);
        return -1;
    }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
            width, height, width, height);
    fprintf(f, "<style>.n{font-size:15px;text-anchor:middle}.r{font-size:14px;text-anchor:end}"
               ".l{font-size:14px}.t{font-size:12px}.axis{font-size:15px;font-weight:bold;"
               "text-anchor:middle}.title{font-size:17px;font-weight:bold}</style>\n");
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
    fprintf(f,
            "<text x=\"12\" y=\"26\" class=\"title\">Fashion-MNIST test set, cnnc-compiled "
            "network: %ld of %ld right (%.2f%%)</text>\n",
            correct, total, 100.0 * (double)correct / (double)total);
    svg_cells(f, cm);
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#999\"/>\n",
            LEFT, TOP, grid, grid);
    svg_labels(f);
    svg_legend(f);
    fprintf(f, "</svg>\n");
    if (ferror(f) | fclose(f)) {
        perror(path);
        return -1;
    }
    return 0;
}

/* ---- agreement with PyTorch ---------------------------------------------- */

static long count_agreeing(const Reference *r, const float *logits)
{
    long i, same = 0;

    for (i = 0; i < r->count; i++)
        same += argmax(logits + i * NUM_CLASSES) == r->pred[i];
    return same;
}

/* One line per image where the predictions differ, with both margins: how far
 * cnnc's class is ahead of PyTorch's in cnnc's logits, and how far PyTorch's
 * class was ahead of its runner-up in PyTorch's. The first MAX_LISTED only.
 * Returns how many of them are not near ties (PyTorch's margin above the
 * tolerance), which rounding cannot explain. */
static long list_differences(const Reference *r, const float *logits)
{
    long i, listed = 0, unexplained = 0;

    for (i = 0; i < r->count; i++) {
        const float *x = logits + i * NUM_CLASSES;
        int mine = argmax(x), theirs = r->pred[i];

        if (mine == theirs)
            continue;
        unexplained += r->margin[i] > MARGIN_TOLERANCE;
        if (listed++ >= MAX_LISTED)
            continue;
        printf("  image %5ld: cnnc says %-11s (%.3g above %s), PyTorch says %-11s (margin %.3g)\n",
               i, class_names[mine], (double)x[mine] - (double)x[theirs], class_names[theirs],
               class_names[theirs], (double)r->margin[i]);
    }
    if (listed > MAX_LISTED)
        printf("  ... and %ld more\n", listed - MAX_LISTED);
    if (unexplained > 0)
        printf("  %ld of them not near ties: MISMATCH\n", unexplained);
    return unexplained;
}

/* The largest difference between cnnc's and PyTorch's top-2 logit margins. It
 * is at most twice the largest logit difference, and small only if the logits
 * agree to within rounding. */
static double worst_margin_difference(const Reference *r, const float *logits)
{
    double worst = 0;
    long i;

    for (i = 0; i < r->count; i++) {
        double d = fabs(top2_margin(logits + i * NUM_CLASSES) - (double)r->margin[i]);

        if (d > worst)
            worst = d;
    }
    return worst;
}

/* Returns whether the numbers agree within rounding. */
static int report_agreement(const Reference *r, const float *logits)
{
    long same = count_agreeing(r, logits), unexplained;
    double worst = worst_margin_difference(r, logits);

    printf("agreement with PyTorch: %ld of %ld predictions identical (%.2f%%)\n", same, r->count,
           100.0 * (double)same / (double)r->count);
    unexplained = list_differences(r, logits);
    printf("largest difference in the top-2 logit margin: %.3g (%s)\n", worst,
           worst <= MARGIN_TOLERANCE ? "float rounding" : "MISMATCH");
    return worst <= MARGIN_TOLERANCE && unexplained == 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--data DIR] [--predictions FILE] [--svg FILE]\n"
            "  --data DIR          the gzipped IDX test files (default "
            "/usr/share/datasets/fashion-mnist)\n"
            "  --predictions FILE  PyTorch's predictions, from train.py (default "
            "pytorch_predictions.bin)\n"
            "  --svg FILE          where to write the confusion matrix picture (default "
            "build/confusion.svg)\n",
            prog);
}

static int parse_args(int argc, char **argv, Options *o)
{
    int i;

    o->data_dir = "/usr/share/datasets/fashion-mnist";
    o->predictions_path = "pytorch_predictions.bin";
    o->svg_path = "build/confusion.svg";
    for (i = 1; i < argc; i++) {
        const char **slot = !strcmp(argv[i], "--data")          ? &o->data_dir
                            : !strcmp(argv[i], "--predictions") ? &o->predictions_path
                            : !strcmp(argv[i], "--svg")         ? &o->svg_path
                                                                : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout, argv[0]);
            exit(0);
        }
        if (slot == NULL || i + 1 >= argc) {
            fprintf(stderr, "%s: %s '%s'\n", argv[0],
                    slot ? "missing value after" : "unknown argument", argv[i]);
            usage(stderr, argv[0]);
            return -1;
        }
        *slot = argv[++i];
    }
    return 0;
}

int main(int argc, char **argv)
{
    static long cm[NUM_CLASSES][NUM_CLASSES];
    ClassMetrics m[NUM_CLASSES];
    Options opt;
    TestSet test;
    Reference ref;
    float *logits;
    double start, seconds, cpu;
    clock_t cpu_start;
    int agree;
    long correct = 0;
    int k;

    if (FMNIST_FC2_F != NUM_CLASSES) {
        fprintf(stderr, "this network has %d outputs; Fashion-MNIST has %d classes\n",
                (int)FMNIST_FC2_F, NUM_CLASSES);
        return 1;
    }
    if (parse_args(argc, argv, &opt) != 0 || load_test_set(opt.data_dir, &test) != 0 ||
        load_reference(opt.predictions_path, test.count, &ref) != 0)
        return 1;
    logits = malloc((size_t)test.count * NUM_CLASSES * sizeof(float));
    if (logits == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }

    start = now_seconds();
    cpu_start = clock();
    run_network(&test, logits);
    seconds = now_seconds() - start;
    cpu = (double)(clock() - cpu_start) / CLOCKS_PER_SEC;

    confusion_matrix(&test, logits, cm);
    for (k = 0; k < NUM_CLASSES; k++)
        correct += cm[k][k];
    if (class_metrics(&test, logits, cm, m) != 0)
        return 1;

    printf("Fashion-MNIST test set: %ld images from %s\n", test.count, opt.data_dir);
    printf("network fmnist compiled by cnnc: %ld parameters, batch %d; %.2f s (%.2f s of CPU, "
           "%.3f ms per image)\n\n",
           (long)FMNIST_PARAMS, BATCH, seconds, cpu, 1000 * cpu / (double)test.count);
    printf("accuracy: %.2f%% (%ld of %ld)\n\n", 100.0 * (double)correct / (double)test.count,
           correct, test.count);
    print_class_table(m);
    printf("\n");
    print_confusion_table(cm);
    printf("\n");
    if (write_svg(opt.svg_path, cm, correct, test.count) != 0)
        return 1;
    printf("confusion matrix picture: %s\n\n", opt.svg_path);
    agree = report_agreement(&ref, logits);

    free(logits);
    free(test.pixels);
    free(test.labels);
    free(ref.pred);
    free(ref.margin);
    return agree ? 0 : 1;
}
