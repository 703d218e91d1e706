/*
 * t45's threaded program: 64 threads that keep being replaced (each one
 * ends after a short while and starts its successor, so thread clones
 * keep coming while other processes fork on the node), for the seconds
 * given, then exit 42.  Threads get no ghost; the process has one.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS	64

static time_t	end;

static void *
worker(void *arg)
{
	pthread_t	t;

	(void)arg;
	usleep(20000 + (unsigned)(rand() % 20000));
	if (time(NULL) < end && pthread_create(&t, NULL, worker, NULL) == 0)
		pthread_detach(t);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t	t;
	int		i;

	end = time(NULL) + (argc > 1 ? atoi(argv[1]) : 5);
	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&t, NULL, worker, NULL) == 0)
			pthread_detach(t);
	while (time(NULL) < end + 1)
		usleep(100000);
	return 42;
}
