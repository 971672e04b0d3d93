/* pyrunc-init main: the launcher runs the plan up to OP_CLONE, clones the
 * container init with its new namespaces, writes the id maps, reports the
 * child's pid and exits.  The child runs the rest of the plan and execs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "init.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static int late_fd[16], nlate, late_next; /* OP_CGROUP_JOIN_LATE */
static int fifo_fd = -1, reply_fd = -1;
static int cwd_done; /* OP_CWD: the early chdir succeeded */
static int joined_userns; /* OP_SETNS joined a user namespace: the child becomes its root (runc's setuid(0)) */
/* state JSON received from pyrunc with "go": "go\n<for createContainer>\0<for startContainer>" */
static char *hook_state, *hook_state_start;
static size_t hook_state_len, hook_state_start_len;

static void write_id_map(pid_t pid, const char *file, const char *map, int use_helper)
{
	char path[64];
	if (!*map)
		return;
	if (use_helper) {
		/* Unprivileged: let newuidmap/newgidmap (setuid, Debian's uidmap)
		 * check /etc/subuid and write several ranges for us. */
		char *argv[128];
		char pidbuf[16], buf[4096];
		int n = 0;
		snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
		argv[n++] = strcmp(file, "uid_map") ? "newgidmap" : "newuidmap";
		argv[n++] = pidbuf;
		snprintf(buf, sizeof(buf), "%s", map);
		for (char *tok = strtok(buf, " \n"); tok && n < 126; tok = strtok(NULL, " \n"))
			argv[n++] = tok;
		argv[n] = NULL;
		pid_t h = fork();
		if (h == 0) {
			execvp(argv[0], argv);
			_exit(127);
		}
		int st;
		if (h < 0 || waitpid(h, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			fail(EPERM, "%s failed writing %s for pid %d", argv[0], file, pid);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	if (write_file_at(AT_FDCWD, path, map, strlen(map)) < 0)
		fail(errno, "writing %s", path);
}

/* The launcher's side of OP_CLONE.  Returns in the child only. */
static void do_clone(struct rec *r)
{
	unsigned long flags = (unsigned long)num(r->arg[0]);
	const char *uid_map = r->arg[1], *gid_map = r->arg[2], *setgroups = r->arg[3];
	int helper = num(r->arg[4]);
	int gate[2];

	cur_step = "clone";
	if (pipe2(gate, O_CLOEXEC) < 0)
		fail(errno, "pipe");
	/* An unprivileged launcher writes (or lets newuidmap/newgidmap write)
	 * the child's /proc files: a non-dumpable child's are owned by root.
	 * The child is dumpable until it has its maps (it resets that itself). */
	int unpriv = (flags & CLONE_NEWUSER) && geteuid() != 0;
	if (unpriv)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	/* Fork-style clone: no new stack, the child returns here.  A new PID
	 * namespace (or a joined one) takes effect for this child. */
	pid_t pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		fail(errno, "clone(flags=0x%lx)", flags);
	if (pid == 0) {
		char c;
		close(gate[1]);
		/* Wait until the launcher has written our id maps. */
		if (read(gate[0], &c, 1) != 1)
			_exit(1);
		close(gate[0]);
		/* A joined user namespace too (runc's init does setuid(0)/setgid(0)):
		 * the host ids the launcher has are not mapped there, and files made
		 * on its filesystems would fail with EOVERFLOW. */
		if ((flags & CLONE_NEWUSER) || joined_userns) {
			if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
				fail(errno, "becoming root in the %s user namespace (are uid/gid 0 mapped?)",
				     joined_userns ? "joined" : "new");
		}
		return;
	}
	close(gate[0]);
	if (unpriv)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (flags & CLONE_NEWUSER) {
		cur_step = "user namespace mappings";
		write_id_map(pid, "uid_map", uid_map, helper);
		if (*setgroups) {
			char path[64];
			snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
			if (write_file_at(AT_FDCWD, path, setgroups, strlen(setgroups)) < 0 && errno != ENOENT)
				fail(errno, "writing %s", path);
		}
		write_id_map(pid, "gid_map", gid_map, helper);
	}
	send_msg("pid\t%d", pid);
	if (write(gate[1], "g", 1) != 1)
		fail(errno, "releasing the child");
	_exit(0);
}

static void hooks_sync(void)
{
	static char buf[1 << 16];
	cur_step = "hooks";
	send_msg("hooks");
	ssize_t n = recv_msg(buf, sizeof(buf));
	if (n < 2 || strncmp(buf, "go", 2))
		_exit(1);
	/* "go\n<state json>" */
	hook_state = buf[2] ? buf + 3 : buf + 2;
	hook_state_len = n > 3 ? (size_t)n - 3 : 0;
	hook_state_start = hook_state;
	hook_state_start_len = hook_state_len;
	char *sep = memchr(hook_state, 0, hook_state_len);
	if (sep) {
		hook_state_start = sep + 1;
		hook_state_start_len = hook_state_len - (size_t)(sep + 1 - hook_state);
		hook_state_len = (size_t)(sep - hook_state);
	}
}

/* The start gate: two fifos in the state dir, opened read-write (which
 * never blocks) while their host paths are still reachable.  The init blocks
 * reading exec.fifo until `start` writes a byte, runs the startContainer
 * hooks, then answers on exec.reply: "0", or "E" and the error report
 * (fail()).  No /proc and no open() are needed after pivot_root or after
 * the identity switch, so non-root users and strict seccomp profiles pass. */
static void fifo_open(const char *gate, const char *reply)
{
	/* pyrunc opened both read-write and handed them over: no path to
	 * reach, whatever the modes of the state directories. */
	fifo_fd = (int)num(gate);
	reply_fd = (int)num(reply);
	fcntl(fifo_fd, F_SETFD, FD_CLOEXEC);
	fcntl(reply_fd, F_SETFD, FD_CLOEXEC);
}

static void fifo_wait(void)
{
	char c;
	ssize_t n;
	do
		n = read(fifo_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(1);
	close(fifo_fd);
	fifo_fd = -1;
	gate_fd = reply_fd; /* from now on fail() reports to `start` */
}

static void fifo_release(void)
{
	if (gate_fd < 0)
		return;
	if (write(gate_fd, "0", 1) != 1)
		_exit(1);
	close(gate_fd);
	gate_fd = reply_fd = -1;
}

static void run_child(struct plan *p, int start)
{
	for (int i = start; i < p->n; i++) {
		struct rec *r = &p->recs[i];
		char **a = r->arg;
		cur_index = i;
		trace_op(i, r->op);
		switch (r->op) {
		case OP_SETSID:
			cur_step = "setsid";
			if (setsid() < 0)
				fail(errno, "setsid");
			break;
		case OP_OOM_SCORE_ADJ:
			op_oom_score_adj(a[0]);
			break;
		case OP_SYSCTL:
			op_sysctl(a[0], a[1]);
			break;
		case OP_RLIMIT: {
			struct rlimit rl = { (rlim_t)strtoull(a[1], NULL, 10), (rlim_t)strtoull(a[2], NULL, 10) };
			cur_step = "rlimits";
			if (setrlimit((int)num(a[0]), &rl) < 0)
				fail(errno, "setrlimit(%s, soft=%s, hard=%s)", a[0], a[1], a[2]);
			break;
		}
		case OP_ROOT_PROPAGATION:
			op_root_propagation((unsigned long)num(a[0]));
			break;
		case OP_ROOTFS:
			op_rootfs(a[0], r->nargs > 1 && num(a[1]));
			break;
		case OP_MOUNT:
			op_mount(r);
			break;
		case OP_MKNOD:
			op_mknod(r);
			break;
		case OP_SYMLINK:
			op_symlink(a[0], a[1], r->nargs > 2 && num(a[2]));
			break;
		case OP_HOOKS_SYNC:
			hooks_sync();
			break;
		case OP_HOOK:
			if (!strcmp(r->arg[0], "startContainer"))
				op_hook(r, hook_state_start, hook_state_start_len);
			else
				op_hook(r, hook_state, hook_state_len);
			break;
		case OP_PIVOT:
			op_pivot((int)num(a[0]));
			break;
		case OP_READONLY_PATH:
			op_readonly_path(a[0]);
			break;
		case OP_MASK_PATH:
			op_mask_path(a[0]);
			break;
		case OP_ROOT_READONLY:
			op_root_readonly();
			break;
		case OP_MOUNTS_RO:
			op_mounts_ro();
			break;
		case OP_HOSTNAME:
			cur_step = "hostname";
			if (sethostname(a[0], r->len[0]) < 0)
				fail(errno, "sethostname(%s)", a[0]);
			break;
		case OP_DOMAINNAME:
			cur_step = "domainname";
			if (setdomainname(a[0], r->len[0]) < 0)
				fail(errno, "setdomainname(%s)", a[0]);
			break;
		case OP_CONSOLE:
			op_console((int)num(a[0]), (int)num(a[1]), (int)num(a[2]), r->nargs > 3 ? (int)num(a[3]) : 0);
			break;
		case OP_SECCOMP:
			op_seccomp(a[0], r->len[0], (unsigned)num(a[1]), (int)num(a[2]));
			break;
		case OP_KEEPCAPS:
			cur_step = "capabilities";
			if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
				fail(errno, "PR_SET_KEEPCAPS");
			break;
		case OP_CAPBSET:
			op_capbset(hexnum(a[0]));
			break;
		case OP_SETGROUPS: {
			gid_t gids[256];
			int n = 0;
			cur_step = "user";
			for (char *t = strtok(a[0], ","); t && n < 256; t = strtok(NULL, ","))
				gids[n++] = (gid_t)strtoul(t, NULL, 10);
			if (setgroups(n, gids) < 0)
				fail(errno, "setgroups(%d groups)", n);
			break;
		}
		case OP_SETGID:
			cur_step = "user";
			if (setresgid(num(a[0]), num(a[0]), num(a[0])) < 0)
				fail(errno, "setgid(%s)", a[0]);
			break;
		case OP_SETUID:
			cur_step = "user";
			if (setresuid(num(a[0]), num(a[0]), num(a[0])) < 0)
				fail(errno, "setuid(%s)", a[0]);
			break;
		case OP_CAPS:
			op_caps(r);
			break;
		case OP_NO_NEW_PRIVS:
			cur_step = "noNewPrivileges";
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
				fail(errno, "PR_SET_NO_NEW_PRIVS");
			break;
		case OP_UMASK:
			umask((mode_t)strtoul(a[0], NULL, 8));
			break;
		case OP_CWD:
			cur_step = "cwd";
			if (r->nargs > 1 && num(a[1])) {
				/* runc: first as root, before the identity switch (a
				 * directory only root can enter); on EACCES/EPERM again
				 * after it (a directory only the user can enter). */
				if (chdir(a[0]) == 0)
					cwd_done = 1;
				else if (errno != EACCES && errno != EPERM)
					fail(errno, "chdir to process.cwd %s", a[0]);
				break;
			}
			if (!cwd_done && chdir(a[0]) < 0)
				fail(errno, "chdir to process.cwd %s", a[0]);
			break;
		case OP_MKCWD:
			op_mkcwd(a[0], (mode_t)strtoul(a[1], NULL, 8));
			break;
		case OP_LOOPBACK_UP:
			op_loopback_up();
			break;
		case OP_FIX_STDIO:
			op_fix_stdio((uid_t)num(a[0]));
			break;
		case OP_HOME:
			op_home((uid_t)num(a[0]));
			break;
		case OP_FIND_EXEC:
			op_find_exec(a[0], a[1]);
			break;
		case OP_READY:
			cur_step = "ready";
			send_msg("ready");
			close(sync_fd);
			sync_fd = -1;
			break;
		case OP_FIFO_OPEN:
			fifo_open(a[0], a[1]);
			break;
		case OP_FIFO_WAIT:
			fifo_wait();
			break;
		case OP_FIFO_RELEASE:
			fifo_release();
			break;
		case OP_CGROUP_JOIN_LATE:
			/* Joined last: in a frozen cgroup the process stops right here,
			 * after pyrunc got "ready". */
			cur_step = "cgroup";
			if (late_next < nlate) {
				int fd = late_fd[late_next++];
				if (write(fd, "0", 1) != 1)
					fail(errno, "joining %s", a[0]);
				close(fd);
			}
			break;
		case OP_CLOSE_FDS:
			/* Nothing of the host survives exec: close every fd from N up
			 * (but the --debug trace file, close-on-exec, until execve). */
			if (trace_fd >= (int)num(a[0])) {
				if (trace_fd > (int)num(a[0]))
					syscall(SYS_close_range, (unsigned)num(a[0]), (unsigned)trace_fd - 1, 0);
				syscall(SYS_close_range, (unsigned)trace_fd + 1, ~0U, 0);
			} else {
				syscall(SYS_close_range, (unsigned)num(a[0]), ~0U, 0);
			}
			break;
		case OP_TRACE:
			break;
		case OP_EXEC:
			op_exec(r);
			break;
		case OP_PERSONALITY:
			cur_step = "personality";
			if (personality((unsigned long)num(a[0])) < 0)
				fail(errno, "personality(0x%llx)", (unsigned long long)num(a[0]));
			break;
		case OP_SCHEDULER:
			op_scheduler(r);
			break;
		case OP_IOPRIO:
			cur_step = "ioPriority";
			/* ioprio_set(IOPRIO_WHO_PROCESS, 0 = self, value) */
			if (syscall(SYS_ioprio_set, 1, 0, (int)num(a[0])) < 0)
				fail(errno, "ioprio_set(%s)", a[0]);
			break;
		case OP_CPU_AFFINITY:
			op_cpu_affinity(a[0]);
			break;
		case OP_MEMPOLICY:
			op_mempolicy(r);
			break;
		case OP_KEYRING:
			op_keyring(a[0]);
			break;
		case OP_LSM_EXEC:
			op_lsm_exec(r);
			break;
		default:
			fail(EINVAL, "unknown plan operation %d", r->op);
		}
	}
	fail(EINVAL, "plan ended without exec");
}

int main(int argc, char **argv)
{
	struct plan p;
	if (argc < 3) {
		dprintf(2, "pyrunc-init is started by pyrunc, not by hand\n");
		return 2;
	}
	int plan_fd = atoi(argv[1]);
	sync_fd = atoi(argv[2]);
	if (argc > 3)
		close(atoi(argv[3])); /* the sealed memfd we were exec'd from */
	fcntl(sync_fd, F_SETFD, FD_CLOEXEC);
	/* Not dumpable: container processes cannot open /proc/<us>/exe,
	 * map_files or fds while we still hold host resources. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	cur_step = "plan";
	if (read_plan(plan_fd, &p) < 0)
		fail(EINVAL, "reading the plan");
	close(plan_fd);

	/* Open every namespace to join before joining any: after setns into a
	 * mount namespace, later paths would resolve in the container. */
	int nsfd[64], nns = 0;
	for (int i = 0; i < p.n && nns < 64; i++) {
		if (p.recs[i].op == OP_CGROUP_JOIN_LATE && nlate < 16) {
			/* opened here, in the host's mount and cgroup namespaces */
			cur_step = "cgroup";
			late_fd[nlate] = open(p.recs[i].arg[0], O_WRONLY | O_CLOEXEC);
			if (late_fd[nlate] < 0)
				fail(errno, "opening %s", p.recs[i].arg[0]);
			nlate++;
			continue;
		}
		cur_index = i; /* a failure here is located to the record's config field */
		mount_preopen(&p.recs[i]); /* bind sources a user namespace could not reach, idmapped binds */
		if (p.recs[i].op != OP_SETNS)
			continue;
		cur_step = "namespaces";
		nsfd[nns] = open(p.recs[i].arg[0], O_RDONLY | O_CLOEXEC);
		if (nsfd[nns] < 0)
			fail(errno, "opening namespace %s", p.recs[i].arg[0]);
		nns++;
	}
	cur_index = -1;
	nns = 0;
	for (int i = 0; i < p.n; i++) {
		struct rec *r = &p.recs[i];
		if (r->op == OP_TRACE) {
			trace_fd = (int)num(r->arg[0]);
			fcntl(trace_fd, F_SETFD, FD_CLOEXEC);
		}
		cur_index = i;
		trace_op(i, r->op);
		switch (r->op) {
		case OP_TRACE:
			break;
		case OP_CPU_AFFINITY:
			op_cpu_affinity(r->arg[0]);
			break;
		case OP_CGROUP_JOIN:
			cur_step = "cgroup";
			if (write_file_at(AT_FDCWD, r->arg[0], "0", 1) < 0)
				fail(errno, "joining %s", r->arg[0]);
			break;
		case OP_SETNS: {
			cur_step = "namespaces";
			int fd = nsfd[nns++];
			if (setns(fd, (int)num(r->arg[1])) < 0)
				fail(errno, "joining namespace %s", r->arg[0]);
			if (num(r->arg[1]) == CLONE_NEWUSER)
				joined_userns = 1;
			close(fd);
			break;
		}
		case OP_UNSHARE_TIME:
			cur_step = "time namespace";
			if (unshare(CLONE_NEWTIME) < 0)
				fail(errno, "unshare(CLONE_NEWTIME)");
			if (r->len[0] && write_file_at(AT_FDCWD, "/proc/self/timens_offsets", r->arg[0], r->len[0]) < 0)
				fail(errno, "writing timeOffsets to /proc/self/timens_offsets");
			break;
		case OP_CLONE:
			do_clone(r);
			/* child */
			prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
			prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
			umask(0); /* device nodes get exactly their mode; OP_UMASK sets the process's */
			open_host_proc();
			run_child(&p, i + 1);
			/* not reached */
		default:
			fail(EINVAL, "plan operation %d before clone", r->op);
		}
	}
	fail(EINVAL, "plan has no clone");
}
