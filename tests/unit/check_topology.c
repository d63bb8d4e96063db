/* Closed-loop tests of the scheduler on real host shapes: NUMA nodes, SMT siblings, offline and
 * non-contiguous pCPUs, guests restricted by their administrators, pins the host refuses,
 * emulator threads, vCPUs unplugged. Each runs under every signal mode of the fake host. */
#include <stdio.h>
#include <string.h>

#include "cpusim.h"
#include "suites.h"

/* 2 sockets x 16 cores x 2 threads, numbered as Linux does: pCPU p and p + 32 are siblings.
 * NODES_PER_SOCKET 1 or 2 (sub-NUMA clustering: cores 0-7 and 8-15). */
static void two_sockets(struct cpusim *m, int nodes_per_socket)
{
    for (int p = 0; p < 64; p++) {
        int socket = (p % 32) / 16, core = p % 16;
        int node = socket * nodes_per_socket + (nodes_per_socket == 2 ? core / 8 : 0);
        fake_set_pcpu(m->f, p, true, node, socket * 16 + core);
    }
}

static int node_of(int p, int nodes_per_socket)
{
    int socket = (p % 32) / 16, core = p % 16;
    return socket * nodes_per_socket + (nodes_per_socket == 2 ? core / 8 : 0);
}

/* Busy vCPUs (vCPU 0 of domains [0, N)) on each node; and cores running two of them while a
 * core runs none. */
static void shape(const struct cpusim *m, int n, int nps, int *per_node, int *doubled)
{
    int busy[32] = {0}, idle = 0, twice = 0;

    for (int d = 0; d < 4; d++)
        per_node[d] = 0;
    for (int d = 0; d < n; d++) {
        int p = fake_vcpu_pin(m->f, d, 0);
        ck_assert_int_ge(p, 0);
        per_node[node_of(p, nps)]++;
        busy[(p / 16 % 2) * 16 + p % 16]++;
    }
    for (int c = 0; c < 32; c++) {
        idle += busy[c] == 0;
        twice += busy[c] > 1;
    }
    *doubled = idle > 0 ? twice : 0;
}

START_TEST(numa_and_smt_from_all_on_one)
{
    struct cpusim m;
    int per_node[4], doubled;

    /* 32 busy guests pinned to pCPU 0 of a 2-node, 64-thread host: 16 go to the other node,
     * and every busy vCPU gets a physical core of its own. 31 must leave pCPU 0: 31 moves. */
    cpusim_init(&m, 64, false, _i);
    two_sockets(&m, 1);
    cpusim_add_busy(&m, 32, 1.0, 0);
    cpusim_run(&m, 20);
    shape(&m, 32, 1, per_node, &doubled);
    ck_assert_int_eq(per_node[0], 16);
    ck_assert_int_eq(per_node[1], 16);
    ck_assert_int_eq(doubled, 0);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 20), 31);
    ck_assert_uint_eq(cpusim_moves(&m, 4, 20), 0);
    ck_assert_uint_eq(m.crossed, 16);
    ck_assert_double_le(cpusim_service_range(&m, 0, 32), 1);
    cpusim_free(&m);
}
END_TEST

START_TEST(vcpus_stay_on_their_node)
{
    struct cpusim m;
    int per_node[4], doubled;

    /* 8 busy guests on each node of a 4-node host: balanced per node, nothing crosses. */
    cpusim_init(&m, 64, false, _i);
    two_sockets(&m, 2);
    for (int n = 0; n < 4; n++)
        cpusim_add_busy(&m, 8, 1.0, n < 2 ? n * 8 : 16 + (n - 2) * 8);
    cpusim_run(&m, 20);
    shape(&m, 32, 2, per_node, &doubled);
    for (int n = 0; n < 4; n++)
        ck_assert_int_eq(per_node[n], 8);
    ck_assert_int_eq(doubled, 0);
    ck_assert_uint_eq(m.crossed, 0);
    ck_assert_uint_eq(cpusim_moves(&m, 1, 20), 4 * 7);
    cpusim_free(&m);
}
END_TEST

START_TEST(strict_numa_never_leaves_its_node)
{
    struct cpusim m;

    /* 20 busy guests bound to node 0 (16 threads) and 4 unbound ones there too: node 0 is
     * overloaded; the unbound ones cross, the bound ones never leave node 0. */
    cpusim_init(&m, 64, false, _i);
    two_sockets(&m, 2);
    cpusim_add_busy(&m, 24, 1.0, 0);
    for (int d = 0; d < 20; d++)
        fake_set_numa(m.f, d, 1);
    for (int t = 1; t <= 20; t++) {
        cpusim_run(&m, t);
        for (int d = 0; d < 20; d++)
            ck_assert_int_eq(node_of(fake_vcpu_pin(m.f, d, 0), 2), 0);
    }
    for (int d = 20; d < 24; d++)
        ck_assert_int_ne(node_of(fake_vcpu_pin(m.f, d, 0), 2), 0);
    ck_assert_uint_eq(cpusim_moves(&m, 5, 20), 0);
    cpusim_free(&m);
}
END_TEST

START_TEST(cpuset_restriction_is_never_broken)
{
    struct cpusim m;

    /* Guest 0 may only run on pCPU 0 (<vcpu cpuset='0'>); five others share pCPU 0 with it. It
     * stays; the others go around it. */
    cpusim_init(&m, 4, false, _i);
    cpusim_add_busy(&m, 6, 1.0, 0);
    fake_set_cpuset(m.f, 0, "0");
    for (int t = 1; t <= 20; t++) {
        cpusim_run(&m, t);
        ck_assert_int_eq(fake_vcpu_pin(m.f, 0, 0), 0);
        for (size_t i = 0; i < m.nlast; i++)
            ck_assert(m.last_moves[i].domain != 0 || m.last_moves[i].to == 0);
    }
    /* Six busy on four pCPUs: two, two, one, one. */
    for (int p = 0; p < 4; p++) {
        ck_assert_int_ge(cpusim_vcpus_on(&m, 6, p), 1);
        ck_assert_int_le(cpusim_vcpus_on(&m, 6, p), 2);
    }
    ck_assert_uint_eq(cpusim_moves(&m, 5, 20), 0);
    cpusim_free(&m);
}
END_TEST

START_TEST(offline_and_non_contiguous_pcpus)
{
    struct cpusim m;

    /* pCPUs 1, 3 and 5 of 8 are offline: 10 busy vCPUs on pCPU 0 spread over 0, 2, 4, 6, 7. */
    cpusim_init(&m, 8, false, _i);
    for (int p = 1; p < 6; p += 2)
        fake_set_pcpu(m.f, p, false, 0, p);
    cpusim_add_busy(&m, 10, 1.0, 0);
    cpusim_run(&m, 20);
    for (int p = 0; p < 8; p++)
        ck_assert_int_eq(cpusim_vcpus_on(&m, 10, p), p % 2 && p < 6 ? 0 : 2);
    ck_assert_uint_eq(m.failed, 0); /* never tried an offline pCPU */
    ck_assert_uint_eq(cpusim_moves(&m, 1, 20), 8);
    cpusim_free(&m);
}
END_TEST

START_TEST(refused_pins_are_learned)
{
    struct cpusim m;
    unsigned long pins;

    /* The host refuses pCPU 2 (a cgroup cpuset): each vCPU that tries it learns, once. */
    cpusim_init(&m, 4, false, _i);
    fake_refuse_pcpu(m.f, 2, true);
    cpusim_add_busy(&m, 9, 1.0, 0);
    cpusim_run(&m, 20); /* moved vCPUs stay put a few periods before they try pCPU 2 */
    pins = fake_calls(m.f, FAKE_OP_PIN);
    cpusim_run(&m, 50);
    ck_assert_uint_eq(fake_calls(m.f, FAKE_OP_PIN), pins); /* no retrying */
    ck_assert_uint_le(m.failed, 9);
    ck_assert_int_eq(cpusim_vcpus_on(&m, 9, 2), 0);
    for (int p = 0; p < 4; p++)
        if (p != 2)
            ck_assert_int_eq(cpusim_vcpus_on(&m, 9, p), 3);
    cpusim_free(&m);
}
END_TEST

START_TEST(emulator_load_is_counted)
{
    struct cpusim m;

    /* Guest 3 idles but its emulator threads (I/O) keep pCPU 3 90 % busy: three busy guests on
     * pCPU 0 go to pCPUs 1 and 2 and keep off pCPU 3. */
    cpusim_init(&m, 4, false, _i);
    cpusim_add_busy(&m, 3, 1.0, 0);
    cpusim_add_busy(&m, 1, 0.0, 3);
    fake_set_emulator(m.f, 3, 0.9, "3");
    cpusim_run(&m, 20);
    ck_assert_int_eq(cpusim_vcpus_on(&m, 3, 3), 0);
    for (int p = 0; p < 3; p++)
        ck_assert_int_eq(cpusim_vcpus_on(&m, 3, p), 1);
    ck_assert_double_eq_tol(m.emulator[3], 0.9, 0.05);
    ck_assert_double_le(m.emulator[0], 0.05);
    cpusim_free(&m);
}
END_TEST

START_TEST(emulator_threads_pinned_to_housekeeping)
{
    static unsigned char housekeeping[1] = {0x01}; /* pCPU 0 */
    struct sched_config cfg = {.emulator_cpus = housekeeping, .maplen = 1, .restore_pins = true};
    struct cpusim m;

    /* --emulator-cpus 0: every guest's emulator threads go to pCPU 0, once; vCPUs leave it. */
    cpusim_init_cfg(&m, 4, _i, &cfg);
    cpusim_add_busy(&m, 3, 1.0, 0);
    for (int d = 0; d < 3; d++)
        fake_set_emulator(m.f, d, 0.2, NULL);
    cpusim_run(&m, 20);
    for (int d = 0; d < 3; d++)
        ck_assert_int_eq(fake_emulator_pin(m.f, d), 0);
    ck_assert_uint_eq(m.emulator_pins, 3);
    ck_assert_uint_eq(fake_calls(m.f, FAKE_OP_EMULATOR), 3);
    ck_assert_int_eq(cpusim_vcpus_on(&m, 3, 0), 0);
    /* --restore-pins puts the emulator threads back where they were (anywhere). */
    sched_restore(m.s, fake_hv(m.f));
    for (int d = 0; d < 3; d++)
        ck_assert_int_eq(fake_emulator_pin(m.f, d), -2);
    cpusim_free(&m);
}
END_TEST

START_TEST(unplugged_vcpus_are_offline_not_idle)
{
    struct cpusim m;
    unsigned long pins;
    int dom;

    /* A 4-vCPU guest, all busy on pCPU 0 of 4: spread. Then vCPU 2 is unplugged: it is left
     * alone (no pin, no load); later two vCPUs are plugged in (idle): nothing breaks. */
    cpusim_init(&m, 4, false, _i);
    dom = fake_add_domain(m.f, "big", 4);
    fake_set_demand(m.f, dom, -1, 1.0);
    for (int k = 0; k < 4; k++)
        fake_pin(m.f, dom, k, 0);
    cpusim_run(&m, 10);
    for (int k = 1; k < 4; k++)
        ck_assert_int_ne(fake_vcpu_pin(m.f, dom, k), fake_vcpu_pin(m.f, dom, 0));
    fake_set_vcpu_online(m.f, dom, 2, false);
    pins = fake_calls(m.f, FAKE_OP_PIN);
    cpusim_run(&m, 20);
    ck_assert_uint_le(fake_calls(m.f, FAKE_OP_PIN), pins + 1);
    fake_set_nvcpus(m.f, dom, 6);
    cpusim_run(&m, 30);
    ck_assert_uint_eq(m.failed, 0);
    cpusim_free(&m);
}
END_TEST

Suite *topology_suite(void)
{
    Suite *s = suite_create("topology");
    TCase *t = tcase_create("real hosts");

    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, numa_and_smt_from_all_on_one, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(t, vcpus_stay_on_their_node, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(t, strict_numa_never_leaves_its_node, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(t, cpuset_restriction_is_never_broken, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(t, offline_and_non_contiguous_pcpus, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(t, refused_pins_are_learned, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(t, emulator_load_is_counted, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(t, emulator_threads_pinned_to_housekeeping, 0, FAKE_SIGNAL_COUNT);
    tcase_add_loop_test(t, unplugged_vcpus_are_offline_not_idle, 0, FAKE_SIGNAL_COUNT);
    suite_add_tcase(s, t);
    return s;
}
