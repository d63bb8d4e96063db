/* A minimal streaming JSON writer. */
#include "json.h"

#include <inttypes.h>
#include <math.h>

void json_init(struct json *j, FILE *out)
{
    j->out = out;
    j->depth = 0;
    j->need_comma[0] = false;
    j->after_key = false;
}

/* Emits the separator a new value needs at the current position. */
static void value_prefix(struct json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth])
        fputc(',', j->out);
    j->need_comma[j->depth] = true;
}

static void open_container(struct json *j, char c)
{
    value_prefix(j);
    fputc(c, j->out);
    if (j->depth + 1 < JSON_MAX_DEPTH)
        j->depth++;
    j->need_comma[j->depth] = false;
}

static void close_container(struct json *j, char c)
{
    fputc(c, j->out);
    if (j->depth > 0)
        j->depth--;
}

void json_object_begin(struct json *j)
{
    open_container(j, '{');
}

void json_object_end(struct json *j)
{
    close_container(j, '}');
}

void json_array_begin(struct json *j)
{
    open_container(j, '[');
}

void json_array_end(struct json *j)
{
    close_container(j, ']');
}

static void write_escaped(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

void json_key(struct json *j, const char *key)
{
    value_prefix(j);
    write_escaped(j->out, key);
    fputc(':', j->out);
    j->after_key = true;
}

void json_string(struct json *j, const char *s)
{
    value_prefix(j);
    write_escaped(j->out, s ? s : "");
}

void json_double(struct json *j, double v, int decimals)
{
    value_prefix(j);
    if (isfinite(v))
        fprintf(j->out, "%.*f", decimals, v);
    else
        fputs("null", j->out);
}

void json_int(struct json *j, int64_t v)
{
    value_prefix(j);
    fprintf(j->out, "%" PRId64, v);
}

void json_uint(struct json *j, uint64_t v)
{
    value_prefix(j);
    fprintf(j->out, "%" PRIu64, v);
}

void json_bool(struct json *j, bool v)
{
    value_prefix(j);
    fputs(v ? "true" : "false", j->out);
}

void json_null(struct json *j)
{
    value_prefix(j);
    fputs("null", j->out);
}

void json_kv_string(struct json *j, const char *key, const char *s)
{
    json_key(j, key);
    json_string(j, s);
}

void json_kv_double(struct json *j, const char *key, double v, int decimals)
{
    json_key(j, key);
    json_double(j, v, decimals);
}

void json_kv_int(struct json *j, const char *key, int64_t v)
{
    json_key(j, key);
    json_int(j, v);
}

void json_kv_uint(struct json *j, const char *key, uint64_t v)
{
    json_key(j, key);
    json_uint(j, v);
}

void json_kv_bool(struct json *j, const char *key, bool v)
{
    json_key(j, key);
    json_bool(j, v);
}

void json_end_line(struct json *j)
{
    fputc('\n', j->out);
    fflush(j->out);
    j->depth = 0;
    j->need_comma[0] = false;
    j->after_key = false;
}
