/* Tests of the JSON writer. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "suites.h"

static char *buf;
static size_t len;

static FILE *open_buf(void)
{
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    return f;
}

START_TEST(nested_values_and_commas)
{
    FILE *f = open_buf();
    struct json j;

    json_init(&j, f);
    json_object_begin(&j);
    json_key(&j, "a");
    json_int(&j, -3);
    json_key(&j, "b");
    json_array_begin(&j);
    json_uint(&j, 1);
    json_bool(&j, true);
    json_null(&j);
    json_object_begin(&j);
    json_object_end(&j);
    json_array_end(&j);
    json_key(&j, "c");
    json_double(&j, 1.25, 2);
    json_key(&j, "d");
    json_double(&j, NAN, 2);
    json_object_end(&j);
    json_end_line(&j);
    fclose(f);
    ck_assert_str_eq(buf, "{\"a\":-3,\"b\":[1,true,null,{}],\"c\":1.25,\"d\":null}\n");
    free(buf);
}
END_TEST

START_TEST(strings_are_escaped)
{
    FILE *f = open_buf();
    struct json j;

    json_init(&j, f);
    json_array_begin(&j);
    json_string(&j, "q\"b\\n\n\t\x01");
    json_string(&j, NULL);
    json_array_end(&j);
    json_end_line(&j);
    fclose(f);
    ck_assert_str_eq(buf, "[\"q\\\"b\\\\n\\n\\t\\u0001\",\"\"]\n");
    free(buf);
}
END_TEST

START_TEST(writer_resets_per_line)
{
    FILE *f = open_buf();
    struct json j;

    json_init(&j, f);
    for (int i = 0; i < 2; i++) {
        json_object_begin(&j);
        json_key(&j, "n");
        json_int(&j, i);
        json_object_end(&j);
        json_end_line(&j);
    }
    fclose(f);
    ck_assert_str_eq(buf, "{\"n\":0}\n{\"n\":1}\n");
    free(buf);
}
END_TEST

Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *t = tcase_create("writer");

    tcase_add_test(t, nested_values_and_commas);
    tcase_add_test(t, strings_are_escaped);
    tcase_add_test(t, writer_resets_per_line);
    suite_add_tcase(s, t);
    return s;
}
