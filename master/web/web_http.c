/*
 * bpweb's HTTP side, on libmicrohttpd with a thread per connection (at
 * most WEB_CONN_MAX): the embedded page, the JSON API, the event stream
 * and /metrics.  Every answer is made from the current snapshot under
 * web_lock; nothing here talks to the master.
 *
 *   GET /                 the status page (index.html, bpweb.js, bpweb.css)
 *   GET /api/status       the cluster as JSON (web_json.c)
 *   GET /api/node/N       node N and its processes
 *   GET /api/events       server-sent events: the status at every change
 *   GET /metrics          Prometheus text format (web_metrics.c)
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "bpweb.h"
#include "log.h"
#include "bpweb_page.h"		/* page_index_html, page_bpweb_js, page_bpweb_css */

static struct MHD_Daemon	*httpd;
static int			 stopping;	/* under web_lock */

static const char csp[] = "default-src 'none'; script-src 'self'; "
    "style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned int status, const char *type,
    struct MHD_Response *r)
{
	enum MHD_Result	ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (strncmp(type, "text/html", 9) == 0)
		MHD_add_response_header(r, "Content-Security-Policy", csp);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A static text: the page's files, error bodies. */
static enum MHD_Result
reply_static(struct MHD_Connection *conn, unsigned int status,
    const char *type, const char *text)
{
	return reply(conn, status, type, MHD_create_response_from_buffer(
	    strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT));
}

/* A rendered buffer, given to libmicrohttpd (it frees it). */
static enum MHD_Result
reply_buf(struct MHD_Connection *conn, const char *type, struct buf *b)
{
	struct MHD_Response	*r;

	if (b->oom || b->p == NULL) {
		buf_free(b);
		return reply_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "text/plain", "out of memory\n");
	}
	r = MHD_create_response_from_buffer(b->len, b->p, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		buf_free(b);
	return reply(conn, MHD_HTTP_OK, type, r);
}

static enum MHD_Result
api_status(struct MHD_Connection *conn)
{
	struct buf	 b = { 0 };
	const char	*j;
	size_t		 len;

	pthread_mutex_lock(&web_lock);
	if ((j = snap_status_json(&len)) != NULL)
		buf_add(&b, j, len);
	else
		b.oom = 1;
	pthread_mutex_unlock(&web_lock);
	return reply_buf(conn, "application/json", &b);
}

static enum MHD_Result
api_node(struct MHD_Connection *conn, const char *arg)
{
	struct buf	 b = { 0 };
	char		*end;
	long		 n;
	int		 r;

	errno = 0;
	n = strtol(arg, &end, 10);
	if (errno || end == arg || *end != '\0' || n < 0 || n > 1 << 20)
		return reply_static(conn, MHD_HTTP_NOT_FOUND, "text/plain",
		    "no such node\n");
	pthread_mutex_lock(&web_lock);
	r = json_node(&b, web_cur, (int)n);
	pthread_mutex_unlock(&web_lock);
	if (r == -1) {
		buf_free(&b);
		return reply_static(conn, MHD_HTTP_NOT_FOUND, "text/plain",
		    "no such node\n");
	}
	return reply_buf(conn, "application/json", &b);
}

static enum MHD_Result
metrics(struct MHD_Connection *conn)
{
	struct buf	b = { 0 };

	pthread_mutex_lock(&web_lock);
	metrics_render(&b, web_cur);
	pthread_mutex_unlock(&web_lock);
	return reply_buf(conn, "text/plain; version=0.0.4; charset=utf-8", &b);
}

/* One event stream: what it sent last, and the event being written. */
struct sse {
	uint64_t	gen;
	struct buf	out;
	size_t		off;
};

/* The status as one event: every JSON line a "data:" line. */
static void
sse_event(struct sse *e, const char *j, size_t len, uint64_t gen)
{
	const char	*p = j, *nl, *end = j + len;

	e->out.len = e->off = 0;
	buf_printf(&e->out, "event: status\nid: %llu\n",
	    (unsigned long long)gen);
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		buf_puts(&e->out, "data: ");
		buf_add(&e->out, p, (size_t)(nl - p));
		buf_puts(&e->out, "\n");
		p = nl + 1;
	}
	buf_puts(&e->out, "\n");
}

/*
 * libmicrohttpd asks for more of the stream: the rest of the event being
 * written, else wait (this connection's own thread) for a new snapshot,
 * or send a comment now and then so proxies and the browser keep it open.
 */
static ssize_t
sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse	*e = cls;
	struct timespec	 until;
	const char	*j;
	size_t		 n, len;
	int		 r = 0;

	(void)pos;
	if (e->off == e->out.len) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += WEB_SSE_KEEPALIVE_MS / 1000;
		pthread_mutex_lock(&web_lock);
		while (!stopping && web_cur->gen == e->gen && r == 0)
			r = pthread_cond_timedwait(&web_changed, &web_lock,
			    &until);
		if (stopping) {
			pthread_mutex_unlock(&web_lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (web_cur->gen != e->gen &&
		    (j = snap_status_json(&len)) != NULL) {
			e->gen = web_cur->gen;
			sse_event(e, j, len, e->gen);
		} else {
			e->out.len = e->off = 0;
			buf_puts(&e->out, ": keepalive\n\n");
		}
		pthread_mutex_unlock(&web_lock);
		if (e->out.oom)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = e->out.len - e->off;
	if (n > max)
		n = max;
	memcpy(out, e->out.p + e->off, n);
	e->off += n;
	return (ssize_t)n;
}

static void
sse_free(void *cls)
{
	struct sse	*e = cls;

	buf_free(&e->out);
	free(e);
}

static enum MHD_Result
api_events(struct MHD_Connection *conn)
{
	struct MHD_Response	*r;
	struct sse		*e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return MHD_NO;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
	    sse_read, e, sse_free);
	if (r == NULL) {
		free(e);
		return MHD_NO;
	}
	return reply(conn, MHD_HTTP_OK, "text/event-stream", r);
}

static enum MHD_Result
http_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct MHD_Response	*r;

	(void)cls;
	(void)version;
	(void)upload;
	(void)con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		r = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
		if (r != NULL)
			MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
			    "GET, HEAD");
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", r);
	}
	if (*upload_size != 0)
		return MHD_NO;
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
		return reply_static(conn, MHD_HTTP_OK, "text/html; charset=utf-8",
		    page_index_html);
	if (strcmp(url, "/bpweb.js") == 0)
		return reply_static(conn, MHD_HTTP_OK,
		    "text/javascript; charset=utf-8", page_bpweb_js);
	if (strcmp(url, "/bpweb.css") == 0)
		return reply_static(conn, MHD_HTTP_OK, "text/css; charset=utf-8",
		    page_bpweb_css);
	if (strcmp(url, "/metrics") == 0)
		return metrics(conn);
	if (strcmp(url, "/api/status") == 0)
		return api_status(conn);
	if (strcmp(url, "/api/events") == 0)
		return api_events(conn);
	if (strncmp(url, "/api/node/", 10) == 0)
		return api_node(conn, url + 10);
	return reply_static(conn, MHD_HTTP_NOT_FOUND, "text/plain",
	    "not found\n");
}

/* libmicrohttpd's complaints, from any of its threads: one at a time. */
static void
http_log(void *cls, const char *fmt, va_list ap)
{
	static pthread_mutex_t	 log_lock = PTHREAD_MUTEX_INITIALIZER;
	char			 msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	pthread_mutex_lock(&log_lock);
	log_warnx_rl("http: %s", msg);
	pthread_mutex_unlock(&log_lock);
}

/* Serve on the listening socket fd (bound, listening, unprivileged by now). */
int
http_start(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);
	unsigned int		flags = MHD_USE_THREAD_PER_CONNECTION |
				    MHD_USE_INTERNAL_POLLING_THREAD |
				    MHD_USE_ERROR_LOG;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	httpd = MHD_start_daemon(flags, 0, NULL, NULL, http_request, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)WEB_CONN_MAX,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)WEB_CONN_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)WEB_CONN_TIMEOUT_S,
	    MHD_OPTION_END);
	return httpd != NULL ? 0 : -1;
}

void
http_stop(void)
{
	pthread_mutex_lock(&web_lock);
	stopping = 1;
	pthread_cond_broadcast(&web_changed);
	pthread_mutex_unlock(&web_lock);
	if (httpd != NULL)
		MHD_stop_daemon(httpd);
	httpd = NULL;
}
