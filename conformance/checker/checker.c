/*
 * checker: reports what a container process sees, one "key=value" line per
 * fact.  Values are escaped: backslash -> "\\", newline -> "\n", other
 * control bytes -> "\xHH".  Built static by the conformance runner and copied
 * into every bundle's rootfs as /checker.
 *
 * Usage: checker PROBE [ARGS...] [, PROBE [ARGS...]]...
 * Probes are separated by a lone "," argument.  See usage() for the list.
 * Hook mode: checker hook NAME LOGDIR [args...] (reads the state from stdin).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char outbuf[1 << 16];
static size_t outlen;

static void flush_out(void) {
    size_t off = 0;
    while (off < outlen) {
        ssize_t n = write(1, outbuf + off, outlen - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        off += (size_t)n;
    }
    outlen = 0;
}

static void put_raw(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (outlen + 8 >= sizeof(outbuf))
            flush_out();
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') {
            outbuf[outlen++] = '\\';
            outbuf[outlen++] = '\\';
        } else if (c == '\n') {
            outbuf[outlen++] = '\\';
            outbuf[outlen++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            outlen += (size_t)snprintf(outbuf + outlen, 5, "\\x%02x", c);
        } else {
            outbuf[outlen++] = (char)c;
        }
    }
}

static void put_plain(const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if (outlen + 2 >= sizeof(outbuf))
            flush_out();
        outbuf[outlen++] = s[i];
    }
}

/* emit key=value (value escaped, key written as-is) */
static void emit_n(const char *key, const char *val, size_t n) {
    put_plain(key);
    put_plain("=");
    put_raw(val, n);
    put_plain("\n");
}

static void emit(const char *key, const char *val) { emit_n(key, val, strlen(val)); }

static void emitf(const char *key, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    emit(key, buf);
}

static void keyf(char *dst, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

static const char *errname(int e) {
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ENXIO: return "ENXIO";
    case ENODEV: return "ENODEV";
    case EXDEV: return "EXDEV";
    case ENOSYS: return "ENOSYS";
    case EBADF: return "EBADF";
    case EIO: return "EIO";
    case EBUSY: return "EBUSY";
    case ESRCH: return "ESRCH";
    case ENOEXEC: return "ENOEXEC";
    case E2BIG: return "E2BIG";
    case EAGAIN: return "EAGAIN";
    case ENOTTY: return "ENOTTY";
    case EMFILE: return "EMFILE";
    default: break;
    }
    static char buf[32];
    snprintf(buf, sizeof(buf), "E%d", e);
    return buf;
}

static int read_file(const char *path, char *buf, size_t cap, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    size_t off = 0;
    while (off + 1 < cap) {
        ssize_t n = read(fd, buf + off, cap - 1 - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return e;
        }
        if (n == 0)
            break;
        off += (size_t)n;
    }
    buf[off] = 0;
    *len = off;
    close(fd);
    return 0;
}

static char bigbuf[1 << 20];

/* ---- probes ----------------------------------------------------------- */

static void probe_ns(void) {
    static const char *names[] = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
                                  "time", "time_for_children", "user", "uts"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[64], key[64], target[256];
        snprintf(path, sizeof(path), "/proc/self/ns/%s", names[i]);
        keyf(key, sizeof(key), "ns.%s", names[i]);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n < 0) {
            emitf(key, "ERR %s", errname(errno));
            continue;
        }
        target[n] = 0;
        emit(key, target);
    }
}

static void probe_status(void) {
    size_t len;
    int e = read_file("/proc/self/status", bigbuf, sizeof(bigbuf), &len);
    if (e) {
        emitf("status", "ERR %s", errname(e));
        return;
    }
    char *save = NULL;
    for (char *line = strtok_r(bigbuf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        static const char *want[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                                     "Seccomp", "Uid", "Gid", "Groups", "Cpus_allowed_list"};
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
            if (strcmp(line, want[i]) == 0) {
                char key[64];
                keyf(key, sizeof(key), "status.%s", line);
                /* normalise tabs to single spaces */
                for (char *p = v; *p; p++)
                    if (*p == '\t')
                        *p = ' ';
                size_t n = strlen(v);
                while (n && v[n - 1] == ' ')
                    v[--n] = 0;
                emit(key, v);
            }
        }
    }
}

static void probe_ids(void) {
    emitf("pid", "%d", (int)getpid());
    emitf("ppid", "%d", (int)getppid());
    emitf("uid", "%u", (unsigned)getuid());
    emitf("euid", "%u", (unsigned)geteuid());
    emitf("gid", "%u", (unsigned)getgid());
    emitf("egid", "%u", (unsigned)getegid());
    gid_t groups[256];
    int n = getgroups(256, groups);
    char buf[4096] = "";
    size_t off = 0;
    for (int i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%u", i ? " " : "", (unsigned)groups[i]);
    emit("groups", buf);
}

static void probe_umask(void) {
    mode_t m = umask(0);
    umask(m);
    emitf("umask", "%04o", (unsigned)m);
}

static void probe_uname(void) {
    struct utsname u;
    if (uname(&u) != 0) {
        emitf("uname", "ERR %s", errname(errno));
        return;
    }
    emit("hostname", u.nodename);
    emit("domainname", u.domainname);
    emit("machine", u.machine);
}

static void probe_rlimits(void) {
    static const struct {
        const char *name;
        int res;
    } lims[] = {
        {"RLIMIT_AS", RLIMIT_AS},         {"RLIMIT_CORE", RLIMIT_CORE},
        {"RLIMIT_CPU", RLIMIT_CPU},       {"RLIMIT_DATA", RLIMIT_DATA},
        {"RLIMIT_FSIZE", RLIMIT_FSIZE},   {"RLIMIT_LOCKS", RLIMIT_LOCKS},
        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
        {"RLIMIT_NICE", RLIMIT_NICE},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},
        {"RLIMIT_NPROC", RLIMIT_NPROC},   {"RLIMIT_RSS", RLIMIT_RSS},
        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},
        {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
    };
    for (size_t i = 0; i < sizeof(lims) / sizeof(lims[0]); i++) {
        struct rlimit rl;
        char key[64];
        keyf(key, sizeof(key), "rlimit.%s", lims[i].name);
        if (getrlimit(lims[i].res, &rl) != 0) {
            emitf(key, "ERR %s", errname(errno));
            continue;
        }
        char s[32], h[32];
        if (rl.rlim_cur == RLIM_INFINITY)
            snprintf(s, sizeof(s), "unlimited");
        else
            snprintf(s, sizeof(s), "%llu", (unsigned long long)rl.rlim_cur);
        if (rl.rlim_max == RLIM_INFINITY)
            snprintf(h, sizeof(h), "unlimited");
        else
            snprintf(h, sizeof(h), "%llu", (unsigned long long)rl.rlim_max);
        emitf(key, "%s %s", s, h);
    }
}

static void probe_cwd(void) {
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof(buf)))
        emitf("cwd", "ERR %s", errname(errno));
    else
        emit("cwd", buf);
}

static void probe_env(void) {
    int i = 0;
    for (char **e = environ; *e; e++, i++) {
        char key[32];
        keyf(key, sizeof(key), "env.%d", i);
        emit(key, *e);
    }
    emitf("env.count", "%d", i);
}

static void probe_args(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        char key[32];
        keyf(key, sizeof(key), "argv.%d", i);
        emit(key, argv[i]);
    }
    emitf("argv.count", "%d", argc);
}

/* file PATH: content (first MiB) */
static void probe_file(const char *path) {
    char key[PATH_MAX + 16];
    size_t len;
    keyf(key, sizeof(key), "file.%s", path);
    int e = read_file(path, bigbuf, sizeof(bigbuf), &len);
    if (e)
        emitf(key, "ERR %s", errname(e));
    else
        emit_n(key, bigbuf, len);
}

static void describe_stat(char *buf, size_t n, const struct stat *st) {
    const char *t = "?";
    switch (st->st_mode & S_IFMT) {
    case S_IFREG: t = "f"; break;
    case S_IFDIR: t = "d"; break;
    case S_IFCHR: t = "c"; break;
    case S_IFBLK: t = "b"; break;
    case S_IFIFO: t = "p"; break;
    case S_IFLNK: t = "l"; break;
    case S_IFSOCK: t = "s"; break;
    }
    snprintf(buf, n, "type=%s mode=%04o uid=%u gid=%u major=%u minor=%u dev=%llu ino=%llu size=%lld", t,
             (unsigned)(st->st_mode & 07777), (unsigned)st->st_uid, (unsigned)st->st_gid,
             major(st->st_rdev), minor(st->st_rdev), (unsigned long long)st->st_dev,
             (unsigned long long)st->st_ino, (long long)st->st_size);
}

/* stat PATH (follows symlinks), lstat PATH (+ readlink target) */
static void probe_stat(const char *path, int follow) {
    char key[PATH_MAX + 16], buf[512];
    struct stat st;
    keyf(key, sizeof(key), "%s.%s", follow ? "stat" : "lstat", path);
    int r = follow ? stat(path, &st) : lstat(path, &st);
    if (r != 0) {
        emitf(key, "ERR %s", errname(errno));
        return;
    }
    describe_stat(buf, sizeof(buf), &st);
    emit(key, buf);
    if (!follow && S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        keyf(key, sizeof(key), "readlink.%s", path);
        if (n < 0)
            emitf(key, "ERR %s", errname(errno));
        else {
            target[n] = 0;
            emit(key, target);
        }
    }
}

/* read PATH: open O_RDONLY and read up to 4 KiB: "OK <nbytes>" or "ERR E..." */
static void probe_read(const char *path) {
    char key[PATH_MAX + 16], buf[4096];
    keyf(key, sizeof(key), "read.%s", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        emitf(key, "ERR %s", errname(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0)
        emitf(key, "ERR %s", errname(errno));
    else
        emitf(key, "OK %zd", n);
    close(fd);
}

/* open PATH MODE(r|w|rw): "OK" or "ERR E..." (nothing read or written) */
static void probe_open(const char *path, const char *mode) {
    char key[PATH_MAX + 16];
    int flags = O_RDONLY;
    if (strcmp(mode, "w") == 0)
        flags = O_WRONLY;
    else if (strcmp(mode, "rw") == 0)
        flags = O_RDWR;
    keyf(key, sizeof(key), "open.%s.%s", mode, path);
    int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        emitf(key, "ERR %s", errname(errno));
        return;
    }
    emit(key, "OK");
    close(fd);
}

/* write PATH DATA: open O_WRONLY|O_TRUNC? no: plain O_WRONLY and write DATA */
static void probe_write(const char *path, const char *data) {
    char key[PATH_MAX + 16];
    keyf(key, sizeof(key), "write.%s", path);
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        emitf(key, "ERR %s", errname(errno));
        return;
    }
    ssize_t n = write(fd, data, strlen(data));
    if (n < 0)
        emitf(key, "ERR %s", errname(errno));
    else
        emitf(key, "OK %zd", n);
    close(fd);
}

/* create DIR: create and remove a file in DIR: "OK" or "ERR E..." */
static void probe_create(const char *dir) {
    char key[PATH_MAX + 16], path[PATH_MAX];
    keyf(key, sizeof(key), "create.%s", dir);
    snprintf(path, sizeof(path), "%s/.conformance-probe-%d", strcmp(dir, "/") ? dir : "", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        emitf(key, "ERR %s", errname(errno));
        return;
    }
    close(fd);
    unlink(path);
    emit(key, "OK");
}

/* list DIR: sorted-ish names, space separated */
static void probe_list(const char *dir) {
    char key[PATH_MAX + 16];
    keyf(key, sizeof(key), "list.%s", dir);
    DIR *d = opendir(dir);
    if (!d) {
        emitf(key, "ERR %s", errname(errno));
        return;
    }
    size_t off = 0;
    bigbuf[0] = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        off += (size_t)snprintf(bigbuf + off, sizeof(bigbuf) - off, "%s%s", off ? " " : "", de->d_name);
        if (off >= sizeof(bigbuf) - 256)
            break;
    }
    closedir(d);
    emit(key, bigbuf);
}

static void probe_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        emitf("fds", "ERR %s", errname(errno));
        return;
    }
    int self = dirfd(d);
    char buf[4096] = "";
    size_t off = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        int fd = atoi(de->d_name);
        if (fd == self)
            continue;
        char link[64], target[256];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        target[n < 0 ? 0 : n] = 0;
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%d", off ? " " : "", fd);
        char key[32];
        keyf(key, sizeof(key), "fd.%d", fd);
        emit(key, target);
    }
    closedir(d);
    emit("fds", buf);
}

static void probe_oom(void) { probe_file("/proc/self/oom_score_adj"); }

/* exec PATH: fork, execve PATH, report errno of execve or exit status */
static void probe_exec(const char *path) {
    char key[PATH_MAX + 16];
    keyf(key, sizeof(key), "exec.%s", path);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        emitf(key, "ERR %s", errname(errno));
        return;
    }
    flush_out();
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {(char *)path, (char *)"true-probe", NULL};
        execve(path, argv, environ);
        int e = errno;
        (void)!write(pfd[1], &e, sizeof(e));
        _exit(127);
    }
    close(pfd[1]);
    int e = 0;
    ssize_t n = read(pfd[0], &e, sizeof(e));
    close(pfd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (n == (ssize_t)sizeof(e))
        emitf(key, "ERR %s", errname(e));
    else
        emit(key, "OK");
}

/* syscall NAME [ARG]: run a harmless syscall, report its errno */
static void probe_syscall(const char *name, const char *arg) {
    char key[128];
    long r = -1;
    errno = 0;
    if (arg)
        keyf(key, sizeof(key), "syscall.%s.%s", name, arg);
    else
        keyf(key, sizeof(key), "syscall.%s", name);
    if (strcmp(name, "sysinfo") == 0) {
        struct sysinfo si;
        r = syscall(SYS_sysinfo, &si);
    } else if (strcmp(name, "getpgid") == 0) {
        r = syscall(SYS_getpgid, arg ? atol(arg) : 0L);
    } else if (strcmp(name, "getpriority") == 0) {
        r = syscall(SYS_getpriority, PRIO_PROCESS, 0);
    } else {
        emit(key, "ERR unknown-syscall");
        return;
    }
    if (r < 0)
        emitf(key, "ERR %s", errname(errno));
    else
        emit(key, "OK");
}

static void probe_sched(void) {
    int pol = sched_getscheduler(0);
    emitf("sched.policy", "%d", pol);
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    emitf("sched.nice", "%d", errno ? -1000 : nice);
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        char buf[1024] = "";
        size_t off = 0;
        for (int i = 0; i < CPU_SETSIZE; i++)
            if (CPU_ISSET(i, &set))
                off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%d", off ? "," : "", i);
        emit("sched.affinity", buf);
    }
#ifdef SYS_ioprio_get
    long io = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
    if (io < 0)
        emitf("ioprio", "ERR %s", errname(errno));
    else
        emitf("ioprio", "class=%ld level=%ld", io >> 13, io & 0x1fff);
#endif
    int pers = personality(0xffffffff);
    emitf("personality", "0x%x", (unsigned)pers);
}

static void probe_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    emitf("clock.monotonic", "%lld", (long long)ts.tv_sec);
    clock_gettime(CLOCK_BOOTTIME, &ts);
    emitf("clock.boottime", "%lld", (long long)ts.tv_sec);
}

/* sigwait: block everything, announce, report the first signal received */
static void probe_sigwait(void) {
    sigset_t set;
    sigfillset(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    emit("sigwait", "ready");
    flush_out();
    siginfo_t si;
    int sig;
    do {
        sig = sigwaitinfo(&set, &si);
    } while (sig < 0 && errno == EINTR);
    emitf("signal", "%d", sig);
}

/* hook NAME LOGDIR [ARGS...]: record a hook invocation.  Appends NAME to
 * LOGDIR/order and writes LOGDIR/NAME.out with the state read from stdin,
 * namespaces, argv and env. */
static int run_hook(int argc, char **argv) {
    if (argc < 4)
        return 2;
    const char *name = argv[2], *dir = argv[3];
    char path[PATH_MAX];
    size_t len = 0;
    ssize_t n;
    while ((n = read(0, bigbuf + len, sizeof(bigbuf) - 1 - len)) > 0)
        len += (size_t)n;
    bigbuf[len] = 0;
    snprintf(path, sizeof(path), "%s/%s.out", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || dup2(fd, 1) < 0)
        return 3;
    close(fd);
    emit_n("stdin", bigbuf, len);
    probe_ns();
    probe_args(argc, argv);
    probe_env();
    probe_cwd();
    emitf("pid", "%d", (int)getpid());
    flush_out();
    snprintf(path, sizeof(path), "%s/order", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return 3;
    char line[256];
    int l = snprintf(line, sizeof(line), "%s\n", name);
    (void)!write(fd, line, (size_t)l);
    close(fd);
    const char *fail = getenv("CONFORMANCE_HOOK_EXIT");
    const char *slp = getenv("CONFORMANCE_HOOK_SLEEP");
    if (slp)
        sleep((unsigned)atoi(slp));
    return fail ? atoi(fail) : 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: checker PROBE [ARGS] [, PROBE [ARGS]]...\n"
            "probes: ns status ids umask uname rlimits cwd env args fds oom sched clock\n"
            "        file PATH | stat PATH | lstat PATH | read PATH | open PATH r|w|rw\n"
            "        write PATH DATA | create DIR | list DIR | exec PATH\n"
            "        syscall NAME [ARG] | sigwait | sleep SECONDS | echo TEXT | exit CODE\n"
            "hook:   checker hook NAME LOGDIR [ARGS...]\n");
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "hook") == 0)
        return run_hook(argc, argv);
    if (argc < 2) {
        usage();
        return 2;
    }
    int i = 1;
    while (i < argc) {
        int end = i;
        while (end < argc && strcmp(argv[end], ",") != 0)
            end++;
        int n = end - i;
        char **a = argv + i;
        const char *p = a[0];
#define NEED(k)                                                                                     \
    if (n < (k) + 1) {                                                                              \
        fprintf(stderr, "checker: %s needs %d argument(s)\n", p, k);                                \
        flush_out();                                                                                \
        return 2;                                                                                   \
    }
        if (!strcmp(p, "ns")) probe_ns();
        else if (!strcmp(p, "status")) probe_status();
        else if (!strcmp(p, "ids")) probe_ids();
        else if (!strcmp(p, "umask")) probe_umask();
        else if (!strcmp(p, "uname")) probe_uname();
        else if (!strcmp(p, "rlimits")) probe_rlimits();
        else if (!strcmp(p, "cwd")) probe_cwd();
        else if (!strcmp(p, "env")) probe_env();
        else if (!strcmp(p, "args")) probe_args(argc, argv);
        else if (!strcmp(p, "fds")) probe_fds();
        else if (!strcmp(p, "oom")) probe_oom();
        else if (!strcmp(p, "sched")) probe_sched();
        else if (!strcmp(p, "clock")) probe_clock();
        else if (!strcmp(p, "sigwait")) probe_sigwait();
        else if (!strcmp(p, "file")) { NEED(1); probe_file(a[1]); }
        else if (!strcmp(p, "stat")) { NEED(1); probe_stat(a[1], 1); }
        else if (!strcmp(p, "lstat")) { NEED(1); probe_stat(a[1], 0); }
        else if (!strcmp(p, "read")) { NEED(1); probe_read(a[1]); }
        else if (!strcmp(p, "open")) { NEED(2); probe_open(a[1], a[2]); }
        else if (!strcmp(p, "write")) { NEED(2); probe_write(a[1], a[2]); }
        else if (!strcmp(p, "create")) { NEED(1); probe_create(a[1]); }
        else if (!strcmp(p, "list")) { NEED(1); probe_list(a[1]); }
        else if (!strcmp(p, "exec")) { NEED(1); probe_exec(a[1]); }
        else if (!strcmp(p, "syscall")) { NEED(1); probe_syscall(a[1], n > 2 ? a[2] : NULL); }
        else if (!strcmp(p, "echo")) { NEED(1); emit("echo", a[1]); }
        else if (!strcmp(p, "sleep")) { NEED(1); flush_out(); sleep((unsigned)atoi(a[1])); }
        else if (!strcmp(p, "exit")) { NEED(1); flush_out(); return atoi(a[1]); }
        else if (!strcmp(p, "true-probe")) { return 0; }
        else {
            fprintf(stderr, "checker: unknown probe %s\n", p);
            usage();
            flush_out();
            return 2;
        }
        flush_out();
        i = end + 1;
    }
    emit("done", "1");
    flush_out();
    return 0;
}
