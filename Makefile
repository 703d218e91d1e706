# bproc-ng: plain make, driven by build.sh.  Front-end code with gcc+glibc,
# nodeinit with musl-gcc, static.  Everything lands in out/.

CC	?= gcc
MUSLCC	?= musl-gcc
OUT	:= out
# make SANITIZE=1: the sanitizer build (see the tests and fuzz block), in its own dir
ifeq ($(SANITIZE),1)
OUT	:= out-san
endif
WARN	:= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wpointer-arith -Wformat=2 -Werror
CFLAGS	?= -O2 -g
CFLAGS	+= -std=c11 -D_GNU_SOURCE $(WARN) -Icommon
NFLAGS	:= -std=c11 -D_GNU_SOURCE $(WARN) -Os -ffunction-sections -fdata-sections \
	   -fno-asynchronous-unwind-tables -Icommon -isystem $(OUT)/musl-include
SODIUM_A := $(shell for d in /usr/lib/x86_64-linux-gnu /usr/lib; do \
	   [ -f $$d/libsodium.a ] && echo $$d/libsodium.a && break; done)

COMMON_SRC := common/wire.c common/proto.c common/args.c common/conn.c common/auth.c \
	      common/log.c common/nodeset.c common/path.c common/htab.c common/clock.c \
	      common/hash.c
# libbproc: the control client, the node and process tables, rexec
LIB_SRC	:= master/lib/libbproc_ctl.c master/lib/nodeinfo.c master/lib/rexec.c \
	   master/lib/power.c \
	   common/wire.c common/proto.c common/args.c common/nodeset.c common/clock.c
# The path tells the binary: master/daemon is bpmaster, master/lib is
# libbproc (bproc.h is the one header users include), master/cmd the user
# tools and the ghost.
DAEMON_SRC := $(wildcard master/daemon/*.c)
MASTER_SRC := $(DAEMON_SRC) $(COMMON_SRC)
NODE_SRC := $(wildcard nodeinit/*.c) $(COMMON_SRC) common/sodium_compat.c

BINS	:= $(OUT)/bin/bpmaster $(OUT)/bin/bpstat $(OUT)/bin/bpctl \
	   $(OUT)/bin/bpvcluster $(OUT)/bin/bpsh $(OUT)/libexec/bpvnode \
	   $(OUT)/libexec/bpghost $(OUT)/bin/bpcp $(OUT)/bin/bpweb \
	   $(OUT)/bin/bprsh $(OUT)/bin/bpssh
NODEINIT := $(OUT)/boot/nodeinit
TESTS	:= $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(wildcard tests/unit/test_*.c))

all: $(BINS) $(OUT)/lib/libbproc.a $(NODEINIT) $(TESTS)

$(OUT)/bin $(OUT)/lib $(OUT)/libexec $(OUT)/boot $(OUT)/tests $(OUT)/obj:
	mkdir -p $@

# musl's headers do not include the kernel's; give musl-gcc a folder of
# symlinks to exactly what nodeinit needs (kernel uapi and libsodium).
$(OUT)/musl-include/.stamp:
	mkdir -p $(OUT)/musl-include
	ln -sfn /usr/include/linux $(OUT)/musl-include/linux
	ln -sfn /usr/include/asm-generic $(OUT)/musl-include/asm-generic
	ln -sfn /usr/include/x86_64-linux-gnu/asm $(OUT)/musl-include/asm
	ln -sfn /usr/include/sodium $(OUT)/musl-include/sodium
	ln -sfn /usr/include/sodium.h $(OUT)/musl-include/sodium.h
	touch $@

$(OUT)/bin/bpmaster: $(MASTER_SRC) $(wildcard common/*.h master/daemon/*.h) | $(OUT)/bin
	$(CC) $(CFLAGS) -Imaster/daemon -DBPROC_GHOST_PATH='"$(GHOST_PATH)"' \
	    -o $@ $(MASTER_SRC) -lsodium

# libbproc: one set of -fPIC objects makes both the archive and the shared
# library.  The .so exports only bproc_* (the codec stays private) and has
# no undefined symbols left (-z defs): it needs libc only, no libsodium.
LIB_OBJ	:= $(patsubst %.c,$(OUT)/obj/lib_%.o,$(notdir $(LIB_SRC)))
# The soname's number goes up with any incompatible change to bproc.h;
# LIB_VERSION is what pkg-config --modversion bproc says.
LIB_SONAME := libbproc.so.1
LIB_VERSION := 1.0.0
# Where libbproc and bpsh exec the ghost and bpmaster expects it: the
# build tree's for the in-tree build; `make install` builds its own
# copies with the installed path.
GHOST_PATH ?= $(CURDIR)/$(OUT)/libexec/bpghost
# the restorer of process images, compiled in like the ghost's path
RESTORE_PATH ?= $(CURDIR)/$(OUT)/libexec/bprestore

$(OUT)/lib/libbproc.a: $(LIB_SRC) $(wildcard master/lib/*.h common/*.h) | $(OUT)/lib $(OUT)/obj
	rm -f $@
	for f in $(LIB_SRC); do \
		$(CC) $(CFLAGS) -Imaster/lib -fPIC -DBPROC_GHOST_PATH='"$(GHOST_PATH)"' -c $$f -o $(OUT)/obj/lib_$$(basename $$f .c).o || exit 1; done
	ar rcs $@ $(LIB_OBJ)

$(OUT)/obj/libbproc.map: | $(OUT)/obj
	printf 'BPROC_1 {\n\tglobal: bproc_*; bproc4_*; _bproc_*;\n\tlocal: *;\n};\n' >$@

$(OUT)/lib/$(LIB_SONAME): $(OUT)/lib/libbproc.a $(OUT)/obj/libbproc.map
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(LIB_SONAME) -Wl,-z,defs \
	    -Wl,--version-script=$(OUT)/obj/libbproc.map -o $@ $(LIB_OBJ) $(LIB_LIBS)

$(OUT)/lib/libbproc.so: $(OUT)/lib/$(LIB_SONAME)
	ln -sfn $(LIB_SONAME) $@

# bproc.pc for this build tree: the library in out/lib, bproc.h in master/lib.
$(OUT)/lib/pkgconfig/bproc.pc: master/lib/bproc.pc.in Makefile | $(OUT)/lib
	mkdir -p $(@D)
	sed -e 's|@prefix@|$(abspath $(OUT))|' \
	    -e 's|@includedir@|$(abspath master/lib)|' \
	    -e 's|@version@|$(LIB_VERSION)|' $< >$@

all: $(OUT)/lib/libbproc.so $(OUT)/lib/pkgconfig/bproc.pc

# bpstat by role (see bpstat_int.h); tool.c is what it shares with bpctl.
BPSTAT_SRC := $(wildcard master/cmd/bpstat*.c) master/cmd/tool.c
BPCTL_SRC := master/cmd/bpctl.c master/cmd/tool.c

$(OUT)/bin/bpstat: $(BPSTAT_SRC) master/cmd/bpstat_int.h master/cmd/tool.h common/htab.c \
	    master/lib/bproc.h $(OUT)/lib/libbproc.a | $(OUT)/bin
	$(CC) $(CFLAGS) -Imaster/lib -o $@ $(BPSTAT_SRC) common/htab.c $(OUT)/lib/libbproc.a

$(OUT)/bin/bpctl: $(BPCTL_SRC) master/cmd/tool.h master/lib/bproc.h $(OUT)/lib/libbproc.a | $(OUT)/bin
	$(CC) $(CFLAGS) -Imaster/lib -o $@ $(BPCTL_SRC) $(OUT)/lib/libbproc.a

# bpcp's shell scripts are files of their own, embedded as C strings
# (their '#' comment lines left out) so a node needs nothing installed.
BPCP_SRC := master/cmd/bpcp.c master/cmd/bpcp_parse.c master/cmd/bpcp_helper.c \
	    master/cmd/bpcp_relay.c master/cmd/progress.c common/path.c common/htab.c
BPCP_SH	:= master/cmd/bpcp_source.sh master/cmd/bpcp_sink.sh master/cmd/bpcp_isdir.sh

$(OUT)/obj/bpcp_sh.h: $(BPCP_SH) | $(OUT)/obj
	for f in $(BPCP_SH); do \
		echo "static const char $$(basename $$f .sh)[] ="; \
		sed -e '/^#/d' -e 's/\\/\\\\/g' -e 's/"/\\"/g' \
		    -e 's/^/"/' -e 's/$$/\\n"/' $$f; \
		echo ";"; \
	done >$@.tmp && mv $@.tmp $@

$(OUT)/bin/bpcp: $(BPCP_SRC) master/cmd/bpcp_int.h master/cmd/progress.h $(OUT)/obj/bpcp_sh.h master/lib/bproc.h \
	    $(OUT)/lib/libbproc.a | $(OUT)/bin
	$(CC) $(CFLAGS) -Imaster/lib -I$(OUT)/obj -o $@ $(BPCP_SRC) $(OUT)/lib/libbproc.a

# bpweb, the status page and metrics daemon (master/web/).  The page's
# files are embedded as C strings, so it serves nothing from the disk;
# '?' is escaped so no "??x" in them is read as a trigraph.
WEB_SRC	:= $(wildcard master/web/*.c)
WEB_PAGE := master/web/page/index.html master/web/page/bpweb.js \
	    master/web/page/bpweb.css

$(OUT)/obj/bpweb_page.h: $(WEB_PAGE) | $(OUT)/obj
	for f in $(WEB_PAGE); do \
		echo "static const char page_$$(basename $$f | tr . _)[] ="; \
		sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' \
		    -e 's/^/"/' -e 's/$$/\\n"/' $$f; \
		echo ";"; \
	done >$@.tmp && mv $@.tmp $@

$(OUT)/bin/bpweb: $(WEB_SRC) master/web/bpweb.h $(OUT)/obj/bpweb_page.h common/log.c \
	    master/lib/bproc.h $(OUT)/lib/libbproc.a | $(OUT)/bin
	$(CC) $(CFLAGS) -pthread -Imaster/lib -I$(OUT)/obj -o $@ $(WEB_SRC) common/log.c \
	    $(OUT)/lib/libbproc.a -lmicrohttpd

# bpsh starts for every remote command, so it is static musl like the
# ghost: glibc's dynamic loading of libc, libelf, libz and libsodium cost
# about 0.5 ms of each `bpsh 0 true`, and even a static glibc spends 0.3 ms
# more than musl starting up (bench/bpsh_bench.sh).  Debian's libelf.a and
# libz.a call only plain libc functions; libsodium.a's fortify entry points
# come from sodium_compat.c as for nodeinit.  musl-gcc sees libelf's two
# headers through a folder of their own.
ELF_A	:= $(shell for d in /usr/lib/x86_64-linux-gnu /usr/lib; do \
	   [ -f $$d/libelf.a ] && echo $$d/libelf.a $$d/libz.a && break; done)
BPSH_SRC := master/cmd/bpsh.c master/cmd/bpsh_opts.c master/cmd/bpsh_exec.c master/cmd/bpsh_jobs.c master/cmd/bpsh_gather.c master/cmd/bpsh_rsh.c master/cmd/progress.c master/cmd/manifest.c master/cmd/hashcache.c master/cmd/closure.c \
	    master/lib/libbproc_ctl.c master/lib/nodeinfo.c master/lib/rexec.c \
	    common/wire.c common/path.c common/htab.c common/clock.c common/hash.c \
	    common/proto.c common/args.c common/nodeset.c common/sodium_compat.c

$(OUT)/musl-elf/.stamp:
	mkdir -p $(OUT)/musl-elf
	ln -sfn /usr/include/libelf.h $(OUT)/musl-elf/libelf.h
	ln -sfn /usr/include/gelf.h $(OUT)/musl-elf/gelf.h
	touch $@

$(OUT)/bin/bpsh: $(BPSH_SRC) master/cmd/bpsh_int.h master/cmd/manifest.h master/cmd/bpsh_gather.h master/cmd/bpsh_rsh.h master/cmd/progress.h $(wildcard master/lib/*.h common/*.h) \
	    $(OUT)/musl-include/.stamp $(OUT)/musl-elf/.stamp | $(OUT)/bin
	$(MUSLCC) $(NFLAGS) -Imaster/lib -Imaster/cmd -isystem $(OUT)/musl-elf \
	    -DBPROC_GHOST_PATH='"$(GHOST_PATH)"' \
	    -static -s -Wl,--gc-sections -o $@ $(BPSH_SRC) $(ELF_A) $(SODIUM_A)

# bpsh in rsh/ssh mode, for MPI launchers (docs/mpi.md): the name picks it.
$(OUT)/bin/bprsh $(OUT)/bin/bpssh: $(OUT)/bin/bpsh
	ln -sfn bpsh $@

# The ghost is a process per remote process, so its footprint is the
# front end's cost of each: static musl, like nodeinit, maps and dirties
# far less than a glibc program with libsodium loaded (bench/bpsh_bench.sh).
# It frames its local, unsealed socket itself: no conn.c, no libsodium.
GHOST_SRC := master/cmd/bpghost.c master/cmd/ghost_self.c master/cmd/ghost_stream.c master/cmd/ghost_tree.c master/cmd/ghost_conn.c master/cmd/ghost_args.c master/cmd/ghost_move.c master/cmd/ghost_term.c master/cmd/ghost_reconnect.c common/wire.c common/proto.c

$(OUT)/libexec/bpghost: $(GHOST_SRC) $(wildcard common/*.h master/cmd/ghost*.h) $(OUT)/musl-include/.stamp | $(OUT)/libexec
	$(MUSLCC) $(NFLAGS) -static -s -Wl,--gc-sections -o $@ \
	    -DBPROC_RESTORE_PATH='"$(RESTORE_PATH)"' $(GHOST_SRC)

$(OUT)/bin/bpvcluster: tools/bpvcluster | $(OUT)/bin
	install -m 0755 $< $@

# bpvnode with its initramfs reader (cpio.c)
BPVNODE_SRC := tools/bpvnode.c tools/cpio.c common/htab.c

$(OUT)/libexec/bpvnode: $(BPVNODE_SRC) tools/cpio.h common/htab.h | $(OUT)/libexec
	$(CC) $(CFLAGS) -o $@ $(BPVNODE_SRC)

$(NODEINIT): $(NODE_SRC) $(wildcard common/*.h nodeinit/*.h) $(OUT)/musl-include/.stamp | $(OUT)/boot
	$(MUSLCC) $(NFLAGS) -static -s -Wl,--gc-sections -o $@ $(NODE_SRC) $(SODIUM_A)

$(OUT)/tests/test_%: tests/unit/test_%.c $(COMMON_SRC) | $(OUT)/tests
	$(CC) $(CFLAGS) -o $@ $< $(COMMON_SRC) -lcmocka -lsodium

# bpmaster's dnsmasq hosts writer with the config parser it reads
$(OUT)/tests/test_dnsmasq: tests/unit/test_dnsmasq.c master/daemon/dnsmasq.c \
	    master/daemon/config.c $(COMMON_SRC) $(wildcard master/daemon/*.h) | $(OUT)/tests
	$(CC) $(CFLAGS) -Imaster/daemon -o $@ $< master/daemon/dnsmasq.c master/daemon/config.c $(COMMON_SRC) \
	    -lcmocka -lsodium

# bpmaster's event loop and its timer heap
$(OUT)/tests/test_event: tests/unit/test_event.c master/daemon/event.c \
	    $(COMMON_SRC) $(wildcard master/daemon/*.h) | $(OUT)/tests
	$(CC) $(CFLAGS) -Imaster/daemon -o $@ $< master/daemon/event.c $(COMMON_SRC) \
	    -lcmocka -lsodium

# the state machines' edge tables: bpmaster's node states, nodeinit's link
$(OUT)/tests/test_relay_tree: tests/unit/test_relay_tree.c master/daemon/relay_tree.c \
	    master/daemon/relay_tree.h | $(OUT)/tests
	$(CC) $(CFLAGS) -Imaster/daemon -o $@ $< master/daemon/relay_tree.c -lcmocka

$(OUT)/tests/test_node_fsm: tests/unit/test_node_fsm.c master/daemon/node.c \
	    $(COMMON_SRC) $(wildcard master/daemon/*.h) | $(OUT)/tests
	$(CC) $(CFLAGS) -Imaster/daemon -o $@ $< master/daemon/node.c $(COMMON_SRC) \
	    -lcmocka -lsodium

$(OUT)/tests/test_uplink_fsm: tests/unit/test_uplink_fsm.c nodeinit/uplink_fsm.c \
	    $(COMMON_SRC) nodeinit/nodeinit_int.h | $(OUT)/tests
	$(CC) $(CFLAGS) -Inodeinit -o $@ $< nodeinit/uplink_fsm.c $(COMMON_SRC) \
	    -lcmocka -lsodium

# bpvnode's cpio reader; bpstat's cells; bpcp's operand and header parser
$(OUT)/tests/test_bpstat_fmt: tests/unit/test_bpstat_fmt.c master/cmd/bpstat_fmt.c \
	    master/cmd/bpstat_int.h $(COMMON_SRC) | $(OUT)/tests
	$(CC) $(CFLAGS) -Imaster/lib -Imaster/cmd -o $@ $< master/cmd/bpstat_fmt.c \
	    $(COMMON_SRC) -lcmocka -lsodium

$(OUT)/tests/test_bpcp_parse: tests/unit/test_bpcp_parse.c master/cmd/bpcp_parse.c \
	    master/cmd/bpcp_int.h $(COMMON_SRC) | $(OUT)/tests
	$(CC) $(CFLAGS) -Imaster/lib -Imaster/cmd -o $@ $< master/cmd/bpcp_parse.c \
	    $(COMMON_SRC) -lcmocka -lsodium

# bpweb's metrics and JSON from a snapshot made by the test
WEB_FMT_SRC := master/web/web_metrics.c master/web/web_json.c master/web/web_buf.c

$(OUT)/tests/test_bpweb_fmt: tests/unit/test_bpweb_fmt.c $(WEB_FMT_SRC) master/web/bpweb.h \
	    $(OUT)/lib/libbproc.a | $(OUT)/tests
	$(CC) $(CFLAGS) -pthread -Imaster/lib -Imaster/web -o $@ $< $(WEB_FMT_SRC) \
	    $(OUT)/lib/libbproc.a -lcmocka

$(OUT)/tests/test_cpio: tests/unit/test_cpio.c tools/cpio.c tools/cpio.h $(COMMON_SRC) | $(OUT)/tests
	$(CC) $(CFLAGS) -Itools -o $@ $< tools/cpio.c $(COMMON_SRC) -lcmocka -lsodium

# bpmaster's out-of-band power directives (config.c's bmc block)
$(OUT)/tests/test_bmcconf: tests/unit/test_bmcconf.c master/daemon/config.c \
	    $(COMMON_SRC) $(wildcard master/daemon/*.h) | $(OUT)/tests
	$(CC) $(CFLAGS) -Imaster/daemon -o $@ $< master/daemon/config.c $(COMMON_SRC) \
	    -lcmocka -lsodium

clean:
	rm -rf $(OUT)

.PHONY: all clean

# --- install: make install [DESTDIR=...] [PREFIX=/usr/local] ---
# The installed binaries are built apart, in $(DIST), with the installed
# paths compiled in (GHOST_PATH) and the build tree's path mapped out of
# their debug info, so nothing in DESTDIR names this tree (t70_package.sh
# checks).  debian/rules runs this with PREFIX=/usr and Debian's LIBDIR.
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
LIBDIR	?= $(PREFIX)/lib
# bpghost, bpvnode, nodeinit
LIBEXECDIR ?= $(PREFIX)/libexec/bproc
INCLUDEDIR ?= $(PREFIX)/include
DATADIR	?= $(PREFIX)/share
MANDIR	?= $(DATADIR)/man
UNITDIR	?= $(PREFIX)/lib/systemd/system
COMPLETIONDIR ?= $(DATADIR)/bash-completion/completions
# the image's and the boot tree's scripts and templates
PKGDATADIR := $(DATADIR)/bproc
# where bproc-mkimage writes the node image, bpvcluster reads it
IMAGEDIR ?= /var/lib/bproc
DIST	:= $(OUT)/dist
MAP	:= -ffile-prefix-map=$(CURDIR)=.
# man pages from docs/ (docs/man/md2man.sh, with lowdown): a manual's
# Markdown page is docs/PAGE.md (bpmaster and bpvcluster: docs/NAME.md)
MAN_PAGES := bpsh.1 bpstat.1 bpctl.1 bpcp.1 libbproc.3 bpmaster.8 bpvcluster.8 \
	     bpweb.8
MAN_DESC_bpsh.1 := run a command on bproc-ng nodes
MAN_DESC_bpstat.1 := show bproc-ng nodes and their processes
MAN_DESC_bpctl.1 := change bproc-ng node states, power and permissions
MAN_DESC_bpcp.1 := copy files between the front end and bproc-ng nodes
MAN_DESC_libbproc.3 := the bproc-ng C API
MAN_DESC_bpmaster.8 := the bproc-ng front end daemon
MAN_DESC_bpvcluster.8 := a bproc-ng cluster on one machine
MAN_DESC_bpweb.8 := the bproc-ng status page and metrics daemon
MAN_OUT	:= $(addprefix $(OUT)/man/,$(MAN_PAGES))
man_src	= docs/$(if $(filter bpmaster.8 bpvcluster.8,$(1)),$(basename $(1)),$(1)).md
COMPLETED := bpsh bpstat bpctl bpcp bpvcluster

define man_rule
$(OUT)/man/$(1): $(call man_src,$(1)) docs/man/md2man.sh
	mkdir -p $$(@D)
	docs/man/md2man.sh $$< $(basename $(1)) $(subst .,,$(suffix $(1))) \
	    "$(MAN_DESC_$(1))" >$$@.tmp
	mv $$@.tmp $$@
endef
$(foreach p,$(MAN_PAGES),$(eval $(call man_rule,$(p))))

man: $(MAN_OUT)

# Everything that goes into DESTDIR, built with the installed paths.
# The sub-make gets the caller's CFLAGS (e.g. dpkg-buildflags') through
# the environment, without what this Makefile appends to them.
DIST_CFLAGS := $(filter-out -std=c11 -D_GNU_SOURCE $(WARN) -Icommon,$(CFLAGS))

dist:
	CFLAGS='$(DIST_CFLAGS)' $(MAKE) OUT=$(DIST) GHOST_PATH=$(LIBEXECDIR)/bpghost \
	    RESTORE_PATH=$(LIBEXECDIR)/bprestore \
	    CC='$(CC) $(MAP)' MUSLCC='$(MUSLCC) $(MAP)' dist-files

dist-files: $(BINS) $(OUT)/lib/libbproc.a $(OUT)/lib/$(LIB_SONAME) $(NODEINIT) $(OUT)/libexec/bprestore $(MAN_OUT)

# Scripts that find their pieces through a block of path lines: the
# installed copy gets the installed paths (and install fails if a line
# it rewrites is gone).
SUBST_PATHS = sed -e 's|^SBIN=.*|SBIN=$(SBINDIR)|' \
	    -e 's|^LIBEXEC=.*|LIBEXEC=$(LIBEXECDIR)|' \
	    -e 's|^IMAGE=.*|IMAGE=$${BPVC_IMAGE:-$(IMAGEDIR)/initramfs.cpio.gz}|' \
	    -e 's|^MKBOOT=.*|MKBOOT=$(PKGDATADIR)/boot/mkboot.sh|' \
	    -e 's|^MKINITRAMFS=.*|MKINITRAMFS=$(PKGDATADIR)/initramfs/mkinitramfs.sh|' \
	    -e 's|^NODEINIT=.*|NODEINIT=$(LIBEXECDIR)/nodeinit|' \
	    -e 's|^IMAGEDIR=.*|IMAGEDIR=$(IMAGEDIR)|'

install: dist
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(PKGDATADIR)/boot $(DESTDIR)$(PKGDATADIR)/initramfs \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(COMPLETIONDIR)
	install -m 0755 $(DIST)/bin/bpsh $(DIST)/bin/bpstat $(DIST)/bin/bpctl \
	    $(DIST)/bin/bpcp $(DESTDIR)$(BINDIR)
	ln -sfn bpsh $(DESTDIR)$(BINDIR)/bprsh
	ln -sfn bpsh $(DESTDIR)$(BINDIR)/bpssh
	install -m 0755 $(DIST)/bin/bpmaster $(DIST)/bin/bpweb $(DESTDIR)$(SBINDIR)
	install -m 0755 $(DIST)/libexec/bpghost $(DIST)/libexec/bpvnode $(DIST)/libexec/bprestore \
	    $(DIST)/boot/nodeinit $(DESTDIR)$(LIBEXECDIR)
	$(SUBST_PATHS) tools/bpvcluster >$(DESTDIR)$(BINDIR)/bpvcluster
	$(SUBST_PATHS) tools/bproc-mkimage >$(DESTDIR)$(SBINDIR)/bproc-mkimage
	grep -qx 'SBIN=$(SBINDIR)' $(DESTDIR)$(BINDIR)/bpvcluster
	grep -qx 'NODEINIT=$(LIBEXECDIR)/nodeinit' $(DESTDIR)$(SBINDIR)/bproc-mkimage
	chmod 0755 $(DESTDIR)$(BINDIR)/bpvcluster $(DESTDIR)$(SBINDIR)/bproc-mkimage
	install -m 0755 boot/mkboot.sh $(DESTDIR)$(PKGDATADIR)/boot
	install -m 0644 boot/*.in $(DESTDIR)$(PKGDATADIR)/boot
	install -m 0755 initramfs/mkinitramfs.sh $(DESTDIR)$(PKGDATADIR)/initramfs
	install -m 0644 $(DIST)/lib/libbproc.a $(DESTDIR)$(LIBDIR)
	install -m 0644 $(DIST)/lib/$(LIB_SONAME) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sfn $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libbproc.so
	install -m 0644 master/lib/bproc.h $(DESTDIR)$(INCLUDEDIR)
	install -d $(DESTDIR)$(INCLUDEDIR)/sys
	install -m 0644 master/lib/sys/bproc.h $(DESTDIR)$(INCLUDEDIR)/sys
	sed -e 's|^prefix=.*|prefix=$(PREFIX)|' -e 's|@prefix@|$(PREFIX)|' \
	    -e 's|^libdir=.*|libdir=$(LIBDIR)|' \
	    -e 's|@includedir@|$(INCLUDEDIR)|' -e 's|@version@|$(LIB_VERSION)|' \
	    master/lib/bproc.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/bproc.pc
	for m in $(addprefix $(DIST)/man/,$(MAN_PAGES)); do \
		s=$${m##*.}; install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s || exit 1; done
	install -m 0644 docs/man/bproc-mkimage.8 $(DESTDIR)$(MANDIR)/man8
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' etc/bpmaster.service.in \
	    >$(DESTDIR)$(UNITDIR)/bpmaster.service
	install -m 0644 contrib/bash-completion/bproc $(DESTDIR)$(COMPLETIONDIR)/bpsh
	for c in $(filter-out bpsh,$(COMPLETED)); do \
		ln -sfn bpsh $(DESTDIR)$(COMPLETIONDIR)/$$c || exit 1; done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,bpsh bprsh bpssh bpstat bpctl bpcp bpvcluster) \
	    $(DESTDIR)$(SBINDIR)/bpmaster $(DESTDIR)$(SBINDIR)/bpweb \
	    $(DESTDIR)$(SBINDIR)/bproc-mkimage \
	    $(DESTDIR)$(LIBDIR)/libbproc.a $(DESTDIR)$(LIBDIR)/$(LIB_SONAME) \
	    $(DESTDIR)$(LIBDIR)/libbproc.so $(DESTDIR)$(LIBDIR)/pkgconfig/bproc.pc \
	    $(DESTDIR)$(INCLUDEDIR)/bproc.h $(DESTDIR)$(INCLUDEDIR)/sys/bproc.h \
	    $(DESTDIR)$(UNITDIR)/bpmaster.service \
	    $(addprefix $(DESTDIR)$(COMPLETIONDIR)/,$(COMPLETED)) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man,$(foreach m,$(MAN_OUT),$(subst .,,$(suffix $(m)))/$(notdir $(m)))) \
	    $(DESTDIR)$(MANDIR)/man8/bproc-mkimage.8
	rm -rf $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(PKGDATADIR)

.PHONY: man dist dist-files install uninstall
# --- end of install ---

# --- tests and fuzz (build.sh helper) ---
# Test programs that are not cmocka unit tests: the fuzz corpus replayers
# (gcc + ASan/UBSan, run by tests/run.sh), the protocol test client of the
# integration tests, the seed-corpus generator, and the libFuzzer builds
# (clang), which `make fuzz` makes and `build.sh test` builds.
#
# Fuzz targets (tests/fuzz/fuzz_<t>.c; docs/testing.md):
#   frame  the codec and the connection layer
#   mfile  nodeinit's manifest entry parser (fetch.c mfile_parse)
#   elf    bpsh's closure walker (manifest.c: ELF, '#!', symlinks)
#   node   nodeinit's message handlers behind link_dispatch, fake link
#   ctl    bpmaster's control-socket handlers (ctl.c, proc.c), fake conn
#   relay  nodeinit's relay links (relay.c): handshake, GET, BLOB, a socketpair
# Each builds twice from the same sources: out/fuzz/fuzz_<t> (libFuzzer)
# and $(OUT)/tests/fuzz_replay_<t> (tests/fuzz/replay.c; fuzz_replay is
# frame's).  Targets that touch files or processes are linked with --wrap
# so those calls reach tests/fuzz/sandbox.c and the target's fakes.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer
FUZZ_TARGETS := frame mfile elf node ctl relay
FZ_WRAP_FS := open stat lstat link symlink rename unlink mkdir chown lchown chmod \
	    readlink opendir fopen access realpath glob
FZ_WRAP_NODE := $(FZ_WRAP_FS) syscall kill waitpid sethostname write
fz_wrap = $(foreach f,$(1),-Wl,--wrap=$(f))

FZ_SRC_frame := tests/fuzz/fuzz_frame.c common/wire.c common/proto.c \
	    common/conn.c common/auth.c
FZ_LIB_frame := -lsodium
# fetch.c is #included by the target; cache.c and pending.c are linked as they are
FZ_SRC_mfile := tests/fuzz/fuzz_mfile.c nodeinit/cache.c nodeinit/pending.c nodeinit/blob_rx.c tests/fuzz/fuzz_log.c \
	    common/wire.c common/proto.c common/path.c common/htab.c
FZ_DEP_mfile := nodeinit/fetch.c $(wildcard nodeinit/*.h)
FZ_LIB_mfile := -lsodium
# hashcache.c and closure.c are stubbed by the target
FZ_SRC_elf := tests/fuzz/fuzz_elf.c tests/fuzz/sandbox.c master/cmd/manifest.c \
	    common/path.c common/htab.c
FZ_DEP_elf := master/cmd/manifest.h master/lib/bproc.h
FZ_LIB_elf := $(call fz_wrap,$(FZ_WRAP_FS)) -lelf -lsodium
# uplink.c (with uplink_net.c, userdb.c, node_status.c), cache.c and pending.c are #included by the target
FZ_SRC_node := tests/fuzz/fuzz_node.c nodeinit/fetch.c nodeinit/blob_rx.c nodeinit/proc.c \
	    nodeinit/spawn.c nodeinit/proc_io.c nodeinit/proc_sig.c nodeinit/proc_rejoin.c nodeinit/grace.c nodeinit/migrate.c nodeinit/cmdline.c \
	    tests/fuzz/sandbox.c tests/fuzz/fuzz_log.c common/wire.c \
	    common/proto.c common/args.c common/conn.c common/auth.c common/path.c common/htab.c
FZ_DEP_node := nodeinit/uplink.c nodeinit/uplink_fsm.c nodeinit/uplink_net.c nodeinit/userdb.c nodeinit/node_status.c nodeinit/cache.c nodeinit/pending.c $(wildcard nodeinit/*.h)
FZ_LIB_node := $(call fz_wrap,$(FZ_WRAP_NODE)) -lsodium
# ctl*.c are #included by the target; node.c and trace.c are stubbed
FZ_SRC_ctl := tests/fuzz/fuzz_ctl.c master/daemon/proc.c master/daemon/proc_launch.c master/daemon/proc_wire.c master/daemon/relay.c master/daemon/relay_tree.c master/daemon/tree.c master/daemon/spare.c master/daemon/rejoin.c master/daemon/migrate.c master/daemon/standin.c \
	    master/daemon/verify.c master/daemon/power.c \
	    master/daemon/event.c master/daemon/mem.c \
	    tests/fuzz/fuzz_log.c common/wire.c common/proto.c common/args.c common/conn.c \
	    common/nodeset.c common/htab.c common/hash.c common/clock.c
FZ_DEP_ctl := $(wildcard master/daemon/ctl*.c master/daemon/*.h)
FZ_LIB_ctl := -lsodium
# relay.c is #included by the target; blob_rx.c's side is faked
FZ_SRC_relay := tests/fuzz/fuzz_relay.c tests/fuzz/fuzz_log.c common/wire.c \
	    common/proto.c common/conn.c common/auth.c
FZ_DEP_relay := nodeinit/relay.c $(wildcard nodeinit/*.h)
FZ_LIB_relay := $(call fz_wrap,auth_nonce) -lsodium
FZ_INC	:= -Icommon -Itests/fuzz -I. -Inodeinit -Imaster/daemon -Imaster/lib \
	    -Imaster/cmd

FUZZ_REPLAYS := $(OUT)/tests/fuzz_replay \
	    $(patsubst %,$(OUT)/tests/fuzz_replay_%,$(filter-out frame,$(FUZZ_TARGETS)))
TESTBINS := $(FUZZ_REPLAYS) $(OUT)/tests/fakenode
# The sanitizer build's t47 needs callers without sanitizers (an ASan
# process's image is its shadow memory; an ASan .so does not load into
# python): a plain libbproc in $(OUT)/plain that execs the sanitized
# bpghost and bprestore, which bpmaster checks its ghosts against.
ifeq ($(SANITIZE),1)
PLAIN_LIB := $(OUT)/plain/lib/libbproc.a $(OUT)/plain/lib/libbproc.so
TESTBINS += $(PLAIN_LIB)
$(PLAIN_LIB) &: $(LIB_SRC) $(wildcard master/lib/*.h common/*.h)
	$(MAKE) SANITIZE= OUT=$(OUT)/plain \
	    GHOST_PATH=$(CURDIR)/$(OUT)/libexec/bpghost \
	    RESTORE_PATH=$(CURDIR)/$(OUT)/libexec/bprestore $(PLAIN_LIB)
endif

all: $(TESTBINS)

testbins: $(TESTBINS)

$(OUT)/fuzz:
	mkdir -p $@

FUZZ_SRC := $(FZ_SRC_frame)

# The replayers: gcc, ASan + UBSan, -O1 as libFuzzer's builds.
$(OUT)/tests/fuzz_replay: tests/fuzz/replay.c $(FZ_SRC_frame) tests/fuzz/fuzz.h \
	    $(wildcard common/*.h) | $(OUT)/tests
	$(CC) -O1 -g -std=c11 -D_GNU_SOURCE $(WARN) $(SAN_FLAGS) $(FZ_INC) \
	    -o $@ tests/fuzz/replay.c $(FZ_SRC_frame) $(FZ_LIB_frame)

define fz_rules
$$(OUT)/tests/fuzz_replay_$(1): tests/fuzz/replay.c $$(FZ_SRC_$(1)) \
	    $$(FZ_DEP_$(1)) tests/fuzz/fuzz.h $$(wildcard common/*.h) | $$(OUT)/tests
	$$(CC) -O1 -g -std=c11 -D_GNU_SOURCE $$(WARN) $$(SAN_FLAGS) $$(FZ_INC) \
	    -o $$@ tests/fuzz/replay.c $$(FZ_SRC_$(1)) $$(FZ_LIB_$(1))

$$(OUT)/fuzz/fuzz_$(1): $$(FZ_SRC_$(1)) $$(FZ_DEP_$(1)) tests/fuzz/fuzz.h \
	    $$(wildcard common/*.h) | $$(OUT)/fuzz
	clang -g -O1 -std=c11 -D_GNU_SOURCE $$(WARN) $$(FZ_INC) \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -o $$@ $$(FZ_SRC_$(1)) $$(FZ_LIB_$(1))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fz_rules,$(t))))

$(OUT)/tests/fakenode: tests/integration/fakenode.c common/wire.c \
	    common/proto.c common/conn.c common/auth.c $(wildcard common/*.h) \
	    | $(OUT)/tests
	$(CC) $(CFLAGS) -o $@ tests/integration/fakenode.c common/wire.c \
	    common/proto.c common/conn.c common/auth.c -lsodium

$(OUT)/tests/mkcorpus: tests/fuzz/mkcorpus.c common/wire.c common/proto.c \
	    common/auth.c $(wildcard common/*.h) | $(OUT)/tests
	$(CC) $(CFLAGS) -o $@ tests/fuzz/mkcorpus.c common/wire.c common/proto.c \
	    common/auth.c -lsodium

# Regenerates the committed seeds (run after adding a message type):
# frame's generated corpus, and the hand-made good-/bad- seeds of the
# other targets (files found by fuzzing, fuzz-*, stay).
corpus: $(OUT)/tests/mkcorpus
	$(OUT)/tests/mkcorpus tests/fuzz/corpus
	mkdir -p tests/fuzz/corpus-node tests/fuzz/corpus-ctl
	$(OUT)/tests/mkcorpus -t node tests/fuzz/corpus-node
	$(OUT)/tests/mkcorpus -t ctl tests/fuzz/corpus-ctl
	mkdir -p tests/fuzz/corpus-relay
	$(OUT)/tests/mkcorpus -t relay tests/fuzz/corpus-relay
	python3 tests/fuzz/mkseeds.py

# libFuzzer wants its own runtime and clang; the replayers cover gcc.
fuzz: $(patsubst %,$(OUT)/fuzz/fuzz_%,$(FUZZ_TARGETS))

.PHONY: testbins corpus fuzz

# --- sanitizer build: make SANITIZE=1 (into out-san/; build.sh sanitize) ---
# ASan + UBSan for everything built with gcc and glibc (bpmaster, bpstat,
# bpctl, bpcp, libbproc, bpvnode, the unit tests); UBSan in trap mode
# (gcc: -fsanitize-undefined-trap-on-error, no runtime needed) for
# the static musl programs (nodeinit, bpsh, bpghost): musl has no
# sanitizer runtime, and a trap needs none (a finding is SIGILL at the
# faulty instruction).  -O1 keeps reports readable.
ifeq ($(SANITIZE),1)
CFLAGS	:= -O1 -g -std=c11 -D_GNU_SOURCE $(WARN) -Icommon $(SAN_FLAGS)
NFLAGS	+= -fsanitize=undefined -fsanitize-undefined-trap-on-error -g
endif

# --- vmadump: the process image (docs/vmadump.md) ---
# bproc_dump/bproc_undump go into libbproc: the archive's and the .so's
# recipes expand LIB_OBJ when they run, so appending here is enough.
# bprestore is static musl, not PIE, linked at the far address RST_BASE
# (nodeinit/restore/rst.h) so that it never sits where an image
# wants its memory.  It brings its own _start (rst_jump.S): musl's crt1.o
# reaches _DYNAMIC (0) PC-relative, which no 32-bit offset does from there.
RESTORE_SRC := nodeinit/restore/bprestore.c nodeinit/restore/rst_state.c \
	       nodeinit/restore/rst_image.c nodeinit/restore/rst_map.c \
	       nodeinit/restore/rst_jump.S
RESTORE	:= $(OUT)/libexec/bprestore
VMAD_LIB_SRC := master/lib/vmadump.c master/lib/vmadump_state.c master/lib/vmadump_write.c \
		master/lib/undump.c master/lib/liblist.c
LIB_OBJ	+= $(patsubst master/lib/%.c,$(OUT)/obj/lib_%.o,$(VMAD_LIB_SRC))
LIB_SRC	+= $(VMAD_LIB_SRC)

$(OUT)/lib/libbproc.a: $(VMAD_LIB_SRC) master/lib/bproc_dump.h master/lib/vmadump_int.h master/lib/vmadump_dump.h \
	    common/vmadump.h
$(OUT)/lib/libbproc.a: CFLAGS += -DBPROC_RESTORE_PATH='"$(RESTORE_PATH)"'

$(RESTORE): $(RESTORE_SRC) nodeinit/restore/rst.h common/vmadump.h \
	    $(OUT)/musl-include/.stamp | $(OUT)/libexec
	$(MUSLCC) $(NFLAGS) -Inodeinit/restore -static -no-pie -s \
	    -nostartfiles -Wl,--no-relax -Wl,--gc-sections -Wl,-Ttext-segment=0x200000000000 \
	    -o $@ $(RESTORE_SRC)

$(OUT)/tests/test_vmadump: tests/unit/test_vmadump.c $(OUT)/lib/libbproc.a $(RESTORE) \
	    | $(OUT)/tests
	$(CC) $(CFLAGS) -Imaster/lib -DBPROC_RESTORE_PATH_FOR_TEST='"$(CURDIR)/$(RESTORE)"' \
	    -o $@ $< $(OUT)/lib/libbproc.a -lcmocka -lpthread

all: $(RESTORE)

$(OUT)/bench/vmadump_bench: bench/vmadump_bench.c $(OUT)/lib/libbproc.a $(RESTORE)
	mkdir -p $(@D)
	$(CC) $(CFLAGS) -Imaster/lib -o $@ $< $(OUT)/lib/libbproc.a

all: $(OUT)/bench/vmadump_bench

# --- migration: bproc_rfork/vrfork/move (master/lib/migrate*.c) ---
# It hashes the mapped files for the push manifest with libsodium, which
# the shared library now needs (programs linking the archive and calling
# these add -lsodium).
MIG_LIB_SRC := master/lib/migrate.c master/lib/migrate_home.c \
	       master/lib/migrate_send.c master/lib/migrate_files.c
LIB_OBJ	+= $(patsubst master/lib/%.c,$(OUT)/obj/lib_%.o,$(MIG_LIB_SRC))
LIB_SRC	+= $(MIG_LIB_SRC)
LIB_LIBS += -lsodium
$(OUT)/lib/libbproc.a: $(MIG_LIB_SRC) master/lib/migrate_int.h
$(OUT)/bench/migrate_bench: bench/migrate_bench.c $(OUT)/lib/libbproc.a
	mkdir -p $(@D)
	$(CC) $(CFLAGS) -Imaster/lib -o $@ $< $(OUT)/lib/libbproc.a -lsodium

all: $(OUT)/bench/migrate_bench

# --- BProc 4 source compatibility: <sys/bproc.h> (master/lib/bproc4_*.c) ---
# BProc 4's names whose meaning differs from bproc.h's are bproc4_* symbols
# (the header maps them), exported beside bproc_* (libbproc.map).
BPROC4_SRC := master/lib/bproc4_err.c master/lib/bproc4_nodeset.c \
	      master/lib/bproc4_node.c master/lib/bproc4_admin.c \
	      master/lib/bproc4_proc.c master/lib/bproc4_dump.c \
	      master/lib/bproc4_bridge.c
LIB_OBJ	+= $(patsubst master/lib/%.c,$(OUT)/obj/lib_%.o,$(BPROC4_SRC))
LIB_SRC	+= $(BPROC4_SRC)
$(OUT)/lib/libbproc.a: $(BPROC4_SRC) master/lib/sys/bproc.h master/lib/bproc4_int.h
$(OUT)/lib/libbproc.a: CFLAGS += -DBPROC_LIB_VERSION='"$(LIB_VERSION)"'

# the node sets and bproc_strerror, with no master
$(OUT)/tests/test_bproc4_nodeset: tests/unit/test_bproc4_nodeset.c master/lib/bproc4_nodeset.c \
	    master/lib/bproc4_err.c master/lib/sys/bproc.h master/lib/bproc4_int.h | $(OUT)/tests
	$(CC) $(CFLAGS) -Imaster/lib -o $@ $< master/lib/bproc4_nodeset.c master/lib/bproc4_err.c \
	    -lcmocka

# --- the relay tree's per-byte costs (bench/relay_bench.sh) ---
$(OUT)/bench/relay_cost: bench/relay_cost.c
	mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lsodium

all: $(OUT)/bench/relay_cost
