/* pyrunc-init: the small static C program that becomes a container's init.
 *
 * Python builds a complete plan (see ops.h) before anything is cloned and
 * hands it over on a file descriptor.  This program runs the plan: the
 * launcher part (cgroup join, setns, clone), then, in the cloned child,
 * everything up to execve.  No Python runs in the child, and the child's
 * memory is this program's only. */
#ifndef PYRUNC_INIT_H
#define PYRUNC_INIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "ops.h"

#define MAX_ARGS 16

struct rec {
	int op;
	int nargs;
	char *arg[MAX_ARGS];   /* NUL-terminated copies */
	size_t len[MAX_ARGS];  /* byte lengths (args may hold NULs) */
};

struct plan {
	struct rec *recs;
	int n;
};

/* util.c */
extern int sync_fd;            /* SOCK_SEQPACKET to the pyrunc process, -1 once closed */
extern const char *cur_step;   /* the step being run, for error reports */
extern int gate_fd;            /* exec fifo opened for writing, -1 unless `start` waits on it */
void fail(int err, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
void send_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
ssize_t recv_msg(char *buf, size_t size);
long long num(const char *s);
unsigned long long hexnum(const char *s);
int split0(char *buf, size_t len, char **out, int max);
int write_file_at(int dirfd, const char *path, const char *data, size_t len);
extern int trace_fd;           /* OP_TRACE: -1 unless pyrunc runs with --debug */
extern int cur_index;          /* the plan record being run, reported with an error */
void trace_op(int index, int op);

/* plan.c */
int read_plan(int fd, struct plan *p);

/* mount.c */
extern int rootfd;             /* O_PATH fd of the bound rootfs (before pivot) */
extern int hostproc;           /* O_PATH fd of the host's /proc, verified procfs */
void open_host_proc(void);
void op_root_propagation(unsigned long flags);
void op_rootfs(const char *path, int host_ns);
void op_mount(struct rec *r);
void op_mknod(struct rec *r);
void op_symlink(const char *target, const char *dest, int replace);
void op_pivot(int mode);
void op_readonly_path(const char *path);
void op_mask_path(const char *path);
void op_root_readonly(void);
void op_mounts_ro(void);
void mount_preopen(const struct rec *r);

/* proc.c */
void op_sysctl(const char *key, const char *value);
void op_oom_score_adj(const char *value);
void op_lsm_exec(struct rec *r);
void op_console(int sock, int rows, int cols, int bind_console);
void op_seccomp(const char *bpf, size_t len, unsigned flags, int notify);
void op_caps(struct rec *r);
void op_capbset(unsigned long long keep);
void op_hook(struct rec *r, const char *state, size_t state_len);
void op_find_exec(const char *arg0, const char *path);
void op_exec(struct rec *r);
void op_scheduler(struct rec *r);
void op_cpu_affinity(const char *hex);
void op_mempolicy(struct rec *r);
void op_keyring(const char *name);
void op_loopback_up(void);
void op_fix_stdio(uid_t uid);
void op_home(uid_t uid);
void op_mkcwd(const char *path, mode_t mode);

#endif
