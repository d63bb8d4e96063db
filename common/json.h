/* A minimal streaming JSON writer: one object per line on a FILE. */
#ifndef VMB_JSON_H
#define VMB_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

/* Writer state; stack-allocate and start with json_init(). */
struct json {
    FILE *out;
    int depth;
    bool need_comma[JSON_MAX_DEPTH];
    bool after_key;
};

/* Starts a writer on OUT (not owned). */
void json_init(struct json *j, FILE *out);

/* Opens/closes an object or array, as a value or as the value of the pending key. */
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);

/* Writes a key inside an object; the next call writes its value. */
void json_key(struct json *j, const char *key);

/* Writes scalar values (strings are escaped; non-finite numbers become null). */
void json_string(struct json *j, const char *s);
void json_double(struct json *j, double v, int decimals);
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* Key and value in one call, inside an object. */
void json_kv_string(struct json *j, const char *key, const char *s);
void json_kv_double(struct json *j, const char *key, double v, int decimals);
void json_kv_int(struct json *j, const char *key, int64_t v);
void json_kv_uint(struct json *j, const char *key, uint64_t v);
void json_kv_bool(struct json *j, const char *key, bool v);

/* Ends the line and flushes; call once the top-level object is closed. */
void json_end_line(struct json *j);

#endif
