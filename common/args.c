/*
 * Argument and environment strings in pieces (args.h): the sender splits
 * what does not fit one attribute, every receiver checks the pieces and
 * the limits before it trusts a length, and the node joins them.
 */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "proto.h"

int
args_put(struct wire_msg *m, uint16_t type, const char *s)
{
	size_t	len = strlen(s);

	/* the last piece goes with the NUL in the string attribute itself */
	while (len + 1 > ARGS_PART_MAX) {
		if (wire_put(m, A_ARG_PART, s, ARGS_PART_MAX) == -1)
			return -1;
		s += ARGS_PART_MAX;
		len -= ARGS_PART_MAX;
	}
	return wire_put_str(m, type, s);
}

int
args_scan(const void *body, size_t blen, struct args_sum *s, char *why,
    size_t why_len)
{
	struct wire_iter	it;
	struct wire_attr	a;
	size_t			pend = 0, len;
	int			r;

	memset(s, 0, sizeof(*s));
	wire_iter_init(&it, body, blen);
	while ((r = wire_iter_next(&it, &a)) == 1) {
		if (a.type == A_ARG_PART) {
			if (memchr(a.data, '\0', a.len) != NULL) {
				snprintf(why, why_len, "a NUL inside an "
				    "argument's piece");
				return -1;
			}
			pend += a.len;
			if (pend >= ARGS_STRLEN_MAX)
				goto toolong;
			continue;
		}
		if (a.type != A_ARG && a.type != A_ENV) {
			if (pend > 0) {
				snprintf(why, why_len, "an argument's piece "
				    "without its end");
				return -1;
			}
			continue;
		}
		if (!proto_attr_ok(&a)) {
			snprintf(why, why_len, "a bad argument attribute");
			return -1;
		}
		len = pend + a.len;	/* a.len counts the NUL */
		if (len > ARGS_STRLEN_MAX)
			goto toolong;
		if (pend > 0)
			s->joined += len;
		if (len > s->longest)
			s->longest = len;
		s->total += len + ARGS_PTR;
		if (a.type == A_ARG)
			s->nargs++;
		else
			s->nenv++;
		pend = 0;
		if (s->total > ARGS_TOTAL_MAX) {
			snprintf(why, why_len, "argument list too long: more "
			    "than %d bytes of arguments and environment "
			    "(Linux's limit)", ARGS_TOTAL_MAX);
			return -1;
		}
	}
	if (r == -1 || pend > 0) {
		snprintf(why, why_len, r == -1 ? "a malformed attribute" :
		    "an argument's piece without its end");
		return -1;
	}
	return 0;
toolong:
	snprintf(why, why_len, "argument too long: a string of more than %d "
	    "bytes (Linux's MAX_ARG_STRLEN)", ARGS_STRLEN_MAX - 1);
	return -1;
}

void
args_fill(const void *body, size_t blen, char **argv, char **envp, char *buf)
{
	struct wire_iter	 it;
	struct wire_attr	 a;
	char			*start = NULL, *p = buf;
	size_t			 na = 0, ne = 0;

	wire_iter_init(&it, body, blen);
	while (wire_iter_next(&it, &a) == 1) {
		if (a.type == A_ARG_PART) {
			if (start == NULL)
				start = p;
			memcpy(p, a.data, a.len);
			p += a.len;
			continue;
		}
		if (a.type != A_ARG && a.type != A_ENV)
			continue;
		if (start != NULL) {
			memcpy(p, a.data, a.len);	/* with its NUL */
			p += a.len;
		} else
			start = (char *)(uintptr_t)a.data;
		if (a.type == A_ARG)
			argv[na++] = start;
		else
			envp[ne++] = start;
		start = NULL;
	}
}
