/* Small helpers shared by the Check suites. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int saved_out = -1, saved_err = -1;

void quiet_begin(void)
{
    int null = open("/dev/null", O_WRONLY);

    if (null < 0)
        return;
    fflush(stdout);
    fflush(stderr);
    saved_out = dup(1);
    saved_err = dup(2);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
}

void quiet_end(void)
{
    fflush(stdout);
    fflush(stderr);
    if (saved_out >= 0) {
        dup2(saved_out, 1);
        close(saved_out);
        saved_out = -1;
    }
    if (saved_err >= 0) {
        dup2(saved_err, 2);
        close(saved_err);
        saved_err = -1;
    }
}

/* Reads a metric or label name at *P; returns its length (0: none). */
static size_t name_len(const char *p)
{
    size_t n = 0;

    while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') || p[n] == '_' ||
           p[n] == ':' || (n > 0 && p[n] >= '0' && p[n] <= '9'))
        n++;
    return n;
}

/* Checks the labels of a sample at *P ("{...}" or nothing); advances *P past them. */
static bool valid_labels(const char **p)
{
    const char *s = *p;

    if (*s != '{')
        return true;
    s++;
    while (*s != '}') {
        size_t n = name_len(s);
        if (n == 0 || s[n] != '=' || s[n + 1] != '"')
            return false;
        s += n + 2;
        while (*s != '"') {
            if (*s == '\n' || *s == '\0')
                return false;
            if (*s == '\\' && s[1] != '\\' && s[1] != '"' && s[1] != 'n')
                return false;
            s += *s == '\\' ? 2 : 1;
        }
        s++;
        if (*s == ',')
            s++;
        else if (*s != '}')
            return false;
    }
    *p = s + 1;
    return true;
}

static bool valid_number(const char *s, size_t n)
{
    char buf[64], *end;

    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!strcmp(buf, "NaN") || !strcmp(buf, "+Inf") || !strcmp(buf, "-Inf"))
        return true;
    strtod(buf, &end);
    return *end == '\0';
}

/* Checks one sample line S of family FAMILY. */
static bool valid_sample(const char *s, size_t len, const char *family)
{
    const char *p = s, *eol = s + len;
    size_t n = name_len(p);

    if (n != strlen(family) || strncmp(p, family, n) != 0)
        return false;
    p += n;
    if (!valid_labels(&p) || p >= eol || *p != ' ')
        return false;
    p++;
    return valid_number(p, (size_t)(eol - p));
}

#define SEEN_MAX 256

bool testutil_valid_exposition(const char *text, char *why, size_t size)
{
    char family[128] = "", seen[SEEN_MAX][128];
    size_t nseen = 0;
    bool typed = false;

    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len;

        if (!eol) {
            snprintf(why, size, "no newline at the end: %s", line);
            return false;
        }
        len = (size_t)(eol - line);
        if (strncmp(line, "# HELP ", 7) == 0) {
            size_t n = name_len(line + 7);
            if (n == 0 || n >= sizeof(family) || line[7 + n] != ' ')
                goto bad;
            memcpy(family, line + 7, n);
            family[n] = '\0';
            for (size_t i = 0; i < nseen; i++)
                if (!strcmp(seen[i], family))
                    goto bad;
            if (nseen < SEEN_MAX)
                snprintf(seen[nseen++], sizeof(seen[0]), "%s", family);
            typed = false;
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            size_t n = strlen(family);
            const char *type = line + 8 + n;
            if (typed || strncmp(line + 7, family, n) != 0 || line[7 + n] != ' ')
                goto bad;
            if (!strncmp(type, "counter\n", 8)) {
                if (n < 6 || strcmp(family + n - 6, "_total") != 0)
                    goto bad;
            } else if (strncmp(type, "gauge\n", 6) != 0) {
                goto bad;
            }
            typed = true;
        } else if (!typed || !valid_sample(line, len, family)) {
            goto bad;
        }
        line = eol + 1;
        continue;
    bad:
        snprintf(why, size, "bad line: %.*s", (int)len, line);
        return false;
    }
    return true;
}
