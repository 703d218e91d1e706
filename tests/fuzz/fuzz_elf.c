/*
 * Fuzz target for bpsh's closure walker (master/cmd/manifest.c: the ELF
 * reader add_elf_deps behind push_add, with '#!' scripts and symlinks):
 * the input is the content of a program, /prog, which the walker reads
 * as bpsh reads a command it pushes.  It runs in a sandbox (sandbox.c)
 * holding a small tree: a loader, libc, an ld.so.conf with an include,
 * a library it names, symlinked libraries and a shell, so DT_NEEDED,
 * DT_RUNPATH/DT_RPATH with $ORIGIN, PT_INTERP and '#!' resolve there and
 * the input cannot make the walker read the host's /usr.
 *
 * Accepted means the walk found everything the program needs: no file it
 * could not read (manifest.errors) and no needed library missing (the
 * walker spoils the closure cache then, closure_spoil).  Every manifest
 * entry must be a clean absolute path, or the target aborts.
 *
 * The hash cache (hashcache.c, keyed by inode and mtime, which the
 * rewritten /app/prog changes every run) and the closure cache
 * (closure.c) are stubbed: a hash is taken afresh, and no cache is
 * decoded; neither is what this target reads.
 */
#include <sodium.h>

#include <sys/stat.h>

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bproc.h"
#include "fuzz.h"
#include "htab.h"
#include "manifest.h"

static int	spoiled;

void	closure_record(const char *p, const struct stat *st) { (void)p; (void)st; }
void	closure_spoil(void) { spoiled++; }
void	closure_begin(void) { }
void	closure_end(const char *c, const struct manifest *m) { (void)c; (void)m; }
int	closure_load(const char *c, struct manifest *m) { (void)c; (void)m; return -1; }
void	hashcache_save(void) { }

int
hashcache_file(int fd, const struct stat *st, unsigned char *out)
{
	crypto_generichash_state	h;
	unsigned char			buf[65536];
	ssize_t				n;
	off_t				off = 0;

	(void)st;
	crypto_generichash_init(&h, NULL, 0, 32);
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		crypto_generichash_update(&h, buf, (size_t)n);
		off += n;
	}
	crypto_generichash_final(&h, out, 32);
	return n < 0 ? -1 : 0;
}

/* The smallest file libelf takes as ELF: a header, no tables. */
static void
tiny_elf(const char *path)
{
	Elf64_Ehdr	eh;

	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_DYN;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_ehsize = sizeof(eh);
	fuzz_sandbox_put(path, &eh, sizeof(eh), 0755);
}

static void
sb_symlink(const char *target, const char *path)
{
	char	p[512];

	snprintf(p, sizeof(p), "%s%s", fuzz_sandbox_root, path);
	unlink(p);
	if (symlink(target, p) == -1)
		abort();
}

static void
setup(void)
{
	static const char conf[] = "# the host's form\n"
	    "include /etc/ld.so.conf.d/*.conf\n";
	static const char conf_d[] = "/opt/lib\n";

	fuzz_sandbox_init("fuzz-elf");
	fuzz_sandbox_host_proc = 0;
	tiny_elf("/lib64/ld-linux-x86-64.so.2");
	tiny_elf("/lib/x86_64-linux-gnu/libc.so.6");
	tiny_elf("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13");
	sb_symlink("libz.so.1.2.13", "/usr/lib/x86_64-linux-gnu/libz.so.1");
	tiny_elf("/opt/lib/libopt.so");
	tiny_elf("/app/lib/libapp.so");
	tiny_elf("/bin/sh");
	tiny_elf("/usr/bin/python3.11");
	sb_symlink("python3.11", "/usr/bin/python3");
	fuzz_sandbox_put("/etc/ld.so.conf", conf, sizeof(conf) - 1, 0644);
	fuzz_sandbox_put("/etc/ld.so.conf.d/opt.conf", conf_d,
	    sizeof(conf_d) - 1, 0644);
	/* the hash cache would live in $HOME/.cache: keep it in the sandbox */
	setenv("HOME", fuzz_sandbox_root, 1);
	unsetenv("LD_LIBRARY_PATH");
}

static int
clean(const char *p)
{
	if (p[0] != '/' || strstr(p, "//") != NULL || strstr(p, "/./") != NULL ||
	    strstr(p, "/../") != NULL)
		return 0;
	return 1;
}

int
fuzz_verdict(const uint8_t *data, size_t size)
{
	static int		 ready;
	struct manifest		 m;
	int			 ok;

	if (!ready) {
		setup();
		ready = 1;
	}
	fuzz_sandbox_put("/app/prog", data, size, 0755);
	memset(&m, 0, sizeof(m));
	spoiled = 0;
	fuzz_sandbox_on = 1;
	manifest_add(&m, "/app/prog");
	fuzz_sandbox_on = 0;
	ok = m.errors == 0 && spoiled == 0 && m.n > 0 &&
	    strcmp(m.files[0].path, "/app/prog") == 0;
	for (size_t i = 0; i < m.n; i++) {
		if (!clean(m.files[i].path))
			abort();
		free(m.files[i].path);
		free(m.files[i].target);
	}
	free(m.files);
	htab_free(&m.index);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_verdict(data, size);
	return 0;
}
