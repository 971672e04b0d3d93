#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "init.h"

/* Wire format: "PYRP1\n", then records: u32 op, u32 nargs, nargs x (u32 len, bytes).
 * Host byte order: writer and reader are the same machine. */

/* The whole plan is read in one go (it sits in a memfd) and parsed in memory. */
static char *read_all(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		if (!buf)
			return NULL;
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return NULL;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

struct cursor {
	const char *p, *end;
};

static int take(struct cursor *c, void *out, size_t len)
{
	if ((size_t)(c->end - c->p) < len)
		return -1;
	memcpy(out, c->p, len);
	c->p += len;
	return 0;
}

int read_plan(int fd, struct plan *p)
{
	size_t len;
	char *buf = read_all(fd, &len);
	struct cursor c;
	int cap = 64;
	if (!buf || len < 6 || memcmp(buf, "PYRP1\n", 6))
		return -1;
	c.p = buf + 6;
	c.end = buf + len;
	p->recs = calloc(cap, sizeof(struct rec));
	p->n = 0;
	for (;;) {
		uint32_t hdr[2];
		if (take(&c, hdr, sizeof(hdr)))
			return -1;
		if (hdr[0] == OP_END)
			return 0;
		if (hdr[1] > MAX_ARGS)
			return -1;
		if (p->n == cap) {
			cap *= 2;
			p->recs = realloc(p->recs, cap * sizeof(struct rec));
		}
		struct rec *r = &p->recs[p->n++];
		memset(r, 0, sizeof(*r));
		r->op = hdr[0];
		r->nargs = hdr[1];
		for (int i = 0; i < r->nargs; i++) {
			uint32_t alen;
			if (take(&c, &alen, 4) || (size_t)(c.end - c.p) < alen)
				return -1;
			r->arg[i] = malloc(alen + 1);
			if (!r->arg[i])
				return -1;
			memcpy(r->arg[i], c.p, alen);
			c.p += alen;
			r->arg[i][alen] = 0;
			r->len[i] = alen;
		}
	}
}
