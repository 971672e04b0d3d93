/* Root filesystem steps.  Every destination is resolved inside the rootfs
 * with openat2(RESOLVE_IN_ROOT) so a symlink planted in the image cannot send
 * a mount outside it; mounts are then made onto the opened fd (through
 * /proc/self/fd/N of the host's /proc, or move_mount onto the fd), so the
 * path is never walked twice. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "init.h"

#include "kernel.h"

#ifndef FSCONFIG_SET_FLAG
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#endif

struct pyr_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

int rootfd = -1;
int hostproc = -1;

void open_host_proc(void)
{
	struct statfs sfs;
	cur_step = "procfs";
	hostproc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	/* An exec'd process sees the container's /proc, which may be absent:
	 * only the steps that need it (oomScoreAdj, sysctl) fail then. */
	if (hostproc < 0 && errno == ENOENT)
		return;
	if (hostproc < 0 || fstatfs(hostproc, &sfs) < 0)
		fail(errno, "opening /proc");
	if (sfs.f_type != PROC_SUPER_MAGIC)
		fail(EINVAL, "/proc is not procfs");
}

/* Open `path` inside `dir` as if `dir` were "/": symlinks and ".." stay in. */
static int in_root(int dir, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	/* openat2 answers EAGAIN when a mount or rename anywhere on the host
	 * raced with a ".." in the path: the kernel asks us to retry. */
	for (int tries = 0;; tries++) {
		int fd = syscall(SYS_openat2, dir, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN || tries == 64)
			return fd;
	}
}

/* open_or_create() flags */
#define OC_FILE 1      /* create a missing final component as an empty file */
#define OC_NO_LINKS 2  /* fail with ELOOP on any symlink (proc and sysfs) */

/* Resolve `dest` in the rootfs as if it were "/", creating what is missing
 * (directories, and an empty final file with OC_FILE).  Walked one
 * component at a time with O_NOFOLLOW: ".." stops at the root and symlinks
 * are read and followed inside it (an image's /var/run -> /run, or a link
 * planted to point at a host directory), at most 40 of them; with
 * OC_NO_LINKS any symlink on the way is an error.  Returns an O_PATH fd of
 * the final component. */
static int open_or_create(const char *dest, int oc_flags)
{
	int mkfile = oc_flags & OC_FILE;
	char rest[2 * PATH_MAX], next[2 * PATH_MAX], comp[NAME_MAX + 1];
	int stack[256], sp = 0, links = 0;
	stack[0] = dup(rootfd);
	snprintf(rest, sizeof(rest), "%s", dest);
	char *p = rest;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, "/");
		if (n > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto err;
		}
		memcpy(comp, p, n);
		comp[n] = 0;
		p += n;
		while (*p == '/')
			p++;
		int last = !*p;
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			if (sp > 0)
				close(stack[sp--]);
			continue;
		}
		int fd = openat(stack[sp], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			int r;
			if (last && mkfile) {
				r = openat(stack[sp], comp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
				if (r >= 0)
					close(r);
			} else {
				r = mkdirat(stack[sp], comp, 0755);
			}
			if (r < 0 && errno != EEXIST)
				goto err;
			fd = openat(stack[sp], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0)
			goto err;
		struct stat st;
		if (fstatat(fd, "", &st, AT_EMPTY_PATH) < 0) {
			close(fd);
			goto err;
		}
		if (S_ISLNK(st.st_mode) && (oc_flags & OC_NO_LINKS)) {
			close(fd);
			errno = ELOOP;
			goto err;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t tl = readlinkat(fd, "", target, sizeof(target) - 1);
			close(fd);
			if (tl < 0)
				goto err;
			if (++links > 40) {
				errno = ELOOP;
				goto err;
			}
			target[tl] = 0;
			if (target[0] == '/')
				while (sp > 0)
					close(stack[sp--]);
			snprintf(next, sizeof(next), "%s/%s", target, p);
			snprintf(rest, sizeof(rest), "%s", next);
			p = rest;
			continue;
		}
		if (!last && !S_ISDIR(st.st_mode)) {
			close(fd);
			errno = ENOTDIR;
			goto err;
		}
		if (sp == 255) {
			close(fd);
			errno = ELOOP;
			goto err;
		}
		stack[++sp] = fd;
	}
	for (int i = 0; i < sp; i++)
		close(stack[i]);
	return stack[sp];
err:;
	int saved = errno;
	for (int i = 0; i <= sp; i++)
		close(stack[i]);
	errno = saved;
	return -1;
}

static void fdpath(char *out, size_t n, int fd)
{
	snprintf(out, n, "/proc/self/fd/%d", fd);
}

static int mount_setattr_fd(int fd, unsigned flags, uint64_t set, uint64_t clr, uint64_t prop)
{
	struct pyr_mount_attr a = { set, clr, prop, 0 };
	return syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, &a, sizeof(a));
}

void op_root_propagation(unsigned long flags)
{
	cur_step = "rootfs propagation";
	if (mount(NULL, "/", NULL, flags, NULL) < 0)
		fail(errno, "setting propagation 0x%lx on /", flags);
}

/* host_ns: no mount namespace of its own (runc's chroot case): the parent
 * mount is left as it is and the bind is made rprivate, so nothing of the
 * container propagates into the caller's namespace but the bind itself,
 * which pyrunc detaches at delete. */
void op_rootfs(const char *path, int host_ns)
{
	char parent[PATH_MAX];
	cur_step = "rootfs";
	/* Make the mount holding the rootfs private (the rootfs itself when it
	 * is a mount point, as containerd's overlay is; runc's getParentMount),
	 * so binding the rootfs onto itself does not propagate back and
	 * pivot_root accepts it (its parent must not be shared). */
	snprintf(parent, sizeof(parent), "%s", path);
	for (char *p = parent; !host_ns; p = dirname(p)) {
		if (mount(NULL, p, NULL, MS_PRIVATE, NULL) == 0 || errno != EINVAL || !strcmp(p, "/"))
			break;
	}
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		fail(errno, "binding root.path %s onto itself", path);
	if (host_ns && mount(NULL, path, NULL, MS_PRIVATE | MS_REC, NULL) < 0)
		fail(errno, "making the rootfs bind private");
	rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		fail(errno, "opening root.path %s", path);
	if (host_ns) {
		/* pyrunc records which mount to detach at delete (or if this
		 * create fails): everything of the container hangs from it. */
		struct statx sx;
		if (statx(rootfd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0 || !(sx.stx_mask & STATX_MNT_ID))
			fail(errno ? errno : ENOSYS, "reading the mount id of the rootfs bind");
		send_msg("mnt\t%llu", (unsigned long long)sx.stx_mnt_id);
	}
}

/* OP_MOUNT extension bits (args[12]); pyrunc/linux/plan.py has the same */
#define MX_COPYUP 1      /* tmpcopyup: the tmpfs starts with a copy of the directory it covers */
#define MX_DIR_MODE 2    /* a tmpfs without mode=: the covered directory's mode */
#define MX_RO_LATER 4    /* read-only only at OP_MOUNTS_RO (a tmpfs, /dev): files go in first */
#define MX_PREOPENED 8   /* bind source opened by the launcher, with the host's credentials */
#define MX_IDMAP 16      /* idmapped by the launcher: args[13]/[14] are the uid_map/gid_map text */
#define MX_RIDMAP 32     /* ... every mount of the tree (ridmap) */
#define MX_IDMAP_PATH 64 /* ... with the mapping of the user namespace at args[13] */

#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif

/* Bind sources the launcher opened before the clone (user namespaces: the
 * container's root may not be able to reach them) and mounts to make
 * read-only at OP_MOUNTS_RO. */
static struct { const struct rec *r; int fd; } preopened[64];
static int npreopened;
static int ro_later[64], nro_later;

static int ext_bits(const struct rec *r)
{
	return r->nargs > 12 ? (int)num(r->arg[12]) : 0;
}

/* The detached bind tree for an OP_MOUNT, attributes set. */
static int bind_tree(const struct rec *r)
{
	char *const *a = r->arg;
	unsigned otflags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
	if (!strcmp(a[5], "rbind"))
		otflags |= AT_RECURSIVE;
	int mnt = syscall(SYS_open_tree, AT_FDCWD, a[0], otflags);
	if (mnt < 0)
		fail(errno, "bind source %s", a[0]);
	uint64_t rset = hexnum(a[10]), rclr = hexnum(a[11]);
	uint64_t set = hexnum(a[8]), clr = hexnum(a[9]);
	if ((rset || rclr) && mount_setattr_fd(mnt, AT_RECURSIVE, rset, rclr, 0) < 0)
		fail(errno, "setting recursive mount attributes");
	if ((set || clr) && mount_setattr_fd(mnt, 0, set, clr, 0) < 0)
		fail(errno, "setting mount attributes (0x%llx)", (unsigned long long)set);
	return mnt;
}

/* User namespaces made to carry an idmapped mount's mapping, one per
 * distinct (uid_map, gid_map); the rec strings live as long as the plan. */
static struct { const char *uid, *gid; int fd; } idmap_ns[16];
static int nidmap_ns;

/* A user namespace whose maps are `uid_map`/`gid_map`: a child is cloned
 * into a new one, the launcher (host root, not yet in any container
 * namespace) writes its maps, keeps an fd of the namespace and lets the
 * child go; the namespace lives on through the fd. */
static int idmap_userns(const char *uid_map, const char *gid_map)
{
	for (int i = 0; i < nidmap_ns; i++)
		if (!strcmp(idmap_ns[i].uid, uid_map) && !strcmp(idmap_ns[i].gid, gid_map))
			return idmap_ns[i].fd;
	int gate[2];
	if (pipe2(gate, O_CLOEXEC) < 0)
		fail(errno, "pipe");
	pid_t pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		fail(errno, "creating a user namespace for the idmapped mount");
	if (pid == 0) {
		char c;
		close(gate[1]);
		/* returns at EOF: the launcher is done with us (or died) */
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(gate[0]);
	char path[64];
	const char *what = "uid_map", *map = uid_map;
	for (int k = 0; k < 2; k++, what = "gid_map", map = gid_map) {
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
		if (write_file_at(AT_FDCWD, path, map, strlen(map)) < 0) {
			int err = errno;
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail(err, "writing the mount's %s to a user namespace (\"%.*s\")", k ? "gidMappings" : "uidMappings",
			     (int)strcspn(map, "\n"), map);
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = errno;
	close(gate[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (fd < 0)
		fail(err, "opening %s", path);
	if (nidmap_ns < 16) {
		idmap_ns[nidmap_ns].uid = uid_map;
		idmap_ns[nidmap_ns].gid = gid_map;
		idmap_ns[nidmap_ns++].fd = fd;
	}
	return fd;
}

/* Idmap the detached bind `mnt` (MX_IDMAP): MOUNT_ATTR_IDMAP with a user
 * namespace carrying the mapping, on the top mount or (ridmap) the tree. */
static void idmap_tree(int mnt, const struct rec *r, int ext)
{
	int own = 0, ns;
	if (ext & MX_IDMAP_PATH) {
		ns = open(r->arg[13], O_RDONLY | O_CLOEXEC);
		if (ns < 0)
			fail(errno, "opening the user namespace %s for the idmapped mount", r->arg[13]);
		own = 1;
	} else {
		ns = idmap_userns(r->arg[13], r->arg[14]);
	}
	struct pyr_mount_attr a = { MOUNT_ATTR_IDMAP, 0, 0, (uint64_t)ns };
	unsigned flags = AT_EMPTY_PATH | ((ext & MX_RIDMAP) ? AT_RECURSIVE : 0);
	if (syscall(SYS_mount_setattr, mnt, "", flags, &a, sizeof(a)) < 0) {
		int err = errno;
		if (err == EINVAL && (ext & MX_RIDMAP))
			fail(err, "ridmap: %s, or a mount under it, is on a filesystem that cannot be idmapped", r->arg[0]);
		if (err == EINVAL)
			fail(err, "%s is on a filesystem that cannot be idmapped", r->arg[0]);
		if (err == EPERM)
			fail(err, "idmapping %s (already idmapped, or a user namespace the launcher does not own)", r->arg[0]);
		fail(err, "idmapping %s", r->arg[0]);
	}
	if (own)
		close(ns);
}

/* Launcher, before the clone and before any setns: open the source of a
 * MX_PREOPENED bind as the host's root.  Shared mounts in the copy become
 * slaves of the host's, as they would in a mount namespace copied into a
 * new user namespace (the kernel's CL_SHARED_TO_SLAVE): nothing mounted in
 * the container propagates back to the host unless the mount asks for it. */
void mount_preopen(const struct rec *r)
{
	static char step[PATH_MAX + 16];
	if (r->op != OP_MOUNT || !(ext_bits(r) & MX_PREOPENED))
		return;
	snprintf(step, sizeof(step), "mount %s", r->arg[1]);
	cur_step = step;
	if (npreopened == 64) {
		if (ext_bits(r) & MX_IDMAP)
			fail(E2BIG, "more than 64 bind mounts to open before the clone (idmapped mounts need it)");
		return;
	}
	int mnt = bind_tree(r);
	if (mount_setattr_fd(mnt, AT_RECURSIVE, 0, 0, MS_SLAVE) < 0)
		fail(errno, "making the bind source a slave");
	if (ext_bits(r) & MX_IDMAP)
		idmap_tree(mnt, r, ext_bits(r));
	preopened[npreopened].r = r;
	preopened[npreopened++].fd = mnt;
}

static int take_preopened(const struct rec *r)
{
	for (int i = 0; i < npreopened; i++)
		if (preopened[i].r == r) {
			int fd = preopened[i].fd;
			preopened[i].r = NULL;
			return fd;
		}
	return -1;
}

/* ---- tmpcopyup: copy a directory tree into a fresh tmpfs ---- */

static void copy_xattrs(int from, int to)
{
	char names[4096], value[4096];
	ssize_t n = flistxattr(from, names, sizeof(names));
	for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
		ssize_t vl = fgetxattr(from, names + off, value, sizeof(value));
		if (vl >= 0)
			fsetxattr(to, names + off, value, (size_t)vl, 0); /* best effort */
	}
}

static void copy_owner_mode_times(int from, int to, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	if (fchown(to, st->st_uid, st->st_gid) < 0)
		fail(errno, "tmpcopyup: chown");
	copy_xattrs(from, to);
	if (fchmod(to, st->st_mode & 07777) < 0)
		fail(errno, "tmpcopyup: chmod");
	futimens(to, ts);
}

static void copy_file(int sdir, int ddir, const char *name, const struct stat *st)
{
	int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (in < 0)
		fail(errno, "tmpcopyup: opening %s", name);
	int out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		fail(errno, "tmpcopyup: creating %s", name);
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail(errno, "tmpcopyup: reading %s", name);
		if (n == 0)
			break;
		for (ssize_t w = 0; w < n;) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				fail(errno, "tmpcopyup: writing %s", name);
			w += k;
		}
	}
	copy_owner_mode_times(in, out, st);
	close(in);
	close(out);
}

/* Copy the entries of directory `sdir` into `ddir`.  Every open is relative
 * to a directory fd with O_NOFOLLOW: symlinks are copied as links, never
 * followed, so nothing outside the covered directory is read. */
static void copy_tree(int sdir, int ddir, int depth)
{
	if (depth > 128)
		fail(ELOOP, "tmpcopyup: directories nested too deep");
	int dfd = dup(sdir);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d)
		fail(errno, "tmpcopyup: reading a directory");
	rewinddir(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *name = e->d_name;
		struct stat st;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			fail(errno, "tmpcopyup: stat %s", name);
		if (S_ISDIR(st.st_mode)) {
			if (mkdirat(ddir, name, 0700) < 0)
				fail(errno, "tmpcopyup: mkdir %s", name);
			int s2 = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int d2 = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 < 0 || d2 < 0)
				fail(errno, "tmpcopyup: opening directory %s", name);
			copy_tree(s2, d2, depth + 1);
			copy_owner_mode_times(s2, d2, &st);
			close(s2);
			close(d2);
		} else if (S_ISREG(st.st_mode)) {
			copy_file(sdir, ddir, name, &st);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);
			if (n < 0)
				fail(errno, "tmpcopyup: readlink %s", name);
			target[n] = 0;
			if (symlinkat(target, ddir, name) < 0)
				fail(errno, "tmpcopyup: symlink %s", name);
			if (fchownat(ddir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
				fail(errno, "tmpcopyup: chown %s", name);
		} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			if (mknodat(ddir, name, st.st_mode, st.st_rdev) < 0)
				fail(errno, "tmpcopyup: mknod %s", name);
			if (fchownat(ddir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
			    fchmodat(ddir, name, st.st_mode & 07777, 0) < 0)
				fail(errno, "tmpcopyup: owner and mode of %s", name);
		} /* sockets are not copied */
	}
	closedir(d);
}

/* A new filesystem, detached: fsopen + one fsconfig per data option (and
 * per superblock flag), fsmount with the mount attributes of `flags`. */
static int detached_fs(const char *fstype, const char *src, unsigned long flags, const char *data)
{
	int fs = syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC);
	if (fs < 0)
		fail(errno, "fsopen %s", fstype);
	if (*src && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", src, 0) < 0)
		fail(errno, "mount source %s", src);
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", data);
	char *save;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		int rc;
		if (eq) {
			*eq = 0;
			rc = syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, t, eq + 1, 0);
		} else {
			rc = syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, t, NULL, 0);
		}
		if (rc < 0)
			fail(errno, "mount -t %s: option %s", fstype, t);
	}
	static const struct { unsigned long ms; const char *name; } sb[] = {
		{ MS_RDONLY, "ro" }, { MS_SYNCHRONOUS, "sync" }, { MS_DIRSYNC, "dirsync" },
		{ MS_LAZYTIME, "lazytime" }, { MS_MANDLOCK, "mand" },
	};
	for (size_t i = 0; i < sizeof(sb) / sizeof(sb[0]); i++)
		if ((flags & sb[i].ms) && syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, sb[i].name, NULL, 0) < 0)
			fail(errno, "mount -t %s: flag %s", fstype, sb[i].name);
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		fail(errno, "mount -t %s %s (data \"%s\")", fstype, src, data);
	unsigned attr = 0;
	if (flags & MS_RDONLY)
		attr |= MOUNT_ATTR_RDONLY;
	if (flags & MS_NOSUID)
		attr |= 0x2;
	if (flags & MS_NODEV)
		attr |= 0x4;
	if (flags & MS_NOEXEC)
		attr |= 0x8;
	if (flags & MS_NOATIME)
		attr |= 0x10;
	else if (flags & MS_STRICTATIME)
		attr |= 0x20;
	if (flags & MS_NODIRATIME)
		attr |= 0x80;
	if (flags & MS_NOSYMFOLLOW)
		attr |= 0x200000;
	int mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attr);
	if (mnt < 0)
		fail(errno, "fsmount %s", fstype);
	close(fs);
	return mnt;
}

/* args: src, dest, fstype, flags, data, kind, mkkind, propagation,
 *       attr_set, attr_clr, rattr_set, rattr_clr, [extension bits] */
void op_mount(struct rec *r)
{
	char **a = r->arg;
	const char *src = a[0], *dest = a[1], *fstype = a[2], *kind = a[5];
	unsigned long flags = (unsigned long)num(a[3]);
	int mkfile = !strcmp(a[6], "file");
	int ext = ext_bits(r);
	char target[64], data[4096];
	static char step[PATH_MAX + 16];

	snprintf(step, sizeof(step), "mount %s", dest);
	cur_step = step;
	snprintf(data, sizeof(data), "%s", a[4]);
	int dir_mode = -1;
	if (ext & MX_DIR_MODE) {
		/* runc: a tmpfs over an existing directory gets that directory's
		 * mode, by a chmod of its root once mounted (so /proc/mounts shows
		 * no mode=); a new one keeps tmpfs's 1777.  (runc 1.1 chmods over
		 * an explicit mode= too; 1.2 and pyrunc keep mode=: no MX_DIR_MODE.) */
		struct stat st;
		int old = in_root(rootfd, dest, O_PATH);
		if (old >= 0 && fstat(old, &st) == 0 && S_ISDIR(st.st_mode))
			dir_mode = (int)(st.st_mode & 07777);
		if (old >= 0)
			close(old);
	}
	if (ext & MX_RO_LATER)
		flags &= ~(unsigned long)MS_RDONLY;
	/* proc and sysfs only on an ordinary directory reached without any
	 * symlink (CVE-2019-19921: an image whose /proc is a link could move
	 * procfs where maskedPaths, readonlyPaths and the LSM label writes do
	 * not look).  runc refuses a final symlink; any link on the way is
	 * refused here, since a redirected parent moves the mount just as well. */
	int special = !strcmp(kind, "fs") && (!strcmp(fstype, "proc") || !strcmp(fstype, "sysfs"));
	int fd = open_or_create(dest, (mkfile ? OC_FILE : 0) | (special ? OC_NO_LINKS : 0));
	if (fd < 0 && special && errno == ELOOP)
		fail(ELOOP, "filesystem \"%s\" must be mounted on ordinary directory (%s resolves through a symlink)", fstype, dest);
	if (fd < 0)
		fail(errno, "resolving the destination inside the rootfs");
	if (special) {
		struct stat st;
		if (fstat(fd, &st) < 0)
			fail(errno, "stat");
		if (!S_ISDIR(st.st_mode))
			fail(ENOTDIR, "filesystem \"%s\" must be mounted on ordinary directory", fstype);
	}
	int mnt = -1;
	if (!strcmp(kind, "bind") || !strcmp(kind, "rbind")) {
		/* A detached copy of the source; attributes are set before it is
		 * attached, so it never appears writable even for an instant. */
		mnt = (ext & MX_PREOPENED) ? take_preopened(r) : -1;
		if (mnt < 0 && (ext & MX_IDMAP))
			fail(EINVAL, "idmapped bind of %s was not opened by the launcher", src);
		if (mnt < 0)
			mnt = bind_tree(r);
		if (syscall(SYS_move_mount, mnt, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			fail(errno, "attaching bind mount of %s", src);
	} else if (ext & MX_COPYUP) {
		/* The new tmpfs is filled while detached, from the directory it is
		 * about to cover (walked without following symlinks), then attached. */
		int from = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (from < 0)
			fail(errno, "tmpcopyup: opening the directory to copy");
		mnt = detached_fs(fstype, src, flags, data);
		int to = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (to < 0)
			fail(errno, "tmpcopyup: opening the new tmpfs");
		/* the entries, as runc: the tmpfs's own root keeps its owner (root,
		 * or uid=/gid=), its mode is the directory's (MX_DIR_MODE) */
		copy_tree(from, to, 0);
		if (dir_mode >= 0 && fchmod(to, (mode_t)dir_mode) < 0)
			fail(errno, "chmod of the tmpfs root");
		close(to);
		close(from);
		if (syscall(SYS_move_mount, mnt, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			fail(errno, "attaching the tmpfs");
		close(mnt);
		mnt = in_root(rootfd, dest, O_PATH); /* attached: its root, as the other branch */
		if (mnt < 0)
			fail(errno, "reopening the mount");
		uint64_t rset = hexnum(a[10]), rclr = hexnum(a[11]);
		if ((rset || rclr) && mount_setattr_fd(mnt, AT_RECURSIVE, rset, rclr, 0) < 0)
			fail(errno, "setting recursive mount attributes");
	} else {
		fdpath(target, sizeof(target), fd);
		if (mount(src, target, fstype, flags, *data ? data : NULL) < 0)
			fail(errno, "mount -t %s %s (flags 0x%lx, data \"%s\")", fstype, src, flags, data);
		mnt = in_root(rootfd, dest, O_PATH); /* the new mount's root */
		if (mnt < 0)
			fail(errno, "reopening the mount");
		if (dir_mode >= 0) {
			int root = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (root < 0 || fchmod(root, (mode_t)dir_mode) < 0)
				fail(errno, "chmod of the tmpfs root");
			close(root);
		}
		uint64_t rset = hexnum(a[10]), rclr = hexnum(a[11]);
		if ((rset || rclr) && mount_setattr_fd(mnt, AT_RECURSIVE, rset, rclr, 0) < 0)
			fail(errno, "setting recursive mount attributes");
	}
	/* propagation: "flag:recursive,..." */
	if (*a[7]) {
		char *save, *list = a[7];
		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			unsigned long pf = strtoul(t, NULL, 10);
			int rec = strchr(t, ':') && strchr(t, ':')[1] == '1';
			if (mount_setattr_fd(mnt, rec ? AT_RECURSIVE : 0, 0, 0, pf) < 0)
				fail(errno, "setting propagation 0x%lx", pf);
		}
	}
	if ((ext & MX_RO_LATER) && nro_later < 64)
		ro_later[nro_later++] = mnt; /* kept for OP_MOUNTS_RO */
	else
		close(mnt);
	close(fd);
}

/* runc's finalizeRootfs: tmpfs mounts and /dev asked to be read-only were
 * mounted writable so that devices, symlinks, the console and the mount
 * points of later mounts could be made in them; now the mounts become
 * read-only (the mount, not the superblock: runc remounts the bind). */
void op_mounts_ro(void)
{
	cur_step = "read-only mounts";
	for (int i = 0; i < nro_later; i++) {
		if (mount_setattr_fd(ro_later[i], 0, MOUNT_ATTR_RDONLY, 0, 0) < 0)
			fail(errno, "making the mount read-only");
		close(ro_later[i]);
	}
	nro_later = 0;
}

static int open_parent(const char *dest, const char **base)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", dest);
	char *slash = strrchr(buf, '/');
	*base = strrchr(dest, '/') + 1;
	if (slash == buf)
		return in_root(rootfd, "/", O_PATH | O_DIRECTORY);
	*slash = 0;
	int fd = open_or_create(buf, 0);
	if (fd < 0)
		fail(errno, "resolving %s", buf);
	return fd;
}

/* args: dest, type(c|b|u|p), major, minor, mode, uid, gid, bind */
void op_mknod(struct rec *r)
{
	char **a = r->arg;
	const char *dest = a[0], *base;
	static char step[PATH_MAX + 16];
	snprintf(step, sizeof(step), "device %s", dest);
	cur_step = step;
	if (num(a[7])) {
		/* In a user namespace mknod is refused: bind the host's node. */
		int fd = open_or_create(dest, OC_FILE);
		if (fd < 0)
			fail(errno, "creating the bind target");
		int mnt = syscall(SYS_open_tree, AT_FDCWD, dest, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (mnt < 0)
			fail(errno, "host device %s", dest);
		if (syscall(SYS_move_mount, mnt, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			fail(errno, "binding host device %s", dest);
		close(mnt);
		close(fd);
		return;
	}
	mode_t type = a[1][0] == 'b' ? S_IFBLK : a[1][0] == 'p' ? S_IFIFO : S_IFCHR;
	mode_t mode = (mode_t)num(a[4]) & 07777;
	int parent = open_parent(dest, &base);
	if (parent < 0)
		fail(errno, "resolving the parent directory");
	/* mknodat on an O_PATH dir fd is refused: go through /proc/self/fd */
	char dirpath[64], full[PATH_MAX + 64];
	fdpath(dirpath, sizeof(dirpath), parent);
	snprintf(full, sizeof(full), "%s/%s", dirpath, base);
	if (mknod(full, type | mode, makedev(num(a[2]), num(a[3]))) < 0) {
		struct stat st;
		if (errno != EEXIST)
			fail(errno, "mknod");
		/* something is already there: fine only if it is this very device */
		if (lstat(full, &st) < 0)
			fail(errno, "stat");
		if ((st.st_mode & S_IFMT) != type || (type != S_IFIFO && st.st_rdev != makedev(num(a[2]), num(a[3]))))
			fail(EEXIST, "a different file already exists at the device path");
	}
	if (chmod(full, mode) < 0 || lchown(full, (uid_t)num(a[5]), (gid_t)num(a[6])) < 0)
		fail(errno, "setting owner and mode");
	close(parent);
}

/* replace: remove a file already at `dest` first (runc's setupPtmx for
 * /dev/ptmx); otherwise an existing one is left alone. */
void op_symlink(const char *target, const char *dest, int replace)
{
	const char *base;
	char dirpath[64], full[PATH_MAX + 64];
	cur_step = "dev symlinks";
	int parent = open_parent(dest, &base);
	fdpath(dirpath, sizeof(dirpath), parent);
	snprintf(full, sizeof(full), "%s/%s", dirpath, base);
	if (replace && unlink(full) < 0 && errno != ENOENT)
		fail(errno, "removing %s to make it a link to %s", dest, target);
	if (symlink(target, full) < 0 && errno != EEXIST)
		fail(errno, "symlink %s -> %s", dest, target);
	close(parent);
}

/* mode 0: pivot_root; 1: --no-pivot (MS_MOVE + chroot); 2: no mount
 * namespace, the caller's: chroot only (runc), nothing moved or detached. */
void op_pivot(int mode)
{
	cur_step = mode == 1 ? "chroot" : mode == 2 ? "chroot" : "pivot_root";
	if (fchdir(rootfd) < 0)
		fail(errno, "entering the rootfs");
	if (mode == 2) {
		if (chroot(".") < 0)
			fail(errno, "chroot");
	} else if (mode == 1) {
		if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
			fail(errno, "moving the rootfs to /");
		if (chroot(".") < 0)
			fail(errno, "chroot");
	} else {
		/* pivot_root(".", ".") stacks the old root on top of the new one.
		 * "." still names the new root's mount afterwards, so step onto the
		 * old root through an fd opened before, make it (and everything
		 * under it) a slave so detaching it cannot propagate to the host,
		 * then detach it.  Making "." a slave instead would act on the new
		 * root and turn every shared volume into a slave of the host's. */
		int oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (oldroot < 0)
			fail(errno, "opening the old root");
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			fail(errno, "pivot_root");
		if (fchdir(oldroot) < 0)
			fail(errno, "entering the old root");
		close(oldroot);
		if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
			fail(errno, "making the old root a slave");
		if (umount2(".", MNT_DETACH) < 0)
			fail(errno, "detaching the old root");
	}
	if (chdir("/") < 0)
		fail(errno, "chdir /");
	close(rootfd);
	close(hostproc); /* procfs writes are done; nothing of the host stays open */
	hostproc = -1;
	rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		fail(errno, "opening the new root");
}

/* The target of a readonlyPaths / maskedPaths entry, resolved inside the
 * new root without following a final symlink; -1 when it does not exist
 * (skipped, as runc does). */
static int open_path_target(const char *what, const char *path)
{
	static char step[PATH_MAX + 32];
	snprintf(step, sizeof(step), "%s %s", what, path);
	cur_step = step;
	int fd = in_root(rootfd, path, O_PATH | O_NOFOLLOW);
	if (fd < 0 && errno != ENOENT)
		fail(errno, "resolving");
	return fd;
}

void op_readonly_path(const char *path)
{
	int fd = open_path_target("readonlyPaths", path);
	if (fd < 0)
		return;
	int mnt = syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
	if (mnt < 0)
		fail(errno, "cloning");
	if (mount_setattr_fd(mnt, AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0, 0) < 0)
		fail(errno, "making read-only");
	if (syscall(SYS_move_mount, mnt, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		fail(errno, "attaching");
	close(mnt);
	close(fd);
}

void op_mask_path(const char *path)
{
	struct stat st;
	int mnt;
	int fd = open_path_target("maskedPaths", path);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0)
		fail(errno, "stat");
	if (S_ISDIR(st.st_mode)) {
		int fs = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
		if (fs < 0 || syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
			fail(errno, "creating a tmpfs");
		mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
		if (mnt < 0)
			fail(errno, "fsmount");
		close(fs);
	} else {
		/* Bind the container's /dev/null over the file, after checking it
		 * really is the null device and not something planted there. */
		struct stat ns;
		int null = in_root(rootfd, "/dev/null", O_PATH | O_NOFOLLOW);
		if (null < 0 || fstat(null, &ns) < 0)
			fail(errno, "opening /dev/null");
		if (!S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3))
			fail(EPERM, "/dev/null in the container is not the null device");
		mnt = syscall(SYS_open_tree, null, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		if (mnt < 0)
			fail(errno, "cloning /dev/null");
		close(null);
	}
	if (syscall(SYS_move_mount, mnt, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		fail(errno, "attaching the mask");
	close(mnt);
	close(fd);
}

void op_root_readonly(void)
{
	cur_step = "root.readonly";
	if (mount_setattr_fd(rootfd, 0, MOUNT_ATTR_RDONLY, 0, 0) < 0)
		fail(errno, "remounting / read-only");
}
