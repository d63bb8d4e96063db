# vmbalance: vcpu_scheduler and memory_coordinator for libvirt hosts.
#
#   make                 build bin/vcpu_scheduler and bin/memory_coordinator
#   make check           unit tests (Check) and integration tests (libvirt test driver)
#   make SAN=1 check     the same under AddressSanitizer + UBSan
#   make valgrind        the unit tests and both programs under valgrind (no error, no leak)
#   make analyze         cppcheck and clang-tidy
#   make format          reformat; make format-check: fail on unformatted code
#   make bench           the scale simulator and benchmarks
#   make demo            boot the real-guest lab and watch both tools work
#   make lab-check       every lab scenario, failing on a failed verdict
#   make lab-soak        both tools for 30 minutes (MINUTES=n) on real guests with churn
#   make install         PREFIX=/usr/local DESTDIR=... (programs in sbin, man pages, systemd units,
#                        /etc/default/vmbalance unless present)
#   make deb             the Debian package, in build/deb/ (dpkg-buildpackage)
#   make metrics-check   promtool on both programs' metrics against the test driver;
#                        FILE=path.prom checks that file instead (e.g. the lab's)
#   make units-check     systemd-analyze verify and security (exposure <= 2.0) of the units
#   make systemd-check   the package and its units under a real systemd (PID 1 of a container
#                        with libvirtd inside); DEB=path.deb checks that package instead of
#                        building one
#   make V=1 ...         show the full compiler and linker command lines

VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
# /usr installs (packages) use the system's unit directory and /etc; others stay under PREFIX.
ifeq ($(PREFIX),/usr)
UNITDIR ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
SYSCONFDIR ?= /etc
else
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= $(PREFIX)/etc
endif
UNITS := contrib/systemd/vcpu_scheduler.service contrib/systemd/memory_coordinator.service
CC ?= cc
PKG_CONFIG ?= pkg-config

WARN := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Werror
ifeq ($(SAN),1)
VARIANT := san
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDOPT := -fsanitize=address,undefined
else
VARIANT := release
OPT := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
LDOPT :=
endif

# Quiet by default ("  CC      file.o"); V=1 prints the full commands.
ifeq ($(V),1)
Q :=
say := @:
else
Q := @
say := @printf '  %-7s %s\n'
endif

O := build/$(VARIANT)
VIRT_CFLAGS := $(shell $(PKG_CONFIG) --cflags libvirt 2>/dev/null)
VIRT_LIBS := $(shell $(PKG_CONFIG) --libs libvirt 2>/dev/null || echo -lvirt)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null || echo -lcheck)

CPPFLAGS_ALL := -D_DEFAULT_SOURCE -DVMB_VERSION='"$(VERSION)"' -Icommon -Ivcpu_scheduler \
                -Imemory_coordinator -Itests
CFLAGS_ALL := $(WARN) $(OPT) -pthread $(CFLAGS) -MMD -MP
LDFLAGS_ALL := $(LDOPT) -pthread $(LDFLAGS)

# The libvirt implementation of hv, common/libvirt/: the only code that includes
# <libvirt/libvirt.h>.
LV_DIR := common/libvirt
LV_SRC := $(wildcard $(LV_DIR)/*.c)
# Linked into the programs only (they need libvirt); the rest of common/ is libcommon.a.
COMMON_VIRT_SRC := $(LV_SRC) common/app.c
COMMON_SRC := $(filter-out $(COMMON_VIRT_SRC),$(wildcard common/*.c))
VCPU_SRC := $(filter-out vcpu_scheduler/main.c,$(wildcard vcpu_scheduler/*.c))
MEM_SRC := $(filter-out memory_coordinator/main.c,$(wildcard memory_coordinator/*.c))
UNIT_SRC := $(wildcard tests/unit/*.c)
TEST_SRC := $(UNIT_SRC) tests/fake_hv.c tests/fake_mem.c tests/measure.c tests/oracle.c \
            tests/rng.c tests/trace.c tests/calibrate.c tests/cpucal.c
BENCH_SRC := tests/bench/bench.c tests/measure.c tests/oracle.c tests/rng.c

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))

LIBCOMMON := $(O)/libcommon.a
PROGRAMS := $(O)/vcpu_scheduler $(O)/memory_coordinator
CHECK_RUNNER := $(O)/check_runner
# The unit tests' strict reader of the Prometheus text format, for the shell tests.
EXPOSITION_CHECK := $(O)/exposition_check
# Prints the declared facts of a snapshot that no program prints yet (the integration tests).
SNAPDUMP := $(O)/snapdump

.PHONY: all check deps unit test-tools integration valgrind analyze format format-check install uninstall \
        clean bench bench-smoke demo lab-check lab-soak deb metrics-check units-check systemd-check
.DEFAULT_GOAL := all

all: $(PROGRAMS)
ifneq ($(SAN),1)
all: bin/vcpu_scheduler bin/memory_coordinator
endif

bin/%: $(O)/%
	@mkdir -p bin
	$(say) CP $@
	$(Q)cp $< $@.tmp && mv -f $@.tmp $@

# A dependency's flags only for the files that use it: libvirt's for common/libvirt/ and the
# libvirt probe, Check's for the unit tests.
$(call obj,$(LV_SRC) tests/bench/rss_probe.c): DEP_CFLAGS := $(VIRT_CFLAGS)
$(call obj,$(UNIT_SRC)): DEP_CFLAGS := $(CHECK_CFLAGS)

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(say) CC $(@:$(O)/obj/%=%)
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CPPFLAGS) $(CFLAGS_ALL) $(DEP_CFLAGS) -c $< -o $@

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	$(say) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(O)/vcpu_scheduler: $(call obj,vcpu_scheduler/main.c $(VCPU_SRC) $(COMMON_VIRT_SRC)) $(LIBCOMMON)
	$(say) LD $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(VIRT_LIBS) -lm

$(O)/memory_coordinator: $(call obj,memory_coordinator/main.c $(MEM_SRC) $(COMMON_VIRT_SRC)) $(LIBCOMMON)
	$(say) LD $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(VIRT_LIBS) -lm

$(CHECK_RUNNER): $(call obj,$(TEST_SRC) $(VCPU_SRC) $(MEM_SRC)) $(LIBCOMMON)
	$(say) LD $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) -lm

$(EXPOSITION_CHECK): $(call obj,tests/integration/exposition_check.c tests/unit/testutil.c)
	$(say) LD $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^

$(O)/bench: $(call obj,$(BENCH_SRC) tests/fake_hv.c tests/fake_mem.c $(VCPU_SRC) $(MEM_SRC)) $(LIBCOMMON)
	$(say) LD $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ -lm

$(SNAPDUMP): $(call obj,tests/integration/snapdump.c $(COMMON_VIRT_SRC)) $(LIBCOMMON)
	$(say) LD $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(VIRT_LIBS) -lm

$(O)/rss_probe: $(call obj,tests/bench/rss_probe.c)
	$(say) LD $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(VIRT_LIBS)

# The packages first (tests/deps.sh installs what is missing, as root on Debian), then a
# fresh make that sees them.
check:
	tests/deps.sh
	$(MAKE) --no-print-directory unit integration

unit: $(CHECK_RUNNER)
	CK_DEFAULT_TIMEOUT=600 $(CHECK_RUNNER)

# What the integration tests run besides the programs (the package's build runs run.sh alone).
test-tools: $(PROGRAMS) $(EXPOSITION_CHECK) $(SNAPDUMP)

integration: test-tools
	BINDIR=$(O) tests/integration/run.sh
	BINDIR=$(O) tests/integration/faults.sh
	BINDIR=$(O) tests/integration/service.sh

deps:
	tests/deps.sh

VALGRIND := valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1
valgrind: $(CHECK_RUNNER) $(PROGRAMS)
	CK_FORK=no CK_DEFAULT_TIMEOUT=3600 $(VALGRIND) $(CHECK_RUNNER)
	for p in $(PROGRAMS); do for h in host4 host16; do \
	    $(VALGRIND) $$p -c test://$(CURDIR)/tests/integration/nodes/$$h.xml --once --json 0.2 \
	        >/dev/null || exit 1; done; done

bench: $(O)/bench $(O)/rss_probe $(PROGRAMS)
	$(O)/bench
	BINDIR=$(O) tests/bench/real_scale.sh 1000 64 100

bench-smoke: $(O)/bench
	$(O)/bench --smoke

# On Debian the libvirt and Check headers are in /usr/include, where any file could reach
# them: say so when a file outside common/libvirt/ (or the unit tests) includes them.
LIBVIRT_USERS := $(wildcard $(LV_DIR)/*) tests/bench/rss_probe.c

analyze:
	@bad=$$(grep -l '<libvirt/' $(filter-out $(LIBVIRT_USERS),$(FORMAT_FILES))); \
	bad="$$bad $$(grep -l '<check.h>' $(filter-out tests/unit/%,$(FORMAT_FILES)))"; \
	if [ -n "$${bad## }" ]; then echo "analyze: outside its boundary:$$bad"; exit 1; fi
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --std=c11 --inline-suppr --suppress=missingIncludeSystem \
	    -Icommon -Ivcpu_scheduler -Imemory_coordinator -Itests \
	    common vcpu_scheduler memory_coordinator tests/fake_hv.c tests/fake_mem.c tests/unit tests/bench \
	    tests/integration/exposition_check.c tests/integration/snapdump.c
	clang-tidy --quiet $(COMMON_SRC) $(COMMON_VIRT_SRC) $(VCPU_SRC) $(MEM_SRC) \
	    vcpu_scheduler/main.c memory_coordinator/main.c -- \
	    $(CPPFLAGS_ALL) $(WARN) $(VIRT_CFLAGS)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find common vcpu_scheduler memory_coordinator tests -name '*.[ch]')

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/default
	install -m 0755 bin/vcpu_scheduler bin/memory_coordinator $(DESTDIR)$(SBINDIR)/
	install -m 0644 docs/vcpu_scheduler.8 docs/memory_coordinator.8 $(DESTDIR)$(MANDIR)/man8/
	for u in $(UNITS); do \
	    sed -e 's|/usr/sbin/|$(SBINDIR)/|' -e 's|/etc/default/|$(SYSCONFDIR)/default/|' $$u \
	        >$(DESTDIR)$(UNITDIR)/$$(basename $$u) && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u) || exit 1; done
	@# The options file is the administrator's once installed: never overwritten.
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/vmbalance ] || \
	    install -m 0644 contrib/systemd/vmbalance.default $(DESTDIR)$(SYSCONFDIR)/default/vmbalance

# Leaves $(SYSCONFDIR)/default/vmbalance: it holds the administrator's settings.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/vcpu_scheduler $(DESTDIR)$(SBINDIR)/memory_coordinator \
	    $(DESTDIR)$(MANDIR)/man8/vcpu_scheduler.8 $(DESTDIR)$(MANDIR)/man8/memory_coordinator.8 \
	    $(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(UNITS)))

# The package is built from a copy of the tracked files (dpkg-buildpackage cleans its tree and
# writes its results next to it): build/deb/vmbalance_$(VERSION)_*.deb.
deb:
	rm -rf build/deb && mkdir -p build/deb/vmbalance-$(VERSION)
	git ls-files -z | tar --null -T - -cf - | tar -xf - -C build/deb/vmbalance-$(VERSION)
	cd build/deb/vmbalance-$(VERSION) && dpkg-buildpackage -us -uc -b
	@ls build/deb/*.deb

metrics-check: $(PROGRAMS)
	BINDIR=$(O) tests/ops/metrics-check.sh $(FILE)

units-check:
	tests/ops/units-check.sh $(UNITS)

# The package is built without its tests (make deb runs them; the files are the same), its log
# in build/systemd-check-deb.log.
systemd-check:
	tests/ops/systemd-check.sh --deps
ifeq ($(DEB),)
	@echo "systemd-check: make deb (log: build/systemd-check-deb.log)"
	@mkdir -p build
	@DEB_BUILD_OPTIONS=nocheck DEB_BUILD_PROFILES=nocheck $(MAKE) --no-print-directory deb \
	    >build/systemd-check-deb.log 2>&1 || { tail -20 build/systemd-check-deb.log; exit 1; }
	tests/ops/systemd-check.sh build/deb/vmbalance_$(VERSION)_$$(dpkg --print-architecture).deb
else
	tests/ops/systemd-check.sh $(DEB)
endif

demo:
	tests/lab/demo.sh

lab-check: all
	tests/lab/lab-check.sh

lab-soak: all
	tests/lab/libvirt-up.sh
	tests/lab/build-image.sh >/dev/null
	/usr/bin/python3 tests/lab/soak.py --minutes $(or $(MINUTES),30)

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
