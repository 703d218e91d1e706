/*
 * t90's MPI program, built with each stack's mpicc: every rank says where
 * it runs, then checks an Allreduce, a ring of Sendrecv and a 1 MiB Bcast
 * against what the values must be.  Rank 0 prints one line per check and
 * "t90: ok <size>" last; any wrong value prints "t90: FAIL ..." and ends
 * the job with MPI_Abort, so a test sees the failure in the exit status
 * as well as in the output.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BCAST_BYTES	(1024 * 1024)	/* the Bcast's size: 1 MiB */

static void
fail(int rank, const char *what, long got, long want)
{
	printf("t90: FAIL rank %d: %s: got %ld, want %ld\n", rank, what, got,
	    want);
	fflush(stdout);
	MPI_Abort(MPI_COMM_WORLD, 3);
}

int
main(int argc, char **argv)
{
	char		 host[256];
	unsigned char	*buf;
	long		 sum, want, i;
	int		 rank, size, left, right, got, bad, allbad;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (gethostname(host, sizeof(host)) == -1)
		strcpy(host, "?");
	host[sizeof(host) - 1] = '\0';
	printf("t90: hello from rank %d of %d on %s\n", rank, size, host);
	fflush(stdout);

	/* Allreduce: the sum of rank + 1 over all ranks */
	want = (long)size * (size + 1) / 2;
	i = rank + 1;
	MPI_Allreduce(&i, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
	if (sum != want)
		fail(rank, "allreduce", sum, want);

	/* a ring: each rank gets its left neighbour's rank */
	right = (rank + 1) % size;
	left = (rank + size - 1) % size;
	MPI_Sendrecv(&rank, 1, MPI_INT, right, 7, &got, 1, MPI_INT, left, 7,
	    MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	if (got != left)
		fail(rank, "ring sendrecv", got, left);

	/* 1 MiB from rank 0, a pattern every byte of which is checked */
	if ((buf = malloc(BCAST_BYTES)) == NULL)
		fail(rank, "malloc", 0, BCAST_BYTES);
	for (i = 0; i < BCAST_BYTES; i++)
		buf[i] = rank == 0 ? (unsigned char)(i * 131 + 7) : 0;
	MPI_Bcast(buf, BCAST_BYTES, MPI_BYTE, 0, MPI_COMM_WORLD);
	for (i = 0, bad = 0; i < BCAST_BYTES; i++)
		if (buf[i] != (unsigned char)(i * 131 + 7))
			bad++;
	free(buf);
	MPI_Allreduce(&bad, &allbad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	if (allbad != 0)
		fail(rank, "bcast bytes wrong", allbad, 0);

	if (rank == 0) {
		printf("t90: allreduce %ld\n", sum);
		printf("t90: ring ok\n");
		printf("t90: bcast %d bytes ok\n", BCAST_BYTES);
		printf("t90: ok %d\n", size);
		fflush(stdout);
	}
	MPI_Finalize();
	return 0;
}
