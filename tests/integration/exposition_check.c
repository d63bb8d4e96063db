/* Checks Prometheus text files as the unit tests' strict reader does (testutil.h), so that the
 * shell tests check the metrics files the programs write whether or not promtool is installed.
 * Usage: exposition_check FILE...; exit 0 when every file is valid, else 1 and the reason. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit/testutil.h"

/* The contents of PATH as a string (free() it), its length in *LEN; NULL when unreadable. */
static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    char *text = NULL;
    size_t cap = 0, got;

    *len = 0;
    if (!f)
        return NULL;
    do {
        if (cap - *len < 4096 + 1) {
            char *t = realloc(text, cap * 2 + 4096 + 1);
            if (!t)
                break;
            text = t;
            cap = cap * 2 + 4096 + 1;
        }
        got = fread(text + *len, 1, cap - *len - 1, f);
        *len += got;
    } while (got > 0);
    if (ferror(f) || !feof(f)) {
        free(text);
        text = NULL;
    } else {
        text[*len] = '\0';
    }
    fclose(f);
    return text;
}

/* Checks one file; prints why it is not valid. Returns true when it is. */
static bool check_file(const char *path)
{
    char why[512] = "";
    size_t len;
    char *text = read_text(path, &len);
    bool valid;

    if (!text) {
        fprintf(stderr, "exposition_check: cannot read '%s'.\n", path);
        return false;
    }
    valid = strlen(text) == len;
    if (!valid)
        snprintf(why, sizeof(why), "a NUL byte at offset %zu", strlen(text));
    else
        valid = testutil_valid_exposition(text, why, sizeof(why));
    if (!valid)
        fprintf(stderr, "exposition_check: '%s' is not valid Prometheus text: %s\n", path, why);
    free(text);
    return valid;
}

int main(int argc, char **argv)
{
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: exposition_check FILE...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++)
        if (!check_file(argv[i]))
            rc = 1;
    return rc;
}
