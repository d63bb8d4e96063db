/* Tests of the XML scanner on what libvirt writes, and on malformed text. */
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

START_TEST(garbage_never_crashes)
{
    uint64_t seed = 12345;
    char buf[256];
    int n = 0;

    for (int t = 0; t < 20000; t++) {
        size_t len = (size_t)(t % 200);
        for (size_t i = 0; i < len; i++) {
            static const char alphabet[] = "<>/='\"&;!-?[] abc\n";
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
        }
        buf[len] = '\0';
        (void)xmlscan_walk(buf, count, &n);
        (void)xmlscan_walk_text(buf, count, &n);
    }
}
END_TEST

Suite *xmlscan_suite(void)
{
    Suite *s = suite_create("xmlscan");
    TCase *t = tcase_create("scan");

    tcase_add_test(t, attributes_by_path);
    tcase_add_test(t, walk_keeps_the_enclosing_element);
    tcase_add_test(t, malformed_text_is_an_error);
    tcase_add_test(t, leaf_text_with_its_attributes);
    tcase_add_test(t, garbage_never_crashes);
    suite_add_tcase(s, t);
    return s;
}
