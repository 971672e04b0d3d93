"""A Kubernetes-like bundle: what containerd's CRI plugin hands the runtime
for an ordinary pod container, give or take the pod's shared namespaces
(here every namespace is the container's own, the cgroup namespace too).

- docker's (moby's) default seccomp profile, in the OCI form docker and
  containerd send (x86_64, a container without extra capabilities),
- 20 mounts: proc, dev, devpts, mqueue, sysfs, cgroup, shm, the pod's
  /etc/hosts, /etc/hostname, /etc/resolv.conf, /dev/termination-log, the
  service-account token, config maps and emptyDir volumes (bind mounts of
  files and directories the bundle holds),
- pid, network, ipc, uts, mount and cgroup namespaces,
- resources as the kubelet sets them (cpu shares/quota/period, memory
  limit and swap, pids limit, docker's default device list), oomScoreAdj,
  docker's default capabilities, masked and read-only paths.
"""
from __future__ import annotations

import errno
import os
from typing import Any

# moby profiles/seccomp/default.json, the names allowed unconditionally
DOCKER_ALLOW = """
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32 clock_adjtime
clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1
epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2
fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat
fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait
futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid
getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1
inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set
io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32
lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall
mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe
pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64
process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv
recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall
rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid
setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid
setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn
socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs
sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill
truncate truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice
wait4 waitid waitpid write writev
""".split()

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
               "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def docker_seccomp() -> dict[str, Any]:
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.EPERM,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": DOCKER_ALLOW, "action": "SCMP_ACT_ALLOW"},
            {"names": ["process_vm_readv", "process_vm_writev", "ptrace"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
            *({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
               "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]}
              for v in (0, 8, 131072, 131080, 4294967295)),
            {"names": ["arch_prctl", "modify_ldt"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOSYS},
        ],
    }


# docker's default device cgroup rules (after the deny-all)
_DEVICES = [("c", 1, 3), ("c", 1, 5), ("c", 1, 7), ("c", 1, 8), ("c", 1, 9), ("c", 5, 0), ("c", 5, 1),
            ("c", 136, -1), ("c", 5, 2), ("c", 10, 200)]


def prepare_volumes(directory: str, rootfs: str) -> list[dict[str, Any]]:
    """Files and directories the pod's bind mounts come from (under directory),
    and their mount points in rootfs (made here, so no runtime pays for them);
    returns the 13 mounts beyond the 7 of `runc spec`."""
    os.makedirs(directory, exist_ok=True)
    files = {"hosts": "127.0.0.1 localhost\n", "hostname": "bench\n",
             "resolv.conf": "nameserver 10.96.0.10\nsearch default.svc.cluster.local\n",
             "termination-log": ""}
    for name, text in files.items():
        with open(os.path.join(directory, name), "w") as f:
            f.write(text)
    dirs = ["shm", "token", "config-a", "config-b", "empty-a", "empty-b", "empty-c", "empty-d", "secret"]
    for d in dirs:
        os.makedirs(os.path.join(directory, d), exist_ok=True)
    with open(os.path.join(directory, "token", "token"), "w") as f:
        f.write("x")

    def bind(src: str, dst: str, ro: bool) -> dict[str, Any]:
        return {"destination": dst, "type": "bind", "source": os.path.join(directory, src),
                "options": ["rbind", "rprivate", "ro" if ro else "rw"]}

    mounts = [
        bind("hosts", "/etc/hosts", False),
        bind("hostname", "/etc/hostname", False),
        bind("resolv.conf", "/etc/resolv.conf", False),
        bind("termination-log", "/dev/termination-log", False),
        bind("token", "/var/run/secrets/kubernetes.io/serviceaccount", True),
        bind("config-a", "/etc/config-a", True),
        bind("config-b", "/etc/config-b", True),
        bind("secret", "/etc/secret", True),
        bind("empty-a", "/data/a", False),
        bind("empty-b", "/data/b", False),
        bind("empty-c", "/data/c", False),
        bind("empty-d", "/cache", False),
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]},
    ]
    for m in mounts:
        point = os.path.join(rootfs, m["destination"].lstrip("/"))
        if os.path.isfile(m["source"]):
            os.makedirs(os.path.dirname(point), exist_ok=True)
            open(point, "a").close()
        else:
            os.makedirs(point, exist_ok=True)
    return mounts


def config(base: dict[str, Any], directory: str, volumes: list[dict[str, Any]]) -> dict[str, Any]:
    """base: the `runc spec`-like config of bundle.config(); directory and
    volumes: from prepare_volumes(); returns the Kubernetes-like config
    (base is not modified)."""
    import copy

    c = copy.deepcopy(base)
    proc = c["process"]
    proc["capabilities"] = {k: list(DOCKER_CAPS) for k in ("bounding", "effective", "permitted")}
    proc["oomScoreAdj"] = 1000
    proc["noNewPrivileges"] = False
    proc["env"] += [f"KUBERNETES_SERVICE_{i}=10.96.0.{i}" for i in range(20)]
    c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/dev/shm"]
    c["mounts"].insert(3, {"destination": "/dev/shm", "type": "bind", "source": os.path.join(directory, "shm"),
                           "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]})
    c["mounts"] += volumes
    c["linux"]["namespaces"] = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")]
    c["linux"]["seccomp"] = docker_seccomp()
    c["linux"]["resources"] = {
        "devices": [{"allow": False, "access": "rwm"}] + [
            {"allow": True, "type": t, "major": ma, "minor": mi, "access": "rwm"} if mi >= 0 else
            {"allow": True, "type": t, "major": ma, "access": "rwm"} for t, ma, mi in _DEVICES],
        "memory": {"limit": 256 * 1024 * 1024, "swap": 256 * 1024 * 1024},
        "cpu": {"shares": 256, "quota": 50000, "period": 100000},
        "pids": {"limit": 1024},
    }
    c["linux"]["maskedPaths"] += ["/proc/interrupts", "/proc/kcore", "/sys/devices/virtual/powercap"]
    c["linux"]["readonlyPaths"] = sorted(set(c["linux"]["readonlyPaths"]))
    c["linux"]["sysctl"] = {"net.ipv4.ip_unprivileged_port_start": "0"}
    return c
