/* Plan operation codes shared with pyrunc/linux/ops.py (a unit test checks
 * that both lists agree).  The plan is a flat list of records; the init runs
 * them in order.  Records before OP_CLONE run in the launcher process, the
 * rest in the cloned container init. */
#ifndef PYRUNC_OPS_H
#define PYRUNC_OPS_H

enum pyr_op {
	OP_END = 0,
	/* launcher (before clone) */
	OP_CGROUP_JOIN = 1,     /* procs_file */
	OP_SETNS = 2,           /* path, nstype */
	OP_UNSHARE_TIME = 3,    /* timens_offsets text */
	OP_CLONE = 4,           /* flags, uid_map, gid_map, setgroups, newuidmap(0/1) */
	/* container init (after clone) */
	OP_SETSID = 10,
	OP_OOM_SCORE_ADJ = 11,  /* value */
	OP_SYSCTL = 12,         /* key, value */
	OP_RLIMIT = 13,         /* resource, soft, hard */
	OP_ROOT_PROPAGATION = 14, /* flags */
	OP_ROOTFS = 15,         /* absolute host path of root.path */
	OP_MOUNT = 16,          /* src, dest, fstype, flags, data, kind, mkkind, propagation, attr_set, attr_clr,
	                         * rattr_set, rattr_clr, [ext bits, [uid_map or userns path, gid_map] (MX_IDMAP)] */
	OP_MKNOD = 17,          /* dest, type, major, minor, mode, uid, gid, bind(0/1) */
	OP_SYMLINK = 18,        /* target, dest, [replace an existing file (0/1)] */
	OP_HOOKS_SYNC = 19,
	OP_HOOK = 20,           /* kind, path, argv(\0 sep), env(\0 sep), timeout, cwd, [home from passwd(0/1)] */
	OP_PIVOT = 21,          /* no_pivot(0/1) */
	OP_READONLY_PATH = 22,  /* path */
	OP_MASK_PATH = 23,      /* path */
	OP_ROOT_READONLY = 24,
	OP_HOSTNAME = 25,       /* name */
	OP_DOMAINNAME = 26,     /* name */
	OP_CONSOLE = 27,        /* socket fd, rows, cols, bind at /dev/console(0/1) */
	OP_SECCOMP = 28,        /* bpf bytes, flags, notify(0/1) */
	OP_KEEPCAPS = 29,
	OP_CAPBSET = 30,        /* mask of capabilities kept in the bounding set (hex) */
	OP_SETGROUPS = 31,      /* comma separated gids (may be empty) */
	OP_SETGID = 32,         /* gid */
	OP_SETUID = 33,         /* uid */
	OP_CAPS = 34,           /* effective, permitted, inheritable, ambient (hex) */
	OP_NO_NEW_PRIVS = 35,
	OP_UMASK = 36,          /* octal */
	OP_CWD = 37,            /* path */
	OP_FIND_EXEC = 38,      /* arg0, PATH value */
	OP_READY = 39,
	OP_FIFO_OPEN = 40,      /* host path of exec.fifo */
	OP_FIFO_WAIT = 41,
	OP_CLOSE_FDS = 42,      /* first fd to close */
	OP_EXEC = 43,           /* argv(\0 sep), env(\0 sep) */
	OP_PERSONALITY = 44,    /* persona */
	OP_SCHEDULER = 45,      /* policy, nice, priority, flags, runtime, deadline, period */
	OP_IOPRIO = 46,         /* ioprio value */
	OP_CPU_AFFINITY = 47,   /* hex mask bytes (little-endian cpu_set) */
	OP_MEMPOLICY = 48,      /* mode, flags, nodemask hex */
	OP_KEYRING = 49,        /* name */
	OP_FIFO_RELEASE = 51,   /* tell `start` the startContainer hooks passed */
	OP_CGROUP_JOIN_LATE = 52, /* procs_file: opened by the launcher, joined by the child (exec into a paused container) */
	OP_LSM_EXEC = 53,       /* attr candidates (\0 sep, relative to /proc), value, field: AppArmor/SELinux on-exec label */
	OP_LOOPBACK_UP = 60,    /* a new network namespace: bring lo up (runc) */
	OP_FIX_STDIO = 61,      /* uid: hand stdio pipes/sockets/our pty to process.user (runc) */
	OP_HOME = 62,           /* uid: HOME from the container's /etc/passwd, appended at exec */
	OP_MKCWD = 63,          /* path, octal mode: create a missing process.cwd (after pivot) */
	OP_MOUNTS_RO = 70,      /* read-only now: the tmpfs and /dev mounts made writable for setup (runc finalizeRootfs) */
	OP_TRACE = 90,          /* fd: debug only, the init writes "index op start-ns" (CLOCK_REALTIME) per op to it */
	OP_MAX
};

#endif
