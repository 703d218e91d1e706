/*
 * Intrusive lists, in the manner of BSD <sys/queue.h> (which musl lacks),
 * written here.  Two kinds:
 *
 *	DLIST	doubly linked, head holds the first element only: O(1)
 *		insert at the head and removal of any element.
 *	TQ	tail queue: the same links, and the head also knows where the
 *		last element's next pointer is, so appends are O(1) and the
 *		queue keeps arrival order.
 *
 * An element holds its links in a field declared with DLIST_LINK(type) or
 * TQ_LINK(type) and named in every call; one element can sit on several
 * lists through several such fields.  Each element's prevp points at the
 * pointer that points at it (the head's first, or the previous element's
 * next), which is what makes removal need no walk and no special case.
 *
 * The _SAFE loops take a second variable that holds the next element, so
 * the body may remove (and free) the current one.
 */
#ifndef BPROC_LIST_H
#define BPROC_LIST_H

#include <stddef.h>

#define DLIST_HEAD(name, type)						\
struct name {								\
	struct type	*first;						\
}

#define DLIST_LINK(type)						\
struct {								\
	struct type	*next;						\
	struct type	**prevp;					\
}

#define DLIST_INIT(head)	((head)->first = NULL)
#define DLIST_EMPTY(head)	((head)->first == NULL)
#define DLIST_FIRST(head)	((head)->first)
#define DLIST_NEXT(elm, field)	((elm)->field.next)

#define DLIST_INSERT_HEAD(head, elm, field) do {			\
	if (((elm)->field.next = (head)->first) != NULL)		\
		(head)->first->field.prevp = &(elm)->field.next;	\
	(head)->first = (elm);						\
	(elm)->field.prevp = &(head)->first;				\
} while (0)

#define DLIST_REMOVE(elm, field) do {					\
	if ((elm)->field.next != NULL)					\
		(elm)->field.next->field.prevp = (elm)->field.prevp;	\
	*(elm)->field.prevp = (elm)->field.next;			\
	(elm)->field.next = NULL;					\
	(elm)->field.prevp = NULL;					\
} while (0)

#define DLIST_FOREACH(var, head, field)					\
	for ((var) = (head)->first; (var) != NULL;			\
	    (var) = (var)->field.next)

#define DLIST_FOREACH_SAFE(var, head, field, nxt)			\
	for ((var) = (head)->first;					\
	    (var) != NULL && ((nxt) = (var)->field.next, 1);		\
	    (var) = (nxt))

#define TQ_HEAD(name, type)						\
struct name {								\
	struct type	*first;						\
	struct type	**lastp;	/* the last element's next */	\
}

#define TQ_LINK(type)	DLIST_LINK(type)

#define TQ_INIT(head) do {						\
	(head)->first = NULL;						\
	(head)->lastp = &(head)->first;					\
} while (0)

#define TQ_EMPTY(head)		((head)->first == NULL)
#define TQ_FIRST(head)		((head)->first)
#define TQ_NEXT(elm, field)	((elm)->field.next)

#define TQ_INSERT_TAIL(head, elm, field) do {				\
	(elm)->field.next = NULL;					\
	(elm)->field.prevp = (head)->lastp;				\
	*(head)->lastp = (elm);						\
	(head)->lastp = &(elm)->field.next;				\
} while (0)

#define TQ_INSERT_HEAD(head, elm, field) do {				\
	if (((elm)->field.next = (head)->first) != NULL)		\
		(head)->first->field.prevp = &(elm)->field.next;	\
	else								\
		(head)->lastp = &(elm)->field.next;			\
	(head)->first = (elm);						\
	(elm)->field.prevp = &(head)->first;				\
} while (0)

/* Before listelm, which is on the queue already. */
#define TQ_INSERT_BEFORE(listelm, elm, field) do {			\
	(elm)->field.prevp = (listelm)->field.prevp;			\
	(elm)->field.next = (listelm);					\
	*(listelm)->field.prevp = (elm);				\
	(listelm)->field.prevp = &(elm)->field.next;			\
} while (0)

#define TQ_REMOVE(head, elm, field) do {				\
	if ((elm)->field.next != NULL)					\
		(elm)->field.next->field.prevp = (elm)->field.prevp;	\
	else								\
		(head)->lastp = (elm)->field.prevp;			\
	*(elm)->field.prevp = (elm)->field.next;			\
	(elm)->field.next = NULL;					\
	(elm)->field.prevp = NULL;					\
} while (0)

#define TQ_FOREACH(var, head, field)	DLIST_FOREACH(var, head, field)
#define TQ_FOREACH_SAFE(var, head, field, nxt)				\
	DLIST_FOREACH_SAFE(var, head, field, nxt)

#endif
