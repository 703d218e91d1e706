/*
 * fuzz_replay: run saved inputs through a fuzz target without libFuzzer,
 * so the seed corpus (and any crash a fuzzing run found) is checked by the
 * normal test suite with gcc's sanitizers.  One replayer is built per
 * target (out/tests/fuzz_replay_<target>; fuzz_replay is fuzz_frame's).
 *
 *	fuzz_replay [-v] DIR|FILE...
 *
 * A file named good-* must be accepted by the target and one named bad-*
 * refused (fuzz.h: fuzz_verdict); any other name must only not crash.
 * -v prints each file's verdict.
 *
 * Exit status: 0 every input ran and every good-/bad- verdict held; 1 a
 * verdict did not hold, an input could not be read or no input was found;
 * a sanitizer report aborts with its own status.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT	(8u << 20)	/* larger files are not inputs */

static int	verbose;
static int	nwrong;		/* good-/bad- files whose verdict did not hold */

static int
replay_file(const char *path)
{
	unsigned char	*buf;
	struct stat	 st;
	const char	*base;
	FILE		*f;
	size_t		 n;
	int		 verdict, want;

	if ((f = fopen(path, "rb")) == NULL) {
		warn("%s", path);
		return -1;
	}
	if (fstat(fileno(f), &st) == -1 || st.st_size < 0 ||
	    (size_t)st.st_size > REPLAY_MAX_INPUT) {
		warnx("%s: not a usable input", path);
		fclose(f);
		return -1;
	}
	/*
	 * Exactly the input's size, so ASan sees a read one byte past the
	 * end, as libFuzzer's copy would; malloc(0) may return NULL.
	 */
	if ((buf = malloc(st.st_size ? (size_t)st.st_size : 1)) == NULL)
		err(1, "malloc");
	n = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	if (n != (size_t)st.st_size) {
		warnx("%s: short read", path);
		free(buf);
		return -1;
	}
	verdict = fuzz_verdict(buf, n);
	free(buf);
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	want = strncmp(base, "good-", 5) == 0 ? 1 :
	    strncmp(base, "bad-", 4) == 0 ? 0 : -1;
	if (want != -1 && verdict != want) {
		printf("WRONG %s: %s, should be %s\n", path,
		    verdict ? "accepted" : "refused",
		    want ? "accepted" : "refused");
		nwrong++;
	} else if (verbose)
		printf("%s %s\n", verdict ? "accepted" : "refused ", path);
	return 0;
}

static int
name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
replay_dir(const char *dir, int *count)
{
	struct dirent	**ents;
	char		  path[4096];
	int		  n, i, bad = 0;

	if ((n = scandir(dir, &ents, NULL, name_cmp)) == -1) {
		warn("%s", dir);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
			if (replay_file(path) == -1)
				bad = 1;
			else
				(*count)++;
		}
		free(ents[i]);
	}
	free(ents);
	return bad ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct stat	st;
	int		i, count = 0, bad = 0;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
		argc--;
		argv++;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: fuzz_replay [-v] DIR|FILE...\n");
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			warn("%s", argv[i]);
			bad = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) == -1)
				bad = 1;
		} else if (replay_file(argv[i]) == -1)
			bad = 1;
		else
			count++;
	}
	printf("fuzz_replay: %d inputs replayed%s, %d good-/bad- verdicts "
	    "wrong\n", count, bad ? ", some could not be read" : "", nwrong);
	return bad || nwrong || count == 0 ? 1 : 0;
}
