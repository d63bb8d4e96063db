/* loadgen: a small CPU / memory load generator that runs inside a lab guest. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define WINDOW_NS 100000000L /* one duty-cycle window: 100 ms */
#define MIB       (1024L * 1024L)

struct opts {
    const char *mode;
    const char *file; /* cache: what to read */
    double delay, rate, hold;
    long duty, threads, cap, chatter, span;
    int repeat, map;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: loadgen [--delay S] cpu --duty PCT [--threads N] [--chatter LINES_PER_S]\n"
            "       loadgen [--delay S] mem --rate MIB_PER_S --cap MIB [--hold S] [--repeat]\n"
            "       loadgen [--delay S] cache --rate MIB_PER_S|max [--file PATH] [--span MIB] [--mmap]\n"
            "       loadgen [--delay S] idle\n"
            "cpu:   keep N threads busy PCT %% of every 100 ms window (and print LINES_PER_S\n"
            "       lines a second on the console: I/O for the emulator).\n"
            "mem:   allocate and touch memory at MIB_PER_S up to MIB, hold it S seconds\n"
            "       (forever without --hold), free it, then idle (or start over with --repeat).\n"
            "cache: read PATH (default /dev/vda) at MIB_PER_S with buffered reads, from the\n"
            "       start again at its end (or after its first MIB with --span): the page\n"
            "       cache fills free memory. --mmap maps the span and touches its pages\n"
            "       instead, so that pages the kernel dropped come back as major faults.\n"
            "       With --rate max it reads as fast as it can and prints its throughput every\n"
            "       second (\"loadgen: cache throughput N MiB/s\"): the work a shrink may cost.\n");
}

static int bad(const char *msg, const char *val)
{
    if (val && *val)
        fprintf(stderr, "loadgen: %s '%s'.\n", msg, val);
    else
        fprintf(stderr, "loadgen: %s.\n", msg);
    usage(stderr);
    return 2;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts;
    if (s <= 0)
        return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Parse a number in [lo, hi] or return -1. */
static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;
    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void *cpu_worker(void *arg)
{
    const struct opts *o = arg;
    const double window = (double)WINDOW_NS / 1e9;
    double start = now();
    volatile unsigned long spin = 0;

    for (;;) {
        double busy_until = start + window * (double)o->duty / 100.0;
        while (now() < busy_until)
            spin++;
        start += window;
        if (start < now() - window) /* starved: do not catch up */
            start = now();
        sleep_s(start - now());
    }
    return NULL;
}

/* Console output at o->chatter lines a second, in bursts every 100 ms. */
static void *chatter_worker(void *arg)
{
    const struct opts *o = arg;
    unsigned long n = 0;
    long burst = o->chatter / 10 > 0 ? o->chatter / 10 : 1;

    for (;;) {
        for (long i = 0; i < burst; i++)
            printf("loadgen: chatter %lu ........................................\n", n++);
        sleep_s(0.1);
    }
    return NULL;
}

static int run_cpu(const struct opts *o)
{
    pthread_t t;
    printf("loadgen: cpu duty %ld%% threads %ld chatter %ld\n", o->duty, o->threads, o->chatter);
    if (o->chatter > 0 && pthread_create(&t, NULL, chatter_worker, (void *)o) != 0) {
        fprintf(stderr, "loadgen: cannot start the chatter thread.\n");
        return 1;
    }
    for (long i = 1; i < o->threads; i++) {
        if (pthread_create(&t, NULL, cpu_worker, (void *)o) != 0) {
            fprintf(stderr, "loadgen: cannot start thread %ld.\n", i);
            return 1;
        }
    }
    cpu_worker((void *)o);
    return 0;
}

static void idle_forever(void)
{
    for (;;)
        pause();
}

/* One round: touch memory at the rate up to the cap, hold, free. */
static int mem_round(const struct opts *o, long page)
{
    size_t cap = (size_t)o->cap * MIB, done = 0;
    long reported = 0;
    double t0 = now();
    char *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "loadgen: cannot map %ld MiB: %s.\n", o->cap, strerror(errno));
        return 1;
    }
    printf("loadgen: mem growing %g MiB/s to %ld MiB\n", o->rate, o->cap);
    while (done < cap) {
        double want = o->rate * (now() - t0) * (double)MIB;
        size_t target = want > (double)cap ? cap : (size_t)want;
        for (; done < target; done += (size_t)page)
            p[done] = 1;
        if (done / MIB >= (size_t)reported + 64 || done >= cap) {
            reported = (long)(done / MIB);
            printf("loadgen: mem %ld MiB\n", reported);
        }
        sleep_s(0.1);
    }
    if (o->hold < 0) {
        printf("loadgen: mem holding %ld MiB\n", o->cap);
        idle_forever();
    }
    printf("loadgen: mem holding %ld MiB for %g s\n", o->cap, o->hold);
    sleep_s(o->hold);
    munmap(p, cap);
    printf("loadgen: mem freed\n");
    return 0;
}

static int run_mem(const struct opts *o)
{
    long page = sysconf(_SC_PAGESIZE);
    do {
        if (mem_round(o, page) != 0)
            return 1;
    } while (o->repeat);
    printf("loadgen: idle\n");
    idle_forever();
    return 0;
}

/* With --rate max: once a second, the MiB read since the last line, per second. */
static void report_throughput(double done)
{
    static double t_last = -1, done_last;
    double t = now();

    if (t_last < 0) {
        t_last = t;
        done_last = done;
    } else if (t - t_last >= 1.0) {
        printf("loadgen: cache throughput %.0f MiB/s\n", (done - done_last) / MIB / (t - t_last));
        t_last = t;
        done_last = done;
    }
}

/* Reads O->file at the rate, over and over, with buffered reads (or page touches of a map). */
static int run_cache(const struct opts *o)
{
    const size_t chunk = 1 << 20;
    long page = sysconf(_SC_PAGESIZE);
    int fd = open(o->file, O_RDONLY);
    off_t size, span, pos = 0;
    char *buf = NULL, *map = NULL;
    double t0 = now(), done = 0, reported = 0;

    if (fd < 0 || (size = lseek(fd, 0, SEEK_END)) <= 0) {
        fprintf(stderr, "loadgen: cannot read '%s': %s.\n", o->file,
                fd < 0 ? strerror(errno) : "empty");
        return 1;
    }
    span = o->span > 0 && (off_t)o->span * MIB < size ? (off_t)o->span * MIB : size;
    if (o->map)
        map = mmap(NULL, (size_t)span, PROT_READ, MAP_SHARED, fd, 0);
    else
        buf = malloc(chunk);
    if (o->map ? map == MAP_FAILED : !buf) {
        fprintf(stderr, "loadgen: cannot %s: %s.\n", o->map ? "map the span" : "allocate",
                strerror(errno));
        return 1;
    }
    if (o->rate > 0)
        printf("loadgen: cache reading %ld MiB of %s at %g MiB/s%s\n", (long)(span / MIB), o->file,
               o->rate, o->map ? " (mapped)" : "");
    else
        printf("loadgen: cache reading %ld MiB of %s as fast as it can%s\n", (long)(span / MIB),
               o->file, o->map ? " (mapped)" : "");
    for (;;) {
        double want = o->rate > 0 ? o->rate * (now() - t0) * (double)MIB : done + 64.0 * MIB;
        volatile char sink = 0;
        while (done < want) {
            size_t n = (size_t)(span - pos) < chunk ? (size_t)(span - pos) : chunk;
            if (o->map) {
                for (size_t k = 0; k < n; k += (size_t)page)
                    sink = (char)(sink + map[pos + (off_t)k]);
            } else if (pread(fd, buf, n, pos) < 0) {
                fprintf(stderr, "loadgen: read error: %s.\n", strerror(errno));
                return 1;
            }
            pos = pos + (off_t)n >= span ? 0 : pos + (off_t)n;
            done += (double)n;
        }
        if (o->rate <= 0) {
            report_throughput(done);
            continue; /* as fast as it can */
        }
        if (done - reported >= 1024.0 * MIB) {
            reported = done;
            printf("loadgen: cache read %.0f MiB\n", done / MIB);
        }
        sleep_s(0.1);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {.threads = 1, .hold = -1, .duty = -1, .file = "/dev/vda"};
    double v;

    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--repeat")) {
            o.repeat = 1;
            continue;
        } else if (!strcmp(a, "--mmap")) {
            o.map = 1;
            continue;
        } else if (a[0] != '-') {
            if (o.mode)
                return bad("unexpected argument", a);
            o.mode = a;
            continue;
        }
        if (!val)
            return bad("missing value for", a);
        i++;
        if (!strcmp(a, "--delay") && !parse_num(val, 0, 1e6, &v))
            o.delay = v;
        else if (!strcmp(a, "--duty") && !parse_num(val, 0, 100, &v))
            o.duty = (long)v;
        else if (!strcmp(a, "--threads") && !parse_num(val, 1, 256, &v))
            o.threads = (long)v;
        else if (!strcmp(a, "--chatter") && !parse_num(val, 0, 100000, &v))
            o.chatter = (long)v;
        else if (!strcmp(a, "--rate") && !strcmp(val, "max") && o.mode && !strcmp(o.mode, "cache"))
            o.rate = -1; /* as fast as it can */
        else if (!strcmp(a, "--rate") && !parse_num(val, 0.1, 1e5, &v))
            o.rate = v;
        else if (!strcmp(a, "--cap") && !parse_num(val, 1, 1 << 20, &v))
            o.cap = (long)v;
        else if (!strcmp(a, "--hold") && !parse_num(val, 0, 1e6, &v))
            o.hold = v;
        else if (!strcmp(a, "--span") && !parse_num(val, 1, 1 << 20, &v))
            o.span = (long)v;
        else if (!strcmp(a, "--file"))
            o.file = val;
        else if (!strcmp(a, "--delay") || !strcmp(a, "--duty") || !strcmp(a, "--threads") ||
                 !strcmp(a, "--chatter") || !strcmp(a, "--rate") || !strcmp(a, "--cap") ||
                 !strcmp(a, "--hold") || !strcmp(a, "--span")) {
            fprintf(stderr, "loadgen: invalid value '%s' for %s.\n", val, a);
            return 2;
        } else
            return bad("unknown option", a);
    }
    if (!o.mode)
        return bad("missing mode", "");
    if (!strcmp(o.mode, "cpu") && o.duty < 0)
        return bad("cpu needs --duty", "");
    if (!strcmp(o.mode, "mem") && (o.rate <= 0 || o.cap <= 0))
        return bad("mem needs --rate and --cap", "");
    if (!strcmp(o.mode, "cache") && o.rate == 0)
        return bad("cache needs --rate", "");
    if (o.repeat && o.hold < 0)
        return bad("--repeat needs --hold", "");
    if (strcmp(o.mode, "cpu") && strcmp(o.mode, "mem") && strcmp(o.mode, "cache") &&
        strcmp(o.mode, "idle"))
        return bad("unknown mode", o.mode);

    if (o.delay > 0) {
        printf("loadgen: waiting %g s\n", o.delay);
        sleep_s(o.delay);
    }
    if (!strcmp(o.mode, "cpu"))
        return run_cpu(&o);
    if (!strcmp(o.mode, "mem"))
        return run_mem(&o);
    if (!strcmp(o.mode, "cache"))
        return run_cache(&o);
    printf("loadgen: idle\n");
    idle_forever();
    return 0;
}
