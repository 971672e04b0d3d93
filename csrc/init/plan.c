#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "init.h"

/* Wire format: "PYRP1\n", then records: u32 op, u32 nargs, nargs x (u32 len, bytes).
 * Host byte order: writer and reader are the same machine. */

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int read_plan(int fd, struct plan *p)
{
	char magic[6];
	int cap = 64;
	if (read_full(fd, magic, 6) || memcmp(magic, "PYRP1\n", 6))
		return -1;
	p->recs = calloc(cap, sizeof(struct rec));
	p->n = 0;
	for (;;) {
		uint32_t hdr[2];
		if (read_full(fd, hdr, sizeof(hdr)))
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
			uint32_t len;
			if (read_full(fd, &len, 4))
				return -1;
			r->arg[i] = malloc(len + 1);
			if (!r->arg[i] || (len && read_full(fd, r->arg[i], len)))
				return -1;
			r->arg[i][len] = 0;
			r->len[i] = len;
		}
	}
}
