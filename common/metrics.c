/* Prometheus text-format metrics (exposition format 0.0.4), built in memory and written to a
 * file atomically, as node_exporter's textfile collector expects.
 *
 * Label values come from users (domain names): a backslash, a double quote and a newline are
 * escaped as the format requires; valid UTF-8 passes through; bytes that are not valid UTF-8
 * become U+FFFD, because Prometheus rejects a whole file that holds invalid UTF-8.
 */
#define _POSIX_C_SOURCE 200809L
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* The metrics file is for a collector that runs as another user: readable by all, whatever
 * the umask (it holds what `virsh list` shows anyway). */
#define FILE_MODE 0644

struct metrics {
    char *path, *tmp; /* the file, and the temporary file written before the rename */
    char *buf;        /* the text, NUL-terminated */
    size_t len, cap;
    bool oom;           /* a part of the text could not be added: do not write it */
    const char *family; /* name of the family whose samples are being added */
    bool failing;       /* the last write failed (and that was said) */
};

struct metrics *metrics_create(const char *path)
{
    struct metrics *m = calloc(1, sizeof(*m));
    size_t n;

    if (!m)
        return NULL;
    if (path) {
        n = strlen(path) + 32;
        m->path = strdup(path);
        m->tmp = malloc(n);
        if (!m->path || !m->tmp) {
            metrics_destroy(m);
            return NULL;
        }
        snprintf(m->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    }
    metrics_begin(m);
    return m;
}

void metrics_destroy(struct metrics *m)
{
    if (!m)
        return;
    free(m->path);
    free(m->tmp);
    free(m->buf);
    free(m);
}

void metrics_begin(struct metrics *m)
{
    m->len = 0;
    m->oom = false;
    m->family = NULL;
    if (m->buf)
        m->buf[0] = '\0';
}

static void put(struct metrics *m, const char *s, size_t n)
{
    if (m->oom || util_grow((void **)&m->buf, &m->cap, m->len + n + 1, 1) < 0) {
        m->oom = true;
        return;
    }
    memcpy(m->buf + m->len, s, n);
    m->len += n;
    m->buf[m->len] = '\0';
}

static void puts_(struct metrics *m, const char *s)
{
    put(m, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at S (1 to 4), or 0 when S does not start one: overlong
 * forms, surrogates and code points above U+10FFFF are invalid (RFC 3629). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* Adds S as the text of a label value (QUOTES: escape '"' too) or of a HELP line. */
static void put_escaped(struct metrics *m, const char *s, bool quotes)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        size_t n = utf8_len(p);

        if (n == 0) {
            puts_(m, "\xEF\xBF\xBD"); /* U+FFFD, the replacement character */
            p++;
        } else if (*p == '\\') {
            puts_(m, "\\\\");
            p++;
        } else if (*p == '\n') {
            puts_(m, "\\n");
            p++;
        } else if (*p == '"' && quotes) {
            puts_(m, "\\\"");
            p++;
        } else {
            put(m, (const char *)p, n);
            p += n;
        }
    }
}

/* Adds V as Prometheus writes numbers: integers in full, others with 15 significant digits. */
static void put_value(struct metrics *m, double v)
{
    char num[64];

    if (isnan(v))
        snprintf(num, sizeof(num), "NaN");
    else if (isinf(v))
        snprintf(num, sizeof(num), v > 0 ? "+Inf" : "-Inf");
    else if (v == 0)
        snprintf(num, sizeof(num), "0");
    else if (v == floor(v) && fabs(v) < 1e18)
        snprintf(num, sizeof(num), "%.0f", v);
    else
        snprintf(num, sizeof(num), "%.15g", v);
    puts_(m, num);
}

void metrics_family(struct metrics *m, const char *name, enum metrics_type type, const char *help)
{
    m->family = name;
    puts_(m, "# HELP ");
    puts_(m, name);
    puts_(m, " ");
    put_escaped(m, help, false);
    puts_(m, "\n# TYPE ");
    puts_(m, name);
    puts_(m, type == METRICS_COUNTER ? " counter\n" : " gauge\n");
}

void metrics_sample(struct metrics *m, const struct metrics_label *labels, size_t n, double value)
{
    if (!m->family)
        return;
    puts_(m, m->family);
    for (size_t i = 0; i < n; i++) {
        puts_(m, i == 0 ? "{" : ",");
        puts_(m, labels[i].name);
        puts_(m, "=\"");
        put_escaped(m, labels[i].value ? labels[i].value : "", true);
        puts_(m, "\"");
    }
    puts_(m, n ? "} " : " ");
    put_value(m, value);
    puts_(m, "\n");
}

void metrics_single(struct metrics *m, const char *name, enum metrics_type type, const char *help,
                    double value)
{
    metrics_family(m, name, type, help);
    metrics_sample(m, NULL, 0, value);
}

const char *metrics_text(const struct metrics *m, size_t *len)
{
    if (len)
        *len = m->len;
    return m->buf ? m->buf : "";
}

/* The steps of writing the file, each with a message of its own when it fails. */
enum write_step { STEP_BUILD, STEP_CREATE, STEP_WRITE, STEP_SYNC, STEP_CLOSE, STEP_RENAME };

/* Writes the text to the temporary file and syncs it; returns 0, or -1 with errno set and
 * *STEP the step that failed. */
static int write_tmp(const struct metrics *m, enum write_step *step)
{
    size_t off = 0;
    int fd, err;

    *step = STEP_CREATE;
    fd = open(m->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, FILE_MODE);
    if (fd < 0)
        return -1;
    *step = STEP_WRITE;
    if (fchmod(fd, FILE_MODE) < 0)
        goto fail;
    while (off < m->len) {
        ssize_t n = write(fd, m->buf + off, m->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        off += (size_t)n;
    }
    *step = STEP_SYNC;
    if (fsync(fd) < 0)
        goto fail;
    *step = STEP_CLOSE;
    return close(fd);

fail:
    err = errno ? errno : EIO;
    close(fd);
    errno = err;
    return -1;
}

/* Says that STEP failed with ERR: a warning the first time (FIRST), then debug lines. */
static void say_failed(const struct metrics *m, enum write_step step, int err, bool first)
{
    enum log_level level = first ? LOG_WARNING : LOG_DEBUG;
    const char *path = m->path, *why = strerror(err);
    const char *note = first ? " (trying again every period; said once)" : "";

    switch (step) {
    case STEP_BUILD:
        log_msg(level, "out of memory building the metrics file '%s': %s%s", path, why, note);
        break;
    case STEP_CREATE:
        log_msg(level, "cannot create the metrics file '%s': %s%s", path, why, note);
        break;
    case STEP_WRITE:
        log_msg(level, "cannot write the metrics file '%s': %s%s", path, why, note);
        break;
    case STEP_SYNC:
        log_msg(level, "cannot sync the metrics file '%s': %s%s", path, why, note);
        break;
    case STEP_CLOSE:
        log_msg(level, "cannot close the metrics file '%s': %s%s", path, why, note);
        break;
    case STEP_RENAME:
        log_msg(level, "cannot rename the temporary file over the metrics file '%s': %s%s", path,
                why, note);
        break;
    }
}

int metrics_write(struct metrics *m)
{
    enum write_step step = STEP_BUILD;
    int err = ENOMEM;

    if (!m->path)
        return 0;
    if (!m->oom) {
        if (write_tmp(m, &step) == 0) {
            step = STEP_RENAME;
            if (rename(m->tmp, m->path) == 0) {
                if (m->failing)
                    log_info("metrics written to '%s' again", m->path);
                m->failing = false;
                return 0;
            }
        }
        err = errno;
        unlink(m->tmp);
    }
    say_failed(m, step, err, !m->failing);
    m->failing = true;
    return -1;
}
