/*
 * bpstat's table layout: cells filled row by row, each column as wide as
 * its widest cell (or its minimum), two spaces between columns.
 */
#include <err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpstat_int.h"

void
table_init(struct table *t, size_t ncols, const char *const *head,
    const int *minw)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->head = head;
	t->minw = minw;
}

/* Append one cell; rows fill left to right, ncols cells each. */
void
table_cell(struct table *t, const char *fmt, ...)
{
	va_list	  ap;
	char	**nc;
	char	 *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		err(1, NULL);
	va_end(ap);
	if (t->ncells == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		if ((nc = reallocarray(t->cells, t->cap, sizeof(*nc))) == NULL)
			err(1, NULL);
		t->cells = nc;
	}
	t->cells[t->ncells++] = s;
}

/* Two spaces between columns; the last column is not padded. */
void
table_print(FILE *f, const struct table *t)
{
	size_t	w[TABLE_COLS_MAX], c, i, len;

	for (c = 0; c < t->ncols; c++) {
		w[c] = strlen(t->head[c]);
		if (t->minw != NULL && w[c] < (size_t)t->minw[c])
			w[c] = (size_t)t->minw[c];
	}
	for (i = 0; i < t->ncells; i++)
		if ((len = strlen(t->cells[i])) > w[i % t->ncols])
			w[i % t->ncols] = len;
	for (c = 0; c < t->ncols; c++)
		if (c + 1 < t->ncols)
			fprintf(f, "%-*s  ", (int)w[c], t->head[c]);
		else
			fprintf(f, "%s\n", t->head[c]);
	for (i = 0; i < t->ncells; i++)
		if ((i + 1) % t->ncols != 0)
			fprintf(f, "%-*s  ", (int)w[i % t->ncols], t->cells[i]);
		else
			fprintf(f, "%s\n", t->cells[i]);
}

void
table_free(struct table *t)
{
	size_t	i;

	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
