#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "init.h"

int sync_fd = -1;
int gate_fd = -1;
const char *cur_step = "start";

/* Report the first failure as "error\t<step>\t<errno>\t<detail>" and die.
 * The pyrunc process turns it into one error line and tears down. */
void fail(int err, const char *fmt, ...)
{
	char detail[1024], msg[1400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	/* the plan index last: pyrunc names the config field it came from */
	int n = snprintf(msg, sizeof(msg), "error\t%s\t%d\t%s\t%d", cur_step, err, detail, cur_index);
	if (sync_fd >= 0)
		send(sync_fd, msg, n, MSG_NOSIGNAL);
	else if (gate_fd >= 0 && write(gate_fd, "E", 1) == 1 && write(gate_fd, msg, n) == n)
		; /* `start` reports it (a failing startContainer hook) */
	else
		dprintf(2, "pyrunc-init: %s %s: %s\n", cur_step, detail, strerror(err));
	_exit(1);
}

void send_msg(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sync_fd >= 0 && send(sync_fd, msg, n, MSG_NOSIGNAL) < 0)
		_exit(1); /* pyrunc went away: nothing to report to */
}

ssize_t recv_msg(char *buf, size_t size)
{
	ssize_t n;
	do
		n = recv(sync_fd, buf, size - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		_exit(1); /* pyrunc died or gave up on us */
	buf[n] = 0;
	return n;
}

long long num(const char *s)
{
	return strtoll(s, NULL, 10);
}

unsigned long long hexnum(const char *s)
{
	return strtoull(s, NULL, 16);
}

/* Split a buffer of NUL-separated strings. */
int split0(char *buf, size_t len, char **out, int max)
{
	int n = 0;
	size_t i = 0;
	while (i < len && n < max - 1) {
		out[n++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	out[n] = NULL;
	return n;
}

int write_file_at(int dirfd, const char *path, const char *data, size_t len)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, data, len);
	int saved = errno;
	close(fd);
	errno = saved;
	return w == (ssize_t)len ? 0 : -1;
}

/* --debug: one line per plan record as it starts, "index op ns", to a file
 * of the state dir; pyrunc turns them into a timeline.  CLOCK_REALTIME,
 * because a time namespace shifts CLOCK_MONOTONIC for the cloned init. */
int trace_fd = -1;
int cur_index = -1;

void trace_op(int index, int op)
{
	struct timespec ts;
	if (trace_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	dprintf(trace_fd, "%d %d %lld\n", index, op, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}
