/* Process attributes: procfs writes through the verified host /proc fd,
 * the console, capabilities, seccomp, hooks and the final execve. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include "init.h"

#include "kernel.h"

static char exec_path[PATH_MAX];
static char home_env[PATH_MAX + 8]; /* "HOME=..." set by op_home, appended by op_exec */
static dev_t console_rdev; /* the pty op_console made (op_fix_stdio hands it over), 0: none */

/* Write a procfs file through the host /proc fd opened and checked before
 * any container mount existed: the container cannot redirect it. */
static void proc_write(const char *rel, const char *value, const char *what)
{
	struct open_how how = {
		.flags = O_WRONLY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	int fd = syscall(SYS_openat2, hostproc, rel, &how, sizeof(how));
	if (fd < 0)
		fail(errno, "%s: opening /proc/%s", what, rel);
	size_t len = strlen(value);
	if (write(fd, value, len) != (ssize_t)len)
		fail(errno, "%s: writing \"%s\" to /proc/%s", what, value, rel);
	close(fd);
}

void op_sysctl(const char *key, const char *value)
{
	char rel[PATH_MAX];
	static char step[300];
	snprintf(step, sizeof(step), "sysctl %s", key);
	cur_step = step;
	snprintf(rel, sizeof(rel), "sys/%s", key);
	for (char *p = rel + 4; *p; p++)
		if (*p == '.')
			*p = '/';
	proc_write(rel, value, "linux.sysctl");
}

/* The procfs to write an attr through: the host's /proc fd before
 * pivot_root; after it (when the host's is closed) the container's /proc,
 * checked to be the root of a procfs (no container process has run yet). */
static int lsm_proc(int *own)
{
	struct statfs sfs;
	struct stat st;
	*own = -1;
	if (hostproc >= 0)
		return hostproc;
	*own = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*own < 0)
		fail(errno, "opening the container's /proc");
	if (fstatfs(*own, &sfs) < 0 || fstat(*own, &st) < 0)
		fail(errno, "checking the container's /proc");
	if (sfs.f_type != PROC_SUPER_MAGIC || st.st_ino != 1)
		fail(EINVAL, "the container's /proc is not the root of a procfs");
	return *own;
}

/* args: candidate attr files relative to /proc (NUL separated, the first
 * that exists is written), value, config field.  An on-exec LSM transition:
 * the label takes effect at execve. */
void op_lsm_exec(struct rec *r)
{
	char *cand[8];
	struct open_how how = {
		.flags = O_WRONLY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	static char step[128];
	snprintf(step, sizeof(step), "%s", r->arg[2]);
	cur_step = step;
	int own;
	int proc = lsm_proc(&own);
	int n = split0(r->arg[0], r->len[0], cand, 8);
	for (int i = 0; i < n && cand[i]; i++) {
		int fd = syscall(SYS_openat2, proc, cand[i], &how, sizeof(how));
		if (fd < 0) {
			if (errno == ENOENT && i + 1 < n && cand[i + 1])
				continue;
			fail(errno, "opening /proc/%s", cand[i]);
		}
		size_t len = strlen(r->arg[1]);
		if (write(fd, r->arg[1], len) != (ssize_t)len)
			fail(errno, "writing \"%s\" to /proc/%s", r->arg[1], cand[i]);
		close(fd);
		if (own >= 0)
			close(own);
		return;
	}
	fail(ENOENT, "no attr file to write \"%s\" to", r->arg[1]);
}

void op_oom_score_adj(const char *value)
{
	cur_step = "oomScoreAdj";
	proc_write("self/oom_score_adj", value, "process.oomScoreAdj");
}

/* Create the pty in the container's devpts, hand its master to the console
 * socket (runc's protocol: SCM_RIGHTS, the pty path as payload) and make the
 * slave our controlling terminal and stdio. */
void op_console(int sock, int rows, int cols, int bind_console)
{
	char name[64];
	int n, unlock = 0;
	cur_step = "console";
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		fail(errno, "opening /dev/ptmx in the container");
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
		fail(errno, "unlocking the pty");
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (slave < 0)
		fail(errno, "opening the pty slave");
	struct stat sst;
	if (fstat(slave, &sst) == 0)
		console_rdev = sst.st_rdev;
	if (rows > 0 || cols > 0) {
		struct winsize ws = { .ws_row = rows, .ws_col = cols };
		ioctl(slave, TIOCSWINSZ, &ws);
	}
	snprintf(name, sizeof(name), "/dev/pts/%d", n);
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = { name, strlen(name) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		fail(errno, "sending the pty master to the console socket");
	close(master);
	close(sock);
	if (bind_console) {
		/* Like runc: the container's /dev/console is its pty.  Bound from
		 * the pty we hold, never by its name: /dev/pts/N is looked up in
		 * the container, where the image may have put a link to a procfs
		 * file (CVE-2025-52565). */
		struct statfs sfs;
		if (fstatfs(slave, &sfs) < 0 || sfs.f_type != DEVPTS_SUPER_MAGIC)
			fail(EINVAL, "the pty %s is not on a devpts", name);
		int fd = open("/dev/console", O_WRONLY | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
		if (fd < 0)
			fail(errno, "creating /dev/console");
		close(fd);
		int target = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
		int mnt = syscall(SYS_open_tree, slave, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		if (target < 0 || mnt < 0)
			fail(errno, "binding %s to /dev/console", name);
		if (syscall(SYS_move_mount, mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			fail(errno, "binding %s to /dev/console", name);
		close(mnt);
		close(target);
	}
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			fail(errno, "dup2 pty");
	if (slave > 2)
		close(slave);
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		fail(errno, "TIOCSCTTY");
}

void op_seccomp(const char *bpf, size_t len, unsigned flags, int notify)
{
	struct sock_fprog prog = { .len = (unsigned short)(len / sizeof(struct sock_filter)), .filter = (struct sock_filter *)bpf };
	cur_step = "seccomp";
	int fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (fd < 0)
		fail(errno, "loading the seccomp filter (flags 0x%x)", flags);
	if (notify) {
		/* The listener fd goes to pyrunc, which forwards it to
		 * linux.seccomp.listenerPath with the container state. */
		char cbuf[CMSG_SPACE(sizeof(int))];
		memset(cbuf, 0, sizeof(cbuf));
		struct iovec iov = { "seccomp", 7 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
		if (sync_fd < 0 || sendmsg(sync_fd, &msg, MSG_NOSIGNAL) < 0)
			fail(errno, "sending the seccomp listener fd");
		char ack[16];
		recv_msg(ack, sizeof(ack));
		close(fd);
	}
}

void op_capbset(unsigned long long keep)
{
	cur_step = "capabilities";
	for (int i = 0; i < 64; i++) {
		if (keep & (1ULL << i))
			continue;
		if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno != EINVAL)
			fail(errno, "dropping capability %d from the bounding set", i);
	}
}

/* args: effective, permitted, inheritable, ambient (hex masks) */
void op_caps(struct rec *r)
{
	unsigned long long eff = hexnum(r->arg[0]), prm = hexnum(r->arg[1]);
	unsigned long long inh = hexnum(r->arg[2]), amb = hexnum(r->arg[3]);
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = {
		{ (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32) },
	};
	cur_step = "capabilities";
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail(errno, "capset(effective=%llx permitted=%llx inheritable=%llx)", eff, prm, inh);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail(errno, "clearing ambient capabilities");
	for (int i = 0; i < 64; i++)
		if ((amb & (1ULL << i)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
			fail(errno, "raising ambient capability %d", i);
}

/* args: kind, path, argv, env, timeout seconds (0 = none), cwd ("" or
 * absent: ours), [1: append op_home's HOME to env].  Runs a hook as a child with the state JSON on its stdin. */
void op_hook(struct rec *r, const char *state, size_t state_len)
{
	char *argv[256], *envp[1024];
	static char step[PATH_MAX + 32];
	int in[2];
	snprintf(step, sizeof(step), "%s hook %s", r->arg[0], r->arg[1]);
	cur_step = step;
	split0(r->arg[2], r->len[2], argv, 256);
	int nenv = split0(r->arg[3], r->len[3], envp, 1023);
	if (r->nargs > 6 && num(r->arg[6]) && *home_env) {
		/* the process env, given HOME from /etc/passwd (op_home) */
		envp[nenv++] = home_env;
		envp[nenv] = NULL;
	}
	if (!argv[0])
		argv[0] = r->arg[1], argv[1] = NULL;
	int timeout = (int)num(r->arg[4]);
	if (pipe2(in, O_CLOEXEC) < 0)
		fail(errno, "pipe");
	/* The whole state fits in the pipe: a hook that never reads its stdin
	 * cannot block us before its timeout starts. */
	if (state_len >= 4096)
		fcntl(in[1], F_SETPIPE_SZ, (int)state_len + 4096);
	pid_t pid = fork();
	if (pid < 0)
		fail(errno, "fork");
	if (pid == 0) {
		setpgid(0, 0); /* killed with everything it started at its timeout */
		dup2(in[0], 0);
		if (r->nargs > 5 && *r->arg[5] && chdir(r->arg[5]) < 0) {
			dprintf(2, "pyrunc: %s: chdir %s: %s\n", step, r->arg[5], strerror(errno));
			_exit(127);
		}
		execve(r->arg[1], argv, envp);
		dprintf(2, "pyrunc: %s: exec: %s\n", step, strerror(errno));
		_exit(127);
	}
	close(in[0]);
	signal(SIGPIPE, SIG_IGN);
	if (state_len && write(in[1], state, state_len) < 0 && errno != EPIPE)
		fail(errno, "writing the state to the hook");
	close(in[1]);
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0 && timeout > 0) {
		struct pollfd pfd = { pidfd, POLLIN, 0 };
		int n;
		do
			n = poll(&pfd, 1, timeout * 1000);
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail(ETIMEDOUT, "did not finish within its timeout of %ds and was killed", timeout);
		}
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			fail(errno, "waitpid");
	if (pidfd >= 0)
		close(pidfd);
	if (WIFEXITED(st) && WEXITSTATUS(st))
		fail(0, "exited with status %d", WEXITSTATUS(st));
	if (WIFSIGNALED(st))
		fail(0, "killed by signal %d", WTERMSIG(st));
}

static int is_exec_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* Resolve args[0] like runc: a name without '/' is searched in the PATH of
 * process.env; a failure here fails `create`, not `start`. */
void op_find_exec(const char *arg0, const char *path)
{
	cur_step = "exec";
	if (strchr(arg0, '/')) {
		if (!is_exec_file(arg0))
			fail(errno ? errno : EACCES, "exec: \"%s\": not an executable file in the container", arg0);
		snprintf(exec_path, sizeof(exec_path), "%s", arg0);
		return;
	}
	char buf[8192];
	snprintf(buf, sizeof(buf), "%s", *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	char *save;
	for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(exec_path, sizeof(exec_path), "%s/%s", *d ? d : ".", arg0);
		if (is_exec_file(exec_path))
			return;
	}
	fail(ENOENT, "exec: \"%s\": executable file not found in $PATH", arg0);
}

/* args: argv, env (NUL separated) */
void op_exec(struct rec *r)
{
	static char *argv[4096], *envp[4096];
	split0(r->arg[0], r->len[0], argv, 4096);
	int n = split0(r->arg[1], r->len[1], envp, 4095);
	if (*home_env) { /* op_home: process.env had no HOME */
		envp[n++] = home_env;
		envp[n] = NULL;
	}
	cur_step = "exec";
	execve(exec_path, argv, envp);
	fail(errno, "exec %s", exec_path);
}

struct pyr_sched_attr {
	uint32_t size, sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	uint32_t util_min, util_max;
};

/* args: policy, nice, priority, flags, runtime, deadline, period */
void op_scheduler(struct rec *r)
{
	struct pyr_sched_attr a = {
		.size = sizeof(a),
		.sched_policy = (uint32_t)num(r->arg[0]),
		.sched_nice = (int32_t)num(r->arg[1]),
		.sched_priority = (uint32_t)num(r->arg[2]),
		.sched_flags = (uint64_t)num(r->arg[3]),
		.sched_runtime = (uint64_t)num(r->arg[4]),
		.sched_deadline = (uint64_t)num(r->arg[5]),
		.sched_period = (uint64_t)num(r->arg[6]),
	};
	cur_step = "scheduler";
	if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
		fail(errno, "sched_setattr(policy %u)", a.sched_policy);
}

/* arg: comma separated cpu numbers */
void op_cpu_affinity(const char *list)
{
	cpu_set_t set;
	char buf[4096];
	CPU_ZERO(&set);
	cur_step = "execCPUAffinity";
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","))
		CPU_SET(atoi(t), &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fail(errno, "sched_setaffinity(%s)", list);
}

/* args: mode, flags, comma separated nodes */
void op_mempolicy(struct rec *r)
{
	unsigned long mask[16] = { 0 };
	char buf[1024];
	cur_step = "memoryPolicy";
	snprintf(buf, sizeof(buf), "%s", r->arg[2]);
	for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
		int n = atoi(t);
		if (n >= 0 && n < 1024)
			mask[n / (8 * sizeof(long))] |= 1UL << (n % (8 * sizeof(long)));
	}
	int mode = (int)num(r->arg[0]) | (int)num(r->arg[1]);
	if (syscall(SYS_set_mempolicy, mode, *r->arg[2] ? mask : NULL, *r->arg[2] ? 1024 : 0) < 0)
		fail(errno, "set_mempolicy(mode 0x%x, nodes \"%s\")", mode, r->arg[2]);
}

/* A fresh session keyring per container, so containers do not share keys. */
void op_keyring(const char *name)
{
	cur_step = "session keyring";
	long id = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name);
	if (id < 0) {
		if (errno == ENOSYS)
			return;
		fail(errno, "joining a new session keyring %s", name);
	}
	/* possessor: all; user: view|read|search (like runc) */
	if (syscall(SYS_keyctl, 5 /* KEYCTL_SETPERM */, id, 0x3f1b0000) < 0)
		fail(errno, "setting the session keyring's permissions");
}

/* ---- runc's process-side setup: loopback, stdio owner, HOME, cwd ---- */

#ifndef PIPEFS_MAGIC
#define PIPEFS_MAGIC 0x50495045
#endif
#ifndef SOCKFS_MAGIC
#define SOCKFS_MAGIC 0x534F434B
#endif
#ifndef SYSFS_MAGIC
#define SYSFS_MAGIC 0x62656572
#endif

/* A new network namespace has only `lo`, down: bring it up (runc's
 * "loopback" network), so 127.0.0.1 and ::1 answer inside. */
void op_loopback_up(void)
{
	struct ifreq ifr;
	cur_step = "network";
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		fail(errno, "opening a socket to bring up lo");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		fail(errno, "reading the flags of lo");
	if (!(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			fail(errno, "bringing lo up");
	}
	close(s);
}

/* Hand the container's stdio to process.user before the identity switch
 * (runc's fixStdioPermissions), so that a reopen through /proc/self/fd
 * (`echo hi > /dev/stdout`) works for a non-root user.  Only what belongs
 * to the container changes owner: anonymous pipes and sockets (pipefs,
 * sockfs) and the pty op_console made.  runc 1.1 also chowns a regular
 * file, a named fifo or the caller's terminal passed as stdio: host files
 * whose new owner (a host uid without a user namespace) would outlive the
 * container; they are left alone here.  /dev/null is never touched (runc
 * skips it too), and only the owner changes, not the group (runc). */
void op_fix_stdio(uid_t uid)
{
	cur_step = "user";
	for (int fd = 0; fd < 3; fd++) {
		struct stat st;
		struct statfs sfs;
		int ours = 0;
		if (fstat(fd, &st) < 0 || st.st_uid == uid || fstatfs(fd, &sfs) < 0)
			continue;
		if (S_ISFIFO(st.st_mode))
			ours = sfs.f_type == PIPEFS_MAGIC;
		else if (S_ISSOCK(st.st_mode))
			ours = sfs.f_type == SOCKFS_MAGIC;
		else if (S_ISCHR(st.st_mode))
			ours = console_rdev && st.st_rdev == console_rdev && sfs.f_type == DEVPTS_SUPER_MAGIC;
		if (!ours)
			continue;
		/* EINVAL/EPERM: an id is not mapped in our user namespace; EROFS:
		 * a read-only devpts.  runc leaves the fd as it is then. */
		if (fchown(fd, uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
			fail(errno, "handing stdio (fd %d) to uid %u", fd, (unsigned)uid);
	}
}

/* One /etc/passwd line (name:password:UID:GID:GECOS:directory:shell, blanks
 * around it trimmed): its home directory into home_env if its UID is `uid`. */
static int passwd_match(char *line, uid_t uid)
{
	char *field[7] = { 0 };
	int nf = 0;
	while (*line == ' ' || *line == '\t')
		line++;
	for (char *t = line + strlen(line); t > line && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r');)
		*--t = 0;
	for (char *p = line; nf < 7;) {
		field[nf++] = p;
		char *c = strchr(p, ':');
		if (!c)
			break;
		*c = 0;
		p = c + 1;
	}
	if (nf < 3 || !*field[2] || strspn(field[2], "0123456789") != strlen(field[2]) ||
	    strlen(field[2]) > 10 || strtoull(field[2], NULL, 10) != uid)
		return 0;
	snprintf(home_env, sizeof(home_env), "HOME=%s", nf >= 6 ? field[5] : "");
	return 1;
}

/* The home directory of `uid` in the container's /etc/passwd (runc: after
 * pivot_root, before the identity switch), for a process.env without HOME;
 * "/" when there is no entry.  Opened beneath the container's root (no
 * magic links), only a regular file outside procfs and sysfs, read up to
 * 16 MiB; the first entry with that uid wins (runc). */
void op_home(uid_t uid)
{
	static char buf[1 << 16];
	struct open_how how = {
		.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	struct statfs sfs;
	size_t have = 0, total = 0;
	int eof = 0, skipping = 0;
	cur_step = "user";
	snprintf(home_env, sizeof(home_env), "HOME=/");
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return;
	int fd = syscall(SYS_openat2, root, "etc/passwd", &how, sizeof(how));
	close(root);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || fstatfs(fd, &sfs) < 0 ||
	    sfs.f_type == PROC_SUPER_MAGIC || sfs.f_type == SYSFS_MAGIC) {
		close(fd);
		return;
	}
	for (;;) {
		char *nl;
		while (!(nl = memchr(buf, '\n', have)) && !eof) {
			if (have == sizeof(buf) - 1) {
				have = 0; /* a line longer than the buffer is skipped */
				skipping = 1;
			}
			ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || (total += (size_t)n) > (16u << 20))
				eof = 1;
			else
				have += (size_t)n;
		}
		if (!nl && !have)
			break;
		size_t len = nl ? (size_t)(nl - buf) : have;
		buf[len] = 0;
		if (!skipping && passwd_match(buf, uid))
			break;
		skipping = 0;
		if (!nl)
			break;
		have -= len + 1;
		memmove(buf, buf + len + 1, have);
	}
	close(fd);
}

/* A missing process.cwd is created, like runc's MkdirAll after pivot_root:
 * each component is looked up beneath the new root (the image's symlinks
 * followed within it, never out of it, no magic links) and a missing one is
 * made in the directory its parent resolved to, with `mode` (0755 less the
 * caller's umask, as runc gets it). */
void op_mkcwd(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	cur_step = "cwd";
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		fail(errno, "opening the container's root");
	int fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
	if (fd >= 0 || errno != ENOENT) {
		/* there (or an error chdir will name) */
		if (fd >= 0)
			close(fd);
		close(root);
		return;
	}
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		fail(ENAMETOOLONG, "process.cwd %s", path);
	int dir = dup(root);
	char *p = buf;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *comp = p;
		while (*p && *p != '/')
			p++;
		char saved = *p;
		*p = 0;
		fd = syscall(SYS_openat2, root, buf, &how, sizeof(how));
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(dir, comp, mode) < 0 && errno != EEXIST)
				fail(errno, "creating process.cwd %s: mkdir %s", path, buf);
			fd = syscall(SYS_openat2, root, buf, &how, sizeof(how));
			if (fd < 0 && errno == ENOENT)
				fail(EEXIST, "creating process.cwd %s: %s exists but leads to no directory in the container (a dangling symlink?)", path, buf);
		}
		if (fd < 0)
			fail(errno, "creating process.cwd %s: %s", path, buf);
		close(dir);
		dir = fd;
		*p = saved;
	}
	close(dir);
	close(root);
}
