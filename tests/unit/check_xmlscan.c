/* Tests of the XML scanner on what libvirt writes, and on malformed text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "xmlscan.h"

static const char *domain_xml =
        "<domain type='kvm' id='3'>\n"
        "  <name>web &amp; db</name>\n"
        "  <!-- a comment <vcpu cpuset='9'/> -->\n"
        "  <memory unit='KiB'>2097152</memory>\n"
        "  <memoryBacking>\n    <hugepages/>\n  </memoryBacking>\n"
        "  <vcpu placement='static' cpuset='0-3,8'>4</vcpu>\n"
        "  <vcpus>\n    <vcpu id='0' enabled='yes' hotpluggable='no'/>\n  </vcpus>\n"
        "  <numatune>\n    <memory mode=\"strict\" nodeset=\"1\"/>\n  </numatune>\n"
        "  <devices>\n"
        "    <memballoon model='virtio' autodeflate='on' freePageReporting='off'>\n"
        "      <stats period='1'/>\n    </memballoon>\n"
        "  </devices>\n"
        "  <description>&lt;not a tag&gt; &quot;quoted&quot; &apos;x&apos;</description>\n"
        "</domain>\n";

START_TEST(attributes_by_path)
{
    char buf[64];

    ck_assert_int_eq(xmlscan_attr(domain_xml, "domain/vcpu", "cpuset", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "0-3,8");
    /* vcpus/vcpu is another element: not confused with domain/vcpu. */
    ck_assert_int_eq(xmlscan_attr(domain_xml, "domain/vcpus/vcpu", "id", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "0");
    ck_assert_int_eq(xmlscan_attr(domain_xml, "domain/numatune/memory", "mode", buf, sizeof(buf)),
                     1);
    ck_assert_str_eq(buf, "strict");
    ck_assert_int_eq(
            xmlscan_attr(domain_xml, "domain/devices/memballoon", "autodeflate", buf, sizeof(buf)),
            1);
    ck_assert_str_eq(buf, "on");
    ck_assert_int_eq(xmlscan_exists(domain_xml, "domain/memoryBacking/hugepages"), 1);
    ck_assert_int_eq(xmlscan_exists(domain_xml, "domain/devices/disk"), 0);
    ck_assert_int_eq(xmlscan_attr(domain_xml, "domain/vcpu", "nothere", buf, sizeof(buf)), 0);
    /* A value longer than the buffer is an error, not a truncation. */
    ck_assert_int_eq(xmlscan_attr(domain_xml, "domain/vcpu", "cpuset", buf, 4), -1);
}
END_TEST

struct cells {
    int cell, cpus, last_cell_of_cpu7;
    char siblings[16];
};

static bool topo(void *arg, const struct xmlscan_elem *e)
{
    struct cells *c = arg;
    const char *id = xmlscan_get(e, "id");

    if (xmlscan_is(e, "capabilities/host/topology/cells/cell") && id)
        c->cell = atoi(id);
    if (xmlscan_is(e, "capabilities/host/topology/cells/cell/cpus/cpu") && id) {
        c->cpus++;
        if (atoi(id) == 7) {
            c->last_cell_of_cpu7 = c->cell;
            strncpy(c->siblings, xmlscan_get(e, "siblings"), sizeof(c->siblings) - 1);
        }
    }
    return true;
}

START_TEST(walk_keeps_the_enclosing_element)
{
    const char *caps = "<capabilities><host><topology><cells num='2'>"
                       "<cell id='0'><cpus num='2'><cpu id='0' siblings='0,4'/>"
                       "<cpu id='1' siblings='1,5'/></cpus></cell>"
                       "<cell id='1'><cpus num='1'><cpu id='7' socket_id='1' core_id='3' "
                       "siblings='3,7'/></cpus></cell>"
                       "</cells></topology></host></capabilities>";
    struct cells c = {0};

    ck_assert_int_eq(xmlscan_walk(caps, topo, &c), 0);
    ck_assert_int_eq(c.cpus, 3);
    ck_assert_int_eq(c.last_cell_of_cpu7, 1);
    ck_assert_str_eq(c.siblings, "3,7");
}
END_TEST

static bool count(void *arg, const struct xmlscan_elem *e)
{
    (void)e;
    ++*(int *)arg;
    return true;
}

START_TEST(malformed_text_is_an_error)
{
    static const char *bad[] = {
            "<a><b></a>",           /* mismatched */
            "<a>",                  /* never closed */
            "<a x=1/>",             /* unquoted */
            "<a x='1<'/>",          /* '<' in a value */
            "<a x='&bogus;'/>",     /* unknown entity */
            "<a x='1'y='2'/>",      /* no space between attributes */
            "<a><!-- open comment", /* unterminated comment */
            "</a>",                 /* end without start */
            "< a/>",                /* no name */
            "<a x='unterminated/>",
    };
    char deep[4 * (XMLSCAN_MAX_DEPTH + 2) + 1] = "";
    int n = 0;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(xmlscan_walk(bad[i], count, &n) < 0, "accepted '%s'", bad[i]);
    for (int i = 0; i < XMLSCAN_MAX_DEPTH + 2; i++)
        strcat(deep, "<a>");
    ck_assert_int_lt(xmlscan_walk(deep, count, &n), 0);
    ck_assert_int_lt(xmlscan_walk(NULL, count, &n), 0);
    n = 0;
    ck_assert_int_eq(xmlscan_walk("<?xml version='1.0'?><a><![CDATA[<b>]]></a>", count, &n), 0);
    ck_assert_int_eq(n, 1);
}
END_TEST

/* What leaf_texts() saw: the text of each leaf, with its path and one attribute. */
struct leaves {
    int starts, leaves;
    char seen[512];
};

static bool leaf_texts(void *arg, const struct xmlscan_elem *e)
{
    struct leaves *l = arg;
    const char *unit = xmlscan_get(e, "unit");
    char one[128];

    if (!e->text) {
        l->starts++;
        return true;
    }
    l->leaves++;
    snprintf(one, sizeof(one), "%s%s=%s%s%s;", e->path[e->depth - 1],
             xmlscan_is(e, "domain/cputune/shares") ? "(path ok)" : "", e->text, unit ? "/" : "",
             unit ? unit : "");
    strncat(l->seen, one, sizeof(l->seen) - strlen(l->seen) - 1);
    return true;
}

START_TEST(leaf_text_with_its_attributes)
{
    const char *xml = "<domain>\n"
                      "  <memtune>\n"
                      "    <hard_limit unit='KiB'> 1126400 </hard_limit>\n"
                      "    <soft_limit unit='MiB'>900</soft_limit>\n"
                      "  </memtune>\n"
                      "  <cputune>\n"
                      "    <shares>2048</shares>\n"
                      "    <vcpupin vcpu='0' cpuset='1'/>\n"
                      "    <quota></quota>\n"
                      "  </cputune>\n"
                      "  <name>a &amp; b</name>\n"
                      "  <description>x<!-- c -->y</description>\n"
                      "  <title>x<b/>y</title>\n"
                      "</domain>\n";
    struct leaves l = {0};

    ck_assert_int_eq(xmlscan_walk_text(xml, leaf_texts, &l), 0);
    ck_assert_str_eq(l.seen, "hard_limit=1126400/KiB;soft_limit=900/MiB;shares(path ok)=2048;"
                             "quota=;name=a & b;");
    ck_assert_int_eq(l.leaves, 5);
    ck_assert_int_eq(l.starts, 12);
    /* The plain walk never calls with text. */
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(xmlscan_walk(xml, leaf_texts, &l), 0);
    ck_assert_int_eq(l.leaves, 0);
    ck_assert_int_eq(l.starts, 12);
    /* Malformed text is an error; a callback may stop at a leaf. */
    ck_assert_int_lt(xmlscan_walk_text("<a>&bogus;</a>", leaf_texts, &l), 0);
    ck_assert_int_lt(xmlscan_walk_text("<a>1</b>", leaf_texts, &l), 0);
}
END_TEST

/* Text cut anywhere before the root element closes leaves it open, or cuts a construct: always
 * an error. Each cut is copied to a buffer of its own size, so that a read past its end is seen
 * (make SAN=1, make valgrind). */
START_TEST(every_truncation_is_an_error)
{
    size_t full = strlen(domain_xml), closed = full - 1; /* "</domain>" ends before the '\n' */
    int n = 0;

    for (size_t len = 1; len <= full; len++) {
        char *cut = malloc(len + 1);
        ck_assert_ptr_nonnull(cut);
        memcpy(cut, domain_xml, len);
        cut[len] = '\0';
        ck_assert_msg(xmlscan_walk(cut, count, &n) == (len >= closed ? 0 : -1),
                      "a cut at %zu of %zu: '%s'", len, full, cut);
        free(cut);
    }
}
END_TEST

static bool is_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:.-", *s))
            return false;
    return true;
}

/* What the callback saw of one scan of TEXT: its elements, their attributes, and the first
 * element that was not sane. */
struct seen {
    const char *text;
    int elems, attrs;
    char insane[128];
};

/* Why element E, shown by a scan of TEXT, is not one of its text (NULL: it is): a path of 1 to
 * XMLSCAN_MAX_DEPTH names and at most XMLSCAN_MAX_ATTRS attributes, each name found in the
 * text, each value no longer than it. */
static const char *insane(const struct xmlscan_elem *e, const char *text)
{
    if (e->depth < 1 || e->depth > XMLSCAN_MAX_DEPTH)
        return "a depth out of range";
    if (e->nattrs < 0 || e->nattrs > XMLSCAN_MAX_ATTRS)
        return "an attribute count out of range";
    for (int i = 0; i < e->depth; i++)
        if (!is_name(e->path[i]) || !strstr(text, e->path[i]))
            return e->path[i];
    for (int i = 0; i < e->nattrs; i++) {
        if (!is_name(e->attrs[i].name) || !strstr(text, e->attrs[i].name))
            return e->attrs[i].name;
        if (strlen(e->attrs[i].value) > strlen(text))
            return e->attrs[i].value;
    }
    return NULL;
}

static bool sane_element(void *arg, const struct xmlscan_elem *e)
{
    struct seen *s = arg;
    const char *why = insane(e, s->text);

    if (why && !s->insane[0])
        snprintf(s->insane, sizeof(s->insane), "%s", why);
    s->elems++;
    s->attrs += e->nattrs;
    return true;
}

/* Scans TEXT, copied to a buffer of its own size: the result is 0 or -1, the text is left as
 * it was, and every element shown is sane. Returns the result; the elements and attributes seen
 * go to *ELEMS and *ATTRS. (Check's assertions are costly: each is made only once failed.) */
static int scan_untrusted(const char *text, int *elems, int *attrs)
{
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    struct seen s = {.text = copy};
    int rc;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, text, len + 1);
    rc = xmlscan_walk(copy, sane_element, &s);
    if (rc != 0 && rc != -1)
        ck_abort_msg("returned %d on '%s'", rc, text);
    if (s.insane[0])
        ck_abort_msg("showed '%s', not of '%s'", s.insane, text);
    {
        struct seen t = {.text = copy}; /* the walk that also shows leaf text */
        int rct = xmlscan_walk_text(copy, sane_element, &t);
        if (rct != 0 && rct != -1)
            ck_abort_msg("the text walk returned %d on '%s'", rct, text);
        if (t.insane[0])
            ck_abort_msg("the text walk showed '%s', not of '%s'", t.insane, text);
    }
    if (memcmp(copy, text, len + 1) != 0)
        ck_abort_msg("changed '%s' to '%s'", text, copy);
    free(copy);
    *elems = s.elems;
    *attrs = s.attrs;
    return rc;
}

static const char garbage_alphabet[] = "<>/='\"&;!-?[] abc\n";

static char garbage_char(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return garbage_alphabet[(*seed >> 33) % (sizeof(garbage_alphabet) - 1)];
}

/* DOMAIN_XML with one to four characters replaced, deleted or inserted, into OUT. */
static void mutate(char *out, size_t size, uint64_t *seed)
{
    int edits = 1 + (int)(*seed >> 60) % 4;

    snprintf(out, size, "%s", domain_xml);
    for (int k = 0; k < edits; k++) {
        size_t len = strlen(out), at;
        char c = garbage_char(seed);
        at = (size_t)(*seed >> 20) % len;
        switch ((*seed >> 40) % 3) {
        case 0:
            out[at] = c;
            break;
        case 1:
            memmove(out + at, out + at + 1, len - at);
            break;
        default:
            if (len + 1 < size) {
                memmove(out + at + 1, out + at, len - at + 1);
                out[at] = c;
            }
        }
    }
}

/* Untrusted text, random characters of XML's syntax or a description with a few characters
 * changed, is either scanned or rejected with -1: the scan never shows an element that is not
 * in the text, never changes it, and never reads outside it (make SAN=1, make valgrind). Both
 * outcomes are reached, and elements with attributes are shown. */
START_TEST(garbage_is_scanned_or_rejected_within_its_text)
{
    uint64_t seed = 12345;
    char buf[1024];
    int accepted = 0, rejected = 0, attrs = 0;

    for (int t = 0; t < 10000; t++) {
        int e, a;
        if (t % 2) {
            size_t len = (size_t)(t % 200);
            for (size_t i = 0; i < len; i++)
                buf[i] = garbage_char(&seed);
            buf[len] = '\0';
        } else {
            mutate(buf, sizeof(buf), &seed);
        }
        if (scan_untrusted(buf, &e, &a) == 0)
            accepted += e > 0;
        else
            rejected++;
        attrs += a;
    }
    ck_assert_int_ge(accepted, 500);
    ck_assert_int_ge(rejected, 1000);
    ck_assert_int_ge(attrs, 10000);
}
END_TEST

Suite *xmlscan_suite(void)
{
    Suite *s = suite_create("xmlscan");
    TCase *t = tcase_create("scan");

    tcase_add_test(t, attributes_by_path);
    tcase_add_test(t, walk_keeps_the_enclosing_element);
    tcase_add_test(t, malformed_text_is_an_error);
    tcase_add_test(t, every_truncation_is_an_error);
    tcase_add_test(t, garbage_is_scanned_or_rejected_within_its_text);
    tcase_add_test(t, leaf_text_with_its_attributes);
    suite_add_tcase(s, t);
    return s;
}
