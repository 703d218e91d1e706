/*
 * What bpsh pushes with a program: the program found on the front end's
 * PATH, its ELF interpreter and DT_NEEDED closure resolved the way ld.so
 * would (DT_RPATH/DT_RUNPATH with $ORIGIN, LD_LIBRARY_PATH, ld.so.conf,
 * the default directories), symlinks as they are on the front end, '#!'
 * interpreters, and whatever --push names.  ELF is read with libelf;
 * nothing is run.  Files are opened as the user; each is hashed once per
 * (device, inode, size, mtime) thanks to a cache in ~/.cache/bproc.
 */
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glob.h>
#include <libelf.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bproc.h"
#include "path.h"
#include "manifest.h"

#define PUSH_MAXFILES	100000	/* files one run may push */
#define PUSH_DEPTH	8	/* nested #! interpreters */
#define HCACHE_MAX	100000	/* hash cache entries kept on disk */

struct hcache {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	long long	 mtime;
	unsigned char	 hash[32];
};

static struct hcache	*hc;
static size_t		 nhc, hc_loaded, hc_dirty;
static size_t		*hc_index;	/* open addressing: 1 + index into hc */
static size_t		 hc_slots;	/* a power of two, > 2 * nhc */
static int		 sodium_ready, elf_ready;
static char		**libdirs;
static size_t		 nlibdirs;


static void
dirs_add(const char *d)
{
	for (size_t i = 0; i < nlibdirs; i++)
		if (strcmp(libdirs[i], d) == 0)
			return;
	if ((libdirs = reallocarray(libdirs, nlibdirs + 1,
	    sizeof(*libdirs))) == NULL || (libdirs[nlibdirs] = strdup(d)) == NULL)
		err(255, "push");
	nlibdirs++;
}

/* ld.so.conf and its includes: the front end's library search order. */
static void
conf_read(const char *path, int depth)
{
	char		 line[PATH_MAX], dir[PATH_MAX], *p;
	struct stat	 st;
	FILE		*f;
	glob_t		 g;

	if (depth > 4)
		return;
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			closure_record(path, NULL);
		else
			closure_spoil();
		return;
	}
	if (fstat(fileno(f), &st) == 0)
		closure_record(path, &st);
	else
		closure_spoil();
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "#\n")] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0')
			continue;
		if (strncmp(p, "include", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
			for (p += 8; *p == ' ' || *p == '\t'; p++)
				;
			/* a file added to the included directory changes it */
			path_dir(p, dir, sizeof(dir));
			if (strpbrk(dir, "*?[") != NULL)
				closure_spoil();
			else if (lstat(dir, &st) == 0)
				closure_record(dir, &st);
			else
				closure_record(dir, NULL);
			if (glob(p, 0, NULL, &g) == 0) {
				for (size_t i = 0; i < g.gl_pathc; i++)
					conf_read(g.gl_pathv[i], depth + 1);
				globfree(&g);
			}
		} else if (*p == '/')
			dirs_add(p);
	}
	fclose(f);
}

static void
dirs_init(void)
{
	if (libdirs != NULL)
		return;
	conf_read("/etc/ld.so.conf", 0);
	dirs_add("/lib/x86_64-linux-gnu");
	dirs_add("/usr/lib/x86_64-linux-gnu");
	dirs_add("/lib64");
	dirs_add("/lib");
	dirs_add("/usr/lib");
}

static int
manifest_has(const struct manifest *m, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->files[i].path, path) == 0)
			return 1;
	return 0;
}

static struct bproc_file *
manifest_new(struct manifest *m, const char *path)
{
	struct bproc_file	*f;

	if (m->n >= PUSH_MAXFILES)
		errx(255, "more than %d files to push", PUSH_MAXFILES);
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		if ((m->files = reallocarray(m->files, m->cap,
		    sizeof(*m->files))) == NULL)
			err(255, "push");
	}
	f = &m->files[m->n++];
	memset(f, 0, sizeof(*f));
	if ((f->path = strdup(path)) == NULL)
		err(255, "push");
	return f;
}

static void
hcache_path(char *buf, size_t len)
{
	const char	*home = getenv("HOME");

	snprintf(buf, len, "%s/.cache/bproc/hashes",
	    home && *home ? home : "/tmp");
}

static size_t
hcache_hash(dev_t dev, ino_t ino, off_t size, long long mtime)
{
	uint64_t	h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL;

	h ^= (uint64_t)dev + (h << 6) + (h >> 2);
	h ^= (uint64_t)size * 0xff51afd7ed558ccdULL;
	h ^= (uint64_t)mtime + (h << 6) + (h >> 2);
	return (size_t)(h ^ (h >> 29));
}

static void
hcache_index_put(size_t i)
{
	const struct hcache	*e = &hc[i];
	size_t			 k;

	k = hcache_hash(e->dev, e->ino, e->size, e->mtime) & (hc_slots - 1);
	while (hc_index[k] != 0)
		k = (k + 1) & (hc_slots - 1);
	hc_index[k] = i + 1;
}

/*
 * Keep the index at most half full for want entries: 0 when it has room,
 * 1 when it was rebuilt with every entry, -1 (no index) on ENOMEM.
 */
static int
hcache_index_grow(size_t want)
{
	size_t	n = 64;

	if (hc_slots > 2 * want)
		return 0;
	while (n <= 2 * want)
		n *= 2;
	free(hc_index);
	if ((hc_index = calloc(n, sizeof(*hc_index))) == NULL) {
		hc_slots = 0;
		return -1;
	}
	hc_slots = n;
	for (size_t i = 0; i < nhc; i++)
		hcache_index_put(i);
	return 1;
}

static struct hcache *
hcache_find(const struct stat *st, long long mt)
{
	struct hcache	*e;
	size_t		 k;

	if (hc_slots == 0)
		return NULL;
	k = hcache_hash(st->st_dev, st->st_ino, st->st_size, mt) &
	    (hc_slots - 1);
	for (; hc_index[k] != 0; k = (k + 1) & (hc_slots - 1)) {
		e = &hc[hc_index[k] - 1];
		if (e->dev == st->st_dev && e->ino == st->st_ino &&
		    e->size == st->st_size && e->mtime == mt)
			return e;
	}
	return NULL;
}

static void
hcache_load(void)
{
	char		 path[PATH_MAX];
	struct hcache	 e;
	FILE		*f;
	struct stat	 st;
	size_t		 n;

	hc_loaded = 1;
	hcache_path(path, sizeof(path));
	if ((f = fopen(path, "re")) != NULL) {
		/*
		 * Whole records only, at most what push_save_cache keeps,
		 * from a file that only we could have written.
		 */
		if (fstat(fileno(f), &st) == 0 && st.st_size > 0 &&
		    st.st_uid == geteuid() && !(st.st_mode & 022)) {
			n = (size_t)st.st_size / sizeof(e);
			if (n > HCACHE_MAX)
				n = HCACHE_MAX;
			if ((hc = reallocarray(NULL, n, sizeof(*hc))) != NULL)
				nhc = fread(hc, sizeof(*hc), n, f);
		}
		fclose(f);
	}
	hcache_index_grow(nhc);
}

void
push_save_cache(void)
{
	char	 path[PATH_MAX], tmp[PATH_MAX + 16], *slash;
	FILE	*f;
	int	 fd;

	if (!hc_dirty)
		return;
	hcache_path(path, sizeof(path));
	for (slash = path + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	/* ours alone, whatever the umask: hcache_load trusts no other */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return;
	}
	/* keep the newest entries; the cache is only an optimisation */
	size_t first = nhc > HCACHE_MAX ? nhc - HCACHE_MAX : 0;
	if (fwrite(hc + first, sizeof(*hc), nhc - first, f) != nhc - first) {
		fclose(f);
		unlink(tmp);
		return;
	}
	fclose(f);
	rename(tmp, path);
}

/* Hash an open file, or take the hash cached for the same inode state. */
static int
hash_file(int fd, const struct stat *st, unsigned char *out)
{
	crypto_generichash_state	 s;
	unsigned char			 buf[65536];
	struct hcache			*e;
	ssize_t				 n;
	long long			 mt;

	mt = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	if (!hc_loaded)
		hcache_load();
	if ((e = hcache_find(st, mt)) != NULL) {
		memcpy(out, e->hash, 32);
		return 0;
	}
	if (!sodium_ready) {
		if (sodium_init() < 0)
			errx(255, "libsodium initialisation failed");
		sodium_ready = 1;
	}
	crypto_generichash_init(&s, NULL, 0, 32);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		crypto_generichash_update(&s, buf, (size_t)n);
	if (n < 0)
		return -1;
	crypto_generichash_final(&s, out, 32);
	if ((e = reallocarray(hc, nhc + 1, sizeof(*hc))) != NULL) {
		hc = e;
		hc[nhc].dev = st->st_dev;
		hc[nhc].ino = st->st_ino;
		hc[nhc].size = st->st_size;
		hc[nhc].mtime = mt;
		memcpy(hc[nhc].hash, out, 32);
		nhc++;
		hc_dirty = 1;
		/* a rebuilt index has the new entry already */
		if (hcache_index_grow(nhc) == 0)
			hcache_index_put(nhc - 1);
	}
	return 0;
}

static void	add_path_from(struct manifest *, const char *, int, int);

/* No "//", "." or ".." component and no trailing "/". */
static int
path_is_clean(const char *p)
{
	const char	*s;

	for (s = p; (s = strchr(s, '/')) != NULL; s++) {
		if (s[1] == '/' || (s[1] == '\0' && s != p))
			return 0;
		if (s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
			return 0;
		if (s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0'))
			return 0;
	}
	return 1;
}

static void
add_path(struct manifest *m, const char *path, int depth)
{
	add_path_from(m, path, depth, 0);
}

/* Expand $ORIGIN / ${ORIGIN} in one search-path element. */
static void
expand_origin(const char *in, const char *origin, char *out, size_t len)
{
	size_t	o = 0;

	while (*in && o + 1 < len) {
		if (strncmp(in, "$ORIGIN", 7) == 0 ||
		    strncmp(in, "${ORIGIN}", 9) == 0) {
			o += (size_t)snprintf(out + o, len - o, "%s", origin);
			in += in[1] == '{' ? 9 : 7;
			if (o >= len)
				o = len - 1;
		} else
			out[o++] = *in++;
	}
	out[o] = '\0';
}

static int
try_dirs(const char *list, const char *origin, const char *name, char *found,
    size_t len)
{
	char	copy[PATH_MAX], dir[PATH_MAX], *p, *save;

	if (list == NULL)
		return -1;
	snprintf(copy, sizeof(copy), "%s", list);
	for (p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
		expand_origin(p, origin, dir, sizeof(dir));
		if ((size_t)snprintf(found, len, "%s/%s", dir, name) >= len)
			continue;
		if (access(found, R_OK) == 0)
			return 0;
		/* searched in vain: a library appearing here must win */
		closure_record(found, NULL);
	}
	return -1;
}

/* Walk one ELF file's interpreter and needed libraries. */
static void
add_elf_deps(struct manifest *m, const char *path, int fd, int depth)
{
	Elf		*e;
	Elf_Scn		*scn = NULL;
	GElf_Shdr	 sh;
	GElf_Phdr	 ph;
	GElf_Dyn	 dyn;
	size_t		 nph, i;
	char		 origin[PATH_MAX], found[PATH_MAX];
	const char	*rpath = NULL, *runpath = NULL, *needed[256];
	int		 nneeded = 0;

	if (!elf_ready) {
		if (elf_version(EV_CURRENT) == EV_NONE)
			errx(255, "libelf: %s", elf_errmsg(-1));
		elf_ready = 1;
	}
	if ((e = elf_begin(fd, ELF_C_READ_MMAP, NULL)) == NULL)
		return;
	if (elf_kind(e) != ELF_K_ELF) {
		elf_end(e);
		return;
	}
	if (elf_getphdrnum(e, &nph) == 0) {
		for (i = 0; i < nph; i++) {
			if (gelf_getphdr(e, (int)i, &ph) == NULL ||
			    ph.p_type != PT_INTERP)
				continue;
			size_t	len;
			char	*raw = elf_rawfile(e, &len);

			if (raw != NULL && ph.p_offset < len &&
			    ph.p_filesz <= len - ph.p_offset && ph.p_filesz > 1 &&
			    ph.p_filesz < PATH_MAX &&
			    raw[ph.p_offset + ph.p_filesz - 1] == '\0')
				add_path(m, raw + ph.p_offset, depth + 1);
		}
	}
	while ((scn = elf_nextscn(e, scn)) != NULL) {
		Elf_Data	*d;

		if (gelf_getshdr(scn, &sh) == NULL || sh.sh_type != SHT_DYNAMIC)
			continue;
		if ((d = elf_getdata(scn, NULL)) == NULL || sh.sh_entsize == 0)
			continue;
		for (i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			const char	*s;

			if (gelf_getdyn(d, (int)i, &dyn) == NULL)
				break;
			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RPATH &&
			    dyn.d_tag != DT_RUNPATH)
				continue;
			if ((s = elf_strptr(e, sh.sh_link, dyn.d_un.d_val)) == NULL)
				continue;
			if (dyn.d_tag == DT_NEEDED && nneeded < 256)
				needed[nneeded++] = s;
			else if (dyn.d_tag == DT_RPATH)
				rpath = s;
			else if (dyn.d_tag == DT_RUNPATH)
				runpath = s;
		}
	}
	path_dir(path, origin, sizeof(origin));
	dirs_init();
	for (int k = 0; k < nneeded; k++) {
		const char	*name = needed[k];
		int		 ok = -1;

		if (strchr(name, '/') != NULL) {
			add_path(m, name, depth + 1);
			continue;
		}
		/* ld.so's order: RPATH (without RUNPATH), LD_LIBRARY_PATH, RUNPATH, system */
		if (runpath == NULL)
			ok = try_dirs(rpath, origin, name, found, sizeof(found));
		if (ok == -1)
			ok = try_dirs(getenv("LD_LIBRARY_PATH"), origin, name,
			    found, sizeof(found));
		if (ok == -1)
			ok = try_dirs(runpath, origin, name, found, sizeof(found));
		for (size_t j = 0; ok == -1 && j < nlibdirs; j++) {
			snprintf(found, sizeof(found), "%s/%s", libdirs[j], name);
			if (access(found, R_OK) == 0)
				ok = 0;
			else
				closure_record(found, NULL);
		}
		if (ok == 0)
			add_path(m, found, depth + 1);
		else {
			warnx("%s: needed library %s not found on the front end",
			    path, name);
			closure_spoil();
		}
	}
	elf_end(e);
}

/* Add path: symlinks as links (and their targets), files with their deps. */
static void
add_path_from(struct manifest *m, const char *path, int depth, int from_link)
{
	struct bproc_file	*f;
	struct stat		 st;
	char			 target[PATH_MAX], abs[PATH_MAX * 2], dir[PATH_MAX];
	unsigned char		 head[PATH_MAX];
	ssize_t			 n;
	int			 fd;

	if (depth > 64 || path[0] != '/')
		return;
	/*
	 * "$ORIGIN/../lib/libx.so" or "./prog": the node takes only clean
	 * absolute paths, and the front end's kernel resolves ".." through
	 * the real directories, so do that here (the last component stays,
	 * a symlink is pushed as one).
	 */
	if (!path_is_clean(path)) {
		char	*slash;

		/* realpath's view of each directory is not checked later */
		closure_spoil();
		snprintf(abs, sizeof(abs), "%s", path);
		slash = strrchr(abs, '/');
		*slash = '\0';
		if (realpath(abs[0] ? abs : "/", dir) == NULL) {
			if (from_link && errno == ENOENT)
				return;
			warn("push %s", path);
			m->errors++;
			return;
		}
		if ((size_t)snprintf(target, sizeof(target), "%s/%s",
		    strcmp(dir, "/") == 0 ? "" : dir, slash + 1) >=
		    sizeof(target)) {
			warnx("push %s: path too long", path);
			m->errors++;
			return;
		}
		path_clean(target);
		add_path_from(m, target, depth + 1, from_link);
		return;
	}
	if (manifest_has(m, path))
		return;
	if (lstat(path, &st) == -1) {
		/* a dangling link's target is not there to push: not an error */
		if (errno == ENOENT && from_link) {
			closure_record(path, NULL);
			return;
		}
		closure_spoil();
		warn("push %s", path);
		m->errors++;
		return;
	}
	closure_record(path, &st);
	if (S_ISLNK(st.st_mode)) {
		if ((n = readlink(path, target, sizeof(target) - 1)) < 0) {
			warn("push %s", path);
			m->errors++;
			return;
		}
		target[n] = '\0';
		f = manifest_new(m, path);
		if ((f->target = strdup(target)) == NULL)
			err(255, "push");
		f->mode = 0777;
		path_link_target(path, target, abs, sizeof(abs));
		add_path_from(m, abs, depth + 1, 1);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR		*d;
		struct dirent	*de;

		/* a directory's entries are not checked later */
		closure_spoil();
		if ((d = opendir(path)) == NULL) {
			warn("push %s", path);
			m->errors++;
			return;
		}
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(abs, sizeof(abs), "%s/%s", path, de->d_name);
			add_path(m, abs, depth + 1);
		}
		closedir(d);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		closure_spoil();
		return;
	}
	/* opened as the user: nobody pushes what they cannot read */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		warn("push %s", path);
		m->errors++;
		return;
	}
	f = manifest_new(m, path);
	f->mode = st.st_mode & 07777;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	f->size = (uint64_t)st.st_size;
	if (fstat(fd, &st) == -1 || hash_file(fd, &st, f->hash) == -1) {
		warn("push %s", path);
		m->errors++;
		close(fd);
		return;
	}
	/* '#!' scripts bring their interpreter; ELF files their libraries */
	if (pread(fd, head, sizeof(head) - 1, 0) > 2 && head[0] == '#' &&
	    head[1] == '!' && depth < PUSH_DEPTH * 8) {
		char	*p = (char *)head + 2, *end;

		head[sizeof(head) - 1] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strcspn(p, " \t\n");
		*end = '\0';
		/* a script whose interpreter is missing fails on the node, clearly */
		if (*p == '/')
			add_path_from(m, p, depth + 1, 1);
	} else
		add_elf_deps(m, path, fd, depth);
	close(fd);
}

int
push_resolve(const char *cmd, char *out, size_t len)
{
	const char	*path = getenv("PATH"), *p, *q;
	struct stat	 st;

	if (strchr(cmd, '/') != NULL) {
		if (cmd[0] == '/')
			snprintf(out, len, "%s", cmd);
		else {
			char	cwd[PATH_MAX];

			if (getcwd(cwd, sizeof(cwd)) == NULL)
				return -1;
			snprintf(out, len, "%s/%s", cwd, cmd);
		}
		return stat(out, &st) == 0 ? 0 : -1;
	}
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = q + 1) {
		q = strchr(p, ':');
		size_t n = q ? (size_t)(q - p) : strlen(p);

		if (n > 0 && p[0] == '/') {
			snprintf(out, len, "%.*s/%s", (int)n, p, cmd);
			if (stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
			    access(out, X_OK) == 0)
				return 0;
		}
		if (q == NULL)
			break;
	}
	return -1;
}

void
push_add(struct manifest *m, const char *path)
{
	add_path(m, path, 0);
}

/*
 * The command: from the closure cache when nothing changed since its last
 * walk, else walked (and cached).  After --push files it is walked only.
 */
void
push_command(struct manifest *m, const char *path)
{
	if (m->n == 0) {
		if (closure_load(path, m) == 0)
			return;
		closure_begin();
	}
	add_path(m, path, 0);
	closure_end(path, m);
}
