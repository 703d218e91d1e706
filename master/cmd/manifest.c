/*
 * What bpsh pushes with a program: the program found on the front end's
 * PATH, its ELF interpreter and DT_NEEDED closure resolved the way ld.so
 * would (DT_RPATH/DT_RUNPATH with $ORIGIN, LD_LIBRARY_PATH, ld.so.conf,
 * the default directories), symlinks as they are on the front end, '#!'
 * interpreters, and whatever --push names.  ELF is read with libelf;
 * nothing is run.  Files are opened as the user; each is hashed once per
 * (device, inode, size, mtime) thanks to hashcache.c.
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

#include "bproc.h"
#include "path.h"
#include "manifest.h"

#define PUSH_MAXFILES	100000	/* files one run may push */
#define PUSH_DEPTH	8	/* nested #! interpreters */


static int		 elf_ready;
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

/* What path_eq looks for: a path in one manifest. */
struct path_key {
	const struct manifest	*m;
	const char		*path;
};

static int
path_eq(uintptr_t v, const void *key)
{
	const struct path_key	*k = key;

	return strcmp(k->m->files[v].path, k->path) == 0;
}

static int
manifest_has(struct manifest *m, const char *path)
{
	struct path_key	key = { m, path };

	/* entries come from the walk and from the closure cache alike */
	if (m->indexed > m->n) {	/* the closure cache emptied it */
		htab_free(&m->index);
		m->indexed = 0;
	}
	for (; m->indexed < m->n; m->indexed++)
		if (htab_put(&m->index, path_hash(m->files[m->indexed].path),
		    m->indexed) == -1)
			err(255, "push");
	return htab_get(&m->index, path_hash(path), path_eq, &key, NULL);
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

/*
 * One DT_NEEDED name of path, found in ld.so's order: RPATH (without
 * RUNPATH), LD_LIBRARY_PATH, RUNPATH, then the system directories.
 */
static void
add_needed(struct manifest *m, const char *path, const char *origin,
    const char *name, const char *rpath, const char *runpath, int depth)
{
	char	found[PATH_MAX];
	int	ok = -1;

	if (strchr(name, '/') != NULL) {
		add_path(m, name, depth + 1);
		return;
	}
	if (runpath == NULL)
		ok = try_dirs(rpath, origin, name, found, sizeof(found));
	if (ok == -1)
		ok = try_dirs(getenv("LD_LIBRARY_PATH"), origin, name, found,
		    sizeof(found));
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
	char		 origin[PATH_MAX];
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
	for (int k = 0; k < nneeded; k++)
		add_needed(m, path, origin, needed[k], rpath, runpath, depth);
	elf_end(e);
}

/* A path that cannot be pushed: said now, counted, the run refused. */
static void
push_error(struct manifest *m, const char *path)
{
	warn("push %s", path);
	m->errors++;
}

/*
 * "$ORIGIN/../lib/libx.so" or "./prog": the node takes only clean
 * absolute paths, and the front end's kernel resolves ".." through the
 * real directories, so do that here (the last component stays, a
 * symlink is pushed as one).
 */
static void
add_unclean(struct manifest *m, const char *path, int depth, int from_link)
{
	char	abs[PATH_MAX * 2], dir[PATH_MAX], target[PATH_MAX], *slash;

	/* realpath's view of each directory is not checked later */
	closure_spoil();
	snprintf(abs, sizeof(abs), "%s", path);
	slash = strrchr(abs, '/');
	*slash = '\0';
	if (realpath(abs[0] ? abs : "/", dir) == NULL) {
		if (from_link && errno == ENOENT)
			return;
		push_error(m, path);
		return;
	}
	if ((size_t)snprintf(target, sizeof(target), "%s/%s",
	    strcmp(dir, "/") == 0 ? "" : dir, slash + 1) >= sizeof(target)) {
		warnx("push %s: path too long", path);
		m->errors++;
		return;
	}
	path_clean(target);
	add_path_from(m, target, depth + 1, from_link);
}

/* A symlink goes as a link, and its target follows. */
static void
add_symlink(struct manifest *m, const char *path, int depth)
{
	struct bproc_file	*f;
	char			 target[PATH_MAX], abs[PATH_MAX * 2];
	ssize_t			 n;

	if ((n = readlink(path, target, sizeof(target) - 1)) < 0) {
		push_error(m, path);
		return;
	}
	target[n] = '\0';
	f = manifest_new(m, path);
	if ((f->target = strdup(target)) == NULL)
		err(255, "push");
	f->mode = 0777;
	path_link_target(path, target, abs, sizeof(abs));
	add_path_from(m, abs, depth + 1, 1);
}

static void
add_dir(struct manifest *m, const char *path, int depth)
{
	DIR		*d;
	struct dirent	*de;
	char		 abs[PATH_MAX * 2];

	/* a directory's entries are not checked later */
	closure_spoil();
	if ((d = opendir(path)) == NULL) {
		push_error(m, path);
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
}

/* '#!' scripts bring their interpreter; 1 if fd holds one. */
static int
add_interpreter(struct manifest *m, int fd, int depth)
{
	unsigned char	 head[PATH_MAX];
	char		*p, *end;

	if (pread(fd, head, sizeof(head) - 1, 0) <= 2 || head[0] != '#' ||
	    head[1] != '!' || depth >= PUSH_DEPTH * 8)
		return 0;
	head[sizeof(head) - 1] = '\0';
	p = (char *)head + 2;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strcspn(p, " \t\n");
	*end = '\0';
	/* a script whose interpreter is missing fails on the node, clearly */
	if (*p == '/')
		add_path_from(m, p, depth + 1, 1);
	return 1;
}

/* A regular file, opened as the user: nobody pushes what they cannot read. */
static void
add_file(struct manifest *m, const char *path, struct stat *st, int depth)
{
	struct bproc_file	*f;
	int			 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		push_error(m, path);
		return;
	}
	f = manifest_new(m, path);
	f->mode = st->st_mode & 07777;
	f->uid = st->st_uid;
	f->gid = st->st_gid;
	f->size = (uint64_t)st->st_size;
	if (fstat(fd, st) == -1 || hashcache_file(fd, st, f->hash) == -1) {
		push_error(m, path);
		close(fd);
		return;
	}
	/* ELF files bring their libraries */
	if (!add_interpreter(m, fd, depth))
		add_elf_deps(m, path, fd, depth);
	close(fd);
}

/* Add path: symlinks as links (and their targets), files with their deps. */
static void
add_path_from(struct manifest *m, const char *path, int depth, int from_link)
{
	struct stat	st;

	if (depth > 64 || path[0] != '/')
		return;
	if (!path_is_clean(path)) {
		add_unclean(m, path, depth, from_link);
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
		push_error(m, path);
		return;
	}
	closure_record(path, &st);
	if (S_ISLNK(st.st_mode))
		add_symlink(m, path, depth);
	else if (S_ISDIR(st.st_mode))
		add_dir(m, path, depth);
	else if (S_ISREG(st.st_mode))
		add_file(m, path, &st, depth);
	else
		closure_spoil();
}

int
manifest_resolve(const char *cmd, char *out, size_t len)
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
manifest_add(struct manifest *m, const char *path)
{
	add_path(m, path, 0);
}

/*
 * The command: from the closure cache when nothing changed since its last
 * walk, else walked (and cached).  After --push files it is walked only.
 */
void
manifest_command(struct manifest *m, const char *path)
{
	if (m->n == 0) {
		if (closure_load(path, m) == 0)
			return;
		closure_begin();
	}
	add_path(m, path, 0);
	closure_end(path, m);
}
