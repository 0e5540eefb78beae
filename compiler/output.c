/* output.c - writing cnnc's output files all-or-nothing (output.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/vfs.h>
#endif
#include <unistd.h>

#include "output.h"

/* ---- atomic output ------------------------------------------------------ */

/* One output file. A regular file (or a new one) is written to a temporary
 * beside it and renamed over it once every output was written; a symlink is
 * followed, so its target is replaced and the link stays. Anything else (a
 * character device such as /dev/null, a FIFO, the /dev/stdout and /dev/fd/N
 * links of /proc) is opened and written directly, never replaced. */
typedef struct PendingFile {
    const char *path; /* as given, for messages */
    char *target;     /* path with its symlinks followed: renamed over */
    char *tmp;        /* the staged temporary, until renamed */
    bool direct;      /* written through open(path), not renamed */
    bool append;      /* direct, a regular file reached through /proc: O_APPEND */
    int fd;           /* direct: the open file, or -1 */
} PendingFile;

static bool output_error(const char *path, int err)
{
    fprintf(stderr, "cnnc: error: cannot write '%s': %s\n", path, strerror(err));
    return false;
}

/* The link at path, read. NULL on error (errno set). */
static char *read_link(const char *path)
{
    for (size_t cap = 256;; cap *= 2) {
        char *buf = xmalloc(cap);
        ssize_t n = readlink(path, buf, cap);
        if (n >= 0 && (size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
        if (n < 0)
            return NULL;
    }
}

/* Whether the link at path is one of /proc's (/proc/self/fd/1, also reached
 * as /dev/stdout or /dev/fd/1): it names an open file, not a path to replace. */
static bool in_procfs(const char *path)
{
#ifdef __linux__
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
    struct statfs fs;
    bool proc = statfs(dir, &fs) == 0 && fs.f_type == 0x9fa0; /* PROC_SUPER_MAGIC */
    free(dir);
    return proc;
#else
    return strncmp(path, "/proc/", 6) == 0;
#endif
}

/* Decide how pf->path is written: refuse a directory or a block device, and
 * follow symlinks (through a dangling one, its target is created). Errors
 * are printed if report. */
static bool plan_file(PendingFile *pf, const char *path, bool report)
{
    *pf = (PendingFile){.path = path, .fd = -1};
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        return report && output_error(path, EISDIR);
    if (exists && S_ISBLK(st.st_mode)) {
        if (report)
            fprintf(stderr, "cnnc: error: cannot write '%s': it is a block device\n", path);
        return false;
    }
    if (exists && !S_ISREG(st.st_mode)) {
        pf->direct = true;
        return true;
    }
    char *p = xstrdup(path);
    for (int hops = 0;; hops++) {
        struct stat lst;
        if (lstat(p, &lst) != 0 || !S_ISLNK(lst.st_mode))
            break;
        if (in_procfs(p)) {
            /* /dev/stdout -> /proc/self/fd/1 -> a file the shell opened:
             * its name may be gone or renamed; write into the file itself. */
            free(p);
            pf->direct = pf->append = true;
            return true;
        }
        char *link = hops < 40 ? read_link(p) : NULL;
        if (!link) {
            int err = hops < 40 ? errno : ELOOP;
            free(p);
            return report && output_error(path, err);
        }
        const char *slash = strrchr(p, '/');
        char *next = link[0] == '/' || !slash ? xstrdup(link)
                                              : xasprintf("%.*s/%s", (int)(slash - p), p, link);
        free(link);
        free(p);
        p = next;
    }
    pf->target = p;
    return true;
}

/* The temporary for path: path.tmpXXXXXX, in the same directory, with the
 * file name cut short where the suffix would make it too long for the file
 * system (a 250-byte name is valid, 260 bytes are not). */
static char *temp_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t keep = strlen(base), limit = NAME_MAX - strlen(".tmpXXXXXX");
    if (keep > limit)
        keep = limit;
    return xasprintf("%.*s%.*s.tmpXXXXXX", (int)(base - path), path, (int)keep, base);
}

typedef struct FdSink {
    int fd;
    int err; /* errno of the failed write */
} FdSink;

static bool put_fd(void *ctx, const void *bytes, size_t n)
{
    FdSink *s = ctx;
    for (size_t done = 0; done < n;) {
        ssize_t k = write(s->fd, (const char *)bytes + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            s->err = k < 0 ? errno : EIO;
            return false;
        }
        done += (size_t)k;
    }
    return true;
}

/* Write all of data into fd: 0, or the errno of the failure. */
static int write_data(int fd, const OutData *data)
{
    FdSink sink = {fd, 0};
    if (data->text)
        put_fd(&sink, data->text->data ? data->text->data : "", data->text->len);
    else
        emit_weight_blob(data->blob, put_fd, &sink);
    return sink.err;
}

/* Write data to a temporary file beside the target; rename later with
 * commit_file. */
static bool stage_file(PendingFile *pf, const OutData *data)
{
    pf->tmp = temp_name(pf->target);
    int fd = mkstemp(pf->tmp);
    if (fd < 0) {
        fprintf(stderr, "cnnc: error: cannot create '%s': %s\n", pf->path, strerror(errno));
        free(pf->tmp);
        pf->tmp = NULL;
        return false;
    }
    /* mkstemp creates the file 0600; give it the mode a plain fopen would. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    int err = write_data(fd, data);
    if (close(fd) != 0 && !err)
        err = errno;
    bool ok = err == 0;
    if (!ok) {
        output_error(pf->path, err);
        unlink(pf->tmp);
        free(pf->tmp);
        pf->tmp = NULL;
    }
    return ok;
}

/* Open a direct output and write all of data into it (a FIFO blocks until
 * it has a reader, as a shell redirection does). */
static bool write_direct(PendingFile *pf, const OutData *data)
{
    pf->fd = open(pf->path, O_WRONLY | O_NOCTTY | (pf->append ? O_APPEND : 0));
    if (pf->fd < 0)
        return output_error(pf->path, errno);
    struct stat st;
    if (fstat(pf->fd, &st) != 0)
        return output_error(pf->path, errno);
    if (S_ISREG(st.st_mode) != pf->append) /* it changed since plan_file */
        return output_error(pf->path, EAGAIN);
    int err = write_data(pf->fd, data);
    if (err)
        return output_error(pf->path, err);
    int fd = pf->fd;
    pf->fd = -1;
    return close(fd) == 0 || output_error(pf->path, errno);
}

static void discard_file(PendingFile *pf);

/* Whether path is a device, FIFO or /proc link that output is written into. */
bool written_directly(const char *path)
{
    PendingFile pf;
    bool direct = plan_file(&pf, path, false) && pf.direct;
    discard_file(&pf);
    return direct;
}

static void discard_file(PendingFile *pf)
{
    if (pf->tmp)
        unlink(pf->tmp);
    if (pf->fd >= 0)
        close(pf->fd);
    free(pf->tmp);
    free(pf->target);
    *pf = (PendingFile){.fd = -1};
}

static bool commit_file(PendingFile *pf)
{
    if (rename(pf->tmp, pf->target) != 0)
        return output_error(pf->path, errno);
    free(pf->tmp);
    pf->tmp = NULL;
    return true;
}

/* Whether writing path b would write file a: the same name, or the same
 * regular file (st_dev and st_ino, through links). Two writes into one device
 * or FIFO (-o /dev/null --weights-file=/dev/null) harm nothing, so only
 * regular files and names not created yet count. */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    bool sta = stat(a, &sa) == 0, stb = stat(b, &sb) == 0;
    if (sta && stb)
        return S_ISREG(sa.st_mode) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return strcmp(a, b) == 0;
}

/* The output files must be distinct, and none of them an input: the .cnn or
 * the weights file read (-o net.cnn, --weights-file=w.safetensors or
 * --emit=ir -o w.safetensors would overwrite what was read). inputs[1] is
 * NULL without a weights file. */
bool outputs_distinct(const char *const inputs[2], const char *const paths[3])
{
    static const char *const what[2] = {"the input file", "the weights file"};
    for (int i = 0; i < 3; i++) {
        if (!paths[i])
            continue;
        for (int k = 0; k < 2; k++) {
            if (inputs[k] && same_file(inputs[k], paths[i])) {
                if (k == 0 || strcmp(inputs[k], paths[i]) == 0)
                    fprintf(stderr, "cnnc: error: output file '%s' is %s\n", paths[i], what[k]);
                else
                    fprintf(stderr, "cnnc: error: output file '%s' is %s '%s'\n", paths[i], what[k],
                            inputs[k]);
                return false;
            }
        }
        for (int j = 0; j < i; j++) {
            if (paths[j] && same_file(paths[i], paths[j])) {
                fprintf(stderr, "cnnc: error: '%s' would be written twice (as %s and %s)\n",
                        paths[i], j == 0 ? "the C source" : "the header",
                        i == 1 ? "the header" : "the weights file");
                return false;
            }
        }
    }
    return true;
}

/* Write up to three files all-or-nothing, as far as the file system allows:
 * every destination is checked first, regular files go to temporary names,
 * the direct outputs (devices, FIFOs) are written, and the renames happen
 * only once all of that succeeded. */
bool write_outputs(const char *const paths[3], const OutData data[3])
{
    PendingFile pf[3] = {{.fd = -1}, {.fd = -1}, {.fd = -1}};
    bool ok = true;
    for (int i = 0; i < 3 && ok; i++)
        if (paths[i])
            ok = plan_file(&pf[i], paths[i], true);
    for (int i = 0; i < 3 && ok; i++) /* two dangling symlinks to one new file */
        for (int j = 0; j < i && ok; j++)
            if (pf[i].target && pf[j].target && strcmp(pf[i].target, pf[j].target) == 0) {
                fprintf(stderr, "cnnc: error: '%s' and '%s' are the same file '%s'\n", paths[j],
                        paths[i], pf[i].target);
                ok = false;
            }
    for (int i = 0; i < 3 && ok; i++)
        if (paths[i] && !pf[i].direct)
            ok = stage_file(&pf[i], &data[i]);
    /* A reader closing a FIFO early is an error to report (EPIPE), not a
     * signal that would leave the temporaries behind. */
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < 3 && ok; i++)
        if (paths[i] && pf[i].direct)
            ok = write_direct(&pf[i], &data[i]);
    signal(SIGPIPE, old_pipe);
    for (int i = 0; i < 3 && ok; i++)
        if (paths[i] && !pf[i].direct)
            ok = commit_file(&pf[i]);
    for (int i = 0; i < 3; i++)
        discard_file(&pf[i]);
    return ok;
}
