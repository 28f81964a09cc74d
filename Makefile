# xlb: build with clang (BPF) and gcc (userspace), output in build/.
# make            build everything
# make check      install what is missing, build, run every test
# make demo       install what is missing, build, run the demo
# make demo-cluster  the same for two nodes announcing a VIP through BIRD (BGP, ECMP)
# make bench      benchmarks (see BENCHMARKS.md)
# make deps       install missing Debian packages only
# make install    lbd, lbctl, its bash completion, man pages, lbd.service, a first lbd.conf (PREFIX, DESTDIR)
# make deb        the Debian package, build/xlb_VERSION_ARCH.deb (dpkg-buildpackage, debhelper)
# V=1             show the commands

BUILD     ?= build
CLANG     ?= clang
CC        ?= gcc
BPFTOOL   ?= bpftool
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Ibpf/include -I/usr/include/$(MULTIARCH)
CFLAGS     ?= -O2 -g
CFLAGS     += -std=gnu11 -Wall -Wextra -Wno-missing-field-initializers -Werror -Ibpf/include \
	-Iuserspace/lib -Iuserspace/lbd -I$(BUILD) $(shell pkg-config --cflags libbpf 2>/dev/null)
LDLIBS     := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
LBD_LIBS   := $(shell pkg-config --libs libmnl libsystemd libmicrohttpd libcurl json-c libcrypto 2>/dev/null || \
	echo -lmnl -lsystemd -lmicrohttpd -lcurl -ljson-c -lcrypto) -lpthread $(LDLIBS)
# xlb_build_info's version label: debian/changelog's first line.
XLB_VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog 2>/dev/null)

# make install: PREFIX and DESTDIR as usual; the configuration and the unit's paths follow.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
SBINDIR    := $(PREFIX)/sbin
BINDIR     := $(PREFIX)/bin
MANDIR     := $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
COMPDIR    ?= $(PREFIX)/share/bash-completion/completions
INSTALLED  := $(SBINDIR)/lbd $(BINDIR)/lbctl $(MANDIR)/man8/lbd.8 $(MANDIR)/man8/lbctl.8 \
	      $(MANDIR)/man5/lbd.conf.5 $(UNITDIR)/lbd.service $(COMPDIR)/lbctl

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2);
endif

.DELETE_ON_ERROR:
.PHONY: all check demo demo-cluster bench deps clean help install uninstall deb

BPF_OBJS  := $(BUILD)/xlb.bpf.o $(BUILD)/reflector.bpf.o $(BUILD)/decap.bpf.o $(BUILD)/xdp_pass.bpf.o $(BUILD)/gen.bpf.o $(BUILD)/sink.bpf.o $(BUILD)/floor.bpf.o $(BUILD)/flow_walk.bpf.o
SKELS     := $(BUILD)/xlb.skel.h $(BUILD)/reflector.skel.h $(BUILD)/gen.skel.h $(BUILD)/sink.skel.h $(BUILD)/flow_walk.skel.h
LIB_SRCS  := userspace/lib/maglev.c userspace/lib/xlb_maps.c userspace/lib/grammar.c
LIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
TEST_LIB  := $(BUILD)/selftests/lib/pkt.o
LBD_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard userspace/lbd/*.c))
PROGS     := $(BUILD)/lbd $(BUILD)/lbctl $(BUILD)/xlbgen $(BUILD)/lbctl.bash
TESTS     := $(BUILD)/asan/lbd $(BUILD)/asan/lbctl $(BUILD)/test_maglev $(BUILD)/test_config $(BUILD)/test_plan $(BUILD)/test_agent $(BUILD)/test_feedback $(BUILD)/test_passive $(BUILD)/test_etcd $(BUILD)/test_xdp $(BUILD)/test_fuzz $(BUILD)/xdp_run
BENCHES   := $(BUILD)/bench_maglev $(BUILD)/bench_prog $(BUILD)/conn_fill
BPF_HDRS  := $(wildcard bpf/include/*.h)

all: $(BPF_OBJS) $(SKELS) $(PROGS) $(TESTS) $(BENCHES)

help:
	@sed -n 's/^# \{0,1\}//p' Makefile | sed -n '2,10p'

deps:
	$(Q)scripts/install-deps.sh

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)selftests/run.sh $(BUILD)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh $(BUILD)

demo-cluster: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo-cluster.sh $(BUILD)

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench.sh $(BUILD)

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(notdir $*) > $@

$(BUILD)/%.o: %.c $(BPF_HDRS) $(wildcard userspace/lib/*.h userspace/lbd/*.h selftests/lib/*.h selftests/bpf/*.h) $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Iselftests/lib -c $< -o $@

$(BUILD)/test_maglev: $(BUILD)/selftests/unit/test_maglev.o $(BUILD)/userspace/lib/maglev.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

$(BUILD)/userspace/lbd/metrics.o: CPPFLAGS += -DXLB_VERSION='"$(or $(XLB_VERSION),unknown)"'
$(BUILD)/asan/userspace/lbd/metrics.o: CPPFLAGS += -DXLB_VERSION='"$(or $(XLB_VERSION),unknown)"'

# e2e test_leaks: lbd built with AddressSanitizer (LeakSanitizer reports at exit), beside the real one.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_OBJS  := $(patsubst $(BUILD)/%,$(BUILD)/asan/%,$(LBD_OBJS) $(LIB_OBJS))

$(BUILD)/asan/%.o: %.c $(BPF_HDRS) $(wildcard userspace/lib/*.h userspace/lbd/*.h) $(SKELS)
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -c $< -o $@

$(BUILD)/asan/lbd: $(ASAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(ASAN_FLAGS) $^ $(LBD_LIBS) -o $@

$(BUILD)/asan/lbctl: $(BUILD)/lbctl $(BUILD)/asan/lbd
	$(Q)ln -sf ../lbctl $@

$(BUILD)/lbd: $(LBD_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LBD_LIBS) -o $@

$(BUILD)/xlbgen: $(BUILD)/userspace/xlbgen/xlbgen.o $(TEST_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# e2e test_trace: flows through the attached program.
$(BUILD)/xdp_run: $(BUILD)/selftests/e2e/xdp_run.o $(TEST_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/lbctl: $(BUILD)/userspace/lbctl/lbctl.o $(BUILD)/userspace/lib/grammar.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

# The completion script is lbctl's own output: written from the grammar it was built with.
$(BUILD)/lbctl.bash: $(BUILD)/lbctl
	$(call msg,GEN,$@)
	$(Q)$< completion bash >$@

$(BUILD)/test_config: $(BUILD)/selftests/unit/test_config.o $(BUILD)/userspace/lbd/config.o $(BUILD)/userspace/lbd/check.o \
		$(BUILD)/userspace/lbd/acl.o $(BUILD)/userspace/lib/maglev.o $(BUILD)/userspace/lib/grammar.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -lbpf -o $@

# Feedback weights: arithmetic only.
$(BUILD)/test_feedback: $(BUILD)/selftests/unit/test_feedback.o $(BUILD)/userspace/lbd/feedback.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

# The passive check's window: arithmetic only.
$(BUILD)/test_passive: $(BUILD)/selftests/unit/test_passive.o $(BUILD)/userspace/lbd/passive.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

# The etcd client against a real etcd on loopback, which the test starts.
$(BUILD)/test_etcd: $(BUILD)/selftests/unit/test_etcd.o $(BUILD)/userspace/lbd/etcd.o $(BUILD)/userspace/lbd/log.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LBD_LIBS) -o $@

# The ring plans without the data plane: no root.
$(BUILD)/test_plan: $(BUILD)/selftests/unit/test_plan.o $(BUILD)/userspace/lbd/plan.o $(BUILD)/userspace/lib/maglev.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

# Agent answers, read without a socket.
$(BUILD)/test_agent: $(BUILD)/selftests/unit/test_agent.o $(BUILD)/userspace/lbd/agent.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

$(BUILD)/bench_maglev: $(BUILD)/selftests/unit/bench_maglev.o $(BUILD)/userspace/lib/maglev.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@

# The benches of lbd's sweep: a connection table filled without packets.
$(BUILD)/conn_fill: $(BUILD)/selftests/bpf/conn_fill.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/test_xdp $(BUILD)/test_fuzz $(BUILD)/bench_prog: $(BUILD)/%: \
		$(BUILD)/selftests/bpf/%.o $(BUILD)/selftests/bpf/xdp_env.o $(BUILD)/userspace/lbd/plan.o \
		$(BUILD)/userspace/lbd/map_worker.o $(BUILD)/userspace/lbd/log.o \
		$(addprefix $(BUILD)/userspace/lbd/,acl.o config.o check.o crash.o) \
		$(LIB_OBJS) $(TEST_LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD):
	$(Q)mkdir -p $@

# lbd carries its BPF program (the skeleton): nothing else to install for it to run from anywhere.
install: $(BUILD)/lbd $(BUILD)/lbctl $(BUILD)/lbctl.bash
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/xlb $(DESTDIR)$(COMPDIR)
	install -m 0755 $(BUILD)/lbd $(DESTDIR)$(SBINDIR)/lbd
	install -m 0755 $(BUILD)/lbctl $(DESTDIR)$(BINDIR)/lbctl
	install -m 0644 $(BUILD)/lbctl.bash $(DESTDIR)$(COMPDIR)/lbctl
	install -m 0644 userspace/man/lbd.8 userspace/man/lbctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 userspace/man/lbd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' contrib/systemd/lbd.service.in \
		>$(DESTDIR)$(UNITDIR)/lbd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/lbd.service
	@# The configuration is the operator's: never replaced.
	[ -e $(DESTDIR)$(SYSCONFDIR)/xlb/lbd.conf ] || install -m 0600 contrib/lbd.conf $(DESTDIR)$(SYSCONFDIR)/xlb/lbd.conf

# The configuration goes only if it is still the one install put there.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	if cmp -s contrib/lbd.conf $(DESTDIR)$(SYSCONFDIR)/xlb/lbd.conf; then \
		rm -f $(DESTDIR)$(SYSCONFDIR)/xlb/lbd.conf; rmdir $(DESTDIR)$(SYSCONFDIR)/xlb 2>/dev/null || true; fi

# make deb: dpkg-buildpackage in a copy of the tree under $(BUILD)/deb, so
# that neither its files (debian/xlb, debian/files, ...) nor its clean step
# touch the tree or $(BUILD); the version is debian/changelog's.
DEB_VERSION = $(shell dpkg-parsechangelog -l debian/changelog -S Version)
DEB_ARCH    = $(shell dpkg-architecture -qDEB_HOST_ARCH)
DEB_SRC     = $(BUILD)/deb/xlb-$(DEB_VERSION)
BUILD_IN_TREE = $(patsubst $(CURDIR)/%,%,$(abspath $(BUILD)))

deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
		{ echo "make deb: needs dpkg-dev and debhelper: apt-get install dpkg-dev debhelper (or make deps)" >&2; exit 1; }
	$(call msg,DEB,$(BUILD)/xlb_$(DEB_VERSION)_$(DEB_ARCH).deb)
	$(Q)rm -rf $(BUILD)/deb && mkdir -p $(DEB_SRC)
	$(Q)tar -c --exclude=./.git --exclude=./$(BUILD_IN_TREE) . | tar -x -C $(DEB_SRC)
	@# Without this make's settings (BUILD, V, -j), the copy's own make cleans and builds its own build/.
	$(Q)cd $(DEB_SRC) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD dpkg-buildpackage -us -uc -b -Jauto \
		>$(abspath $(BUILD))/deb/build.log 2>&1 || { tail -30 $(abspath $(BUILD))/deb/build.log >&2; \
		echo "make deb: failed, the whole log: $(BUILD)/deb/build.log" >&2; exit 1; }
	$(Q)cp $(BUILD)/deb/xlb_$(DEB_VERSION)_$(DEB_ARCH).deb $(BUILD)/

clean:
	rm -rf $(BUILD)
