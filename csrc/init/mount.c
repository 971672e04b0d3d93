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
#include <unistd.h>
#include <linux/openat2.h>
#include "init.h"

#include "kernel.h"

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

void op_rootfs(const char *path)
{
	char parent[PATH_MAX];
	cur_step = "rootfs";
	/* Make the mount holding the rootfs private, so binding the rootfs
	 * onto itself does not propagate back and pivot_root accepts it. */
	snprintf(parent, sizeof(parent), "%s", path);
	for (char *p = dirname(parent);; p = dirname(p)) {
		if (mount(NULL, p, NULL, MS_PRIVATE, NULL) == 0 || errno != EINVAL || !strcmp(p, "/"))
			break;
	}
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		fail(errno, "binding root.path %s onto itself", path);
	rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		fail(errno, "opening root.path %s", path);
}

/* args: src, dest, fstype, flags, data, kind, mkkind, propagation,
 *       attr_set, attr_clr, rattr_set, rattr_clr */
void op_mount(struct rec *r)
{
	char **a = r->arg;
	const char *src = a[0], *dest = a[1], *fstype = a[2], *data = a[4], *kind = a[5];
	unsigned long flags = (unsigned long)num(a[3]);
	int mkfile = !strcmp(a[6], "file");
	char target[64];
	static char step[PATH_MAX + 16];

	snprintf(step, sizeof(step), "mount %s", dest);
	cur_step = step;
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
		unsigned otflags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
		if (!strcmp(kind, "rbind"))
			otflags |= AT_RECURSIVE;
		mnt = syscall(SYS_open_tree, AT_FDCWD, src, otflags);
		if (mnt < 0)
			fail(errno, "bind source %s", src);
		uint64_t rset = hexnum(a[10]), rclr = hexnum(a[11]);
		uint64_t set = hexnum(a[8]), clr = hexnum(a[9]);
		if ((rset || rclr) && mount_setattr_fd(mnt, AT_RECURSIVE, rset, rclr, 0) < 0)
			fail(errno, "setting recursive mount attributes");
		if ((set || clr) && mount_setattr_fd(mnt, 0, set, clr, 0) < 0)
			fail(errno, "setting mount attributes (0x%llx)", (unsigned long long)set);
		if (syscall(SYS_move_mount, mnt, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			fail(errno, "attaching bind mount of %s", src);
	} else {
		fdpath(target, sizeof(target), fd);
		if (mount(src, target, fstype, flags, *data ? data : NULL) < 0)
			fail(errno, "mount -t %s %s (flags 0x%lx, data \"%s\")", fstype, src, flags, data);
		mnt = in_root(rootfd, dest, O_PATH); /* the new mount's root */
		if (mnt < 0)
			fail(errno, "reopening the mount");
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
	close(mnt);
	close(fd);
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

void op_symlink(const char *target, const char *dest)
{
	const char *base;
	char dirpath[64], full[PATH_MAX + 64];
	cur_step = "dev symlinks";
	int parent = open_parent(dest, &base);
	fdpath(dirpath, sizeof(dirpath), parent);
	snprintf(full, sizeof(full), "%s/%s", dirpath, base);
	if (symlink(target, full) < 0 && errno != EEXIST)
		fail(errno, "symlink %s -> %s", dest, target);
	close(parent);
}

void op_pivot(int no_pivot)
{
	cur_step = no_pivot ? "chroot" : "pivot_root";
	if (fchdir(rootfd) < 0)
		fail(errno, "entering the rootfs");
	if (no_pivot) {
		if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
			fail(errno, "moving the rootfs to /");
		if (chroot(".") < 0)
			fail(errno, "chroot");
	} else {
		/* pivot_root(".", ".") stacks the old root on top of the new one;
		 * make it a slave so unmounting it cannot propagate to the host,
		 * then detach it. */
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			fail(errno, "pivot_root");
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
