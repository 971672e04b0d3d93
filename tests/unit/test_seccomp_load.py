"""Compiled seccomp programs loaded for real: a forked child sets
no_new_privs, loads the program with seccomp(2) (as the C init does), makes
syscalls and reports over a pipe; the parent checks errno / kill / trap /
allow behaviour, the -ENOSYS prologue, flags, the NOTIFY listener, and that
docker- and podman-like default profiles load and run busybox."""
from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import select
import signal
import socket
import struct
import tempfile
import threading
import time
from typing import Any, Callable

import pytest

from pyrunc.linux import seccomp as sc

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
BUSYBOX = "/bin/busybox"
CHILD_DEADLINE = 60.0  # safety net against a wedged child, not a timing assertion


def nr(name: str) -> int:
    from pyrunc.linux._seccomp import lib  # type: ignore[import-not-found]

    n = lib.seccomp_syscall_resolve_name(name.encode())
    assert n >= 0, name
    return n


def raw(name_or_nr: str | int, *args: int) -> tuple[int, int]:
    """(return value, errno) of a raw syscall."""
    n = nr(name_or_nr) if isinstance(name_or_nr, str) else name_or_nr
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(n), *(ctypes.c_long(a) for a in args))
    return rc, ctypes.get_errno() if rc == -1 else 0


def run_child(program: sc.SeccompProgram | None, body: Callable[[], Any],
              before: Callable[[], Any] | None = None) -> tuple[Any, int]:
    """Fork; the child runs before(), sets NNP, loads `program`, runs body()
    and writes its JSON result to a pipe. Returns (result or None, wait status)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(r)
            if before is not None:
                before()
            if program is not None:
                sc.set_no_new_privs()
                sc.load_program(program)
            out = json.dumps({"ok": body()}).encode()
        except BaseException as e:
            out = json.dumps({"err": f"{type(e).__name__}: {e}"}).encode()
        os.write(w, out)
        os._exit(0)
    os.close(w)
    data = b""
    deadline = time.monotonic() + CHILD_DEADLINE
    try:
        while True:
            ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError("child did not finish")
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(r)
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if not data:
        return None, status
    res = json.loads(data)
    if "err" in res:
        raise AssertionError(f"child failed: {res['err']}")
    return res["ok"], status


def compile_(cfg: dict) -> sc.SeccompProgram:
    prog = sc.compile_seccomp(cfg)
    assert prog is not None
    return prog


def status_fields(path: str = "/proc/self/status") -> dict[str, str]:
    with open(path) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


# ---------------------------------------------------------------- actions


def test_loaded_filter_shows_in_proc_status() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ALLOW",
                     "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]})

    def body() -> list[str]:
        s = status_fields()
        return [s["Seccomp"], s["Seccomp_filters"], s["NoNewPrivs"]]

    assert run_child(prog, body)[0] == ["2", "1", "1"]
    assert run_child(None, body)[0][0] == "0"


def test_errno_default_eperm_and_errno_ret() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["getpgrp", "getsid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOTUNIQ},
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0},
    ]})
    res, status = run_child(prog, lambda: [raw("getppid"), raw("getpgrp"), raw("getsid", 0),
                                           raw("getpgid", 0), raw("getuid")])
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert res[0] == [-1, errno.EPERM]
    assert res[1] == [-1, errno.ENOTUNIQ] and res[2] == [-1, errno.ENOTUNIQ]
    assert res[3] == [0, 0]  # errnoRet 0: "succeeds" without running
    assert res[4] == [os.getuid(), 0]  # not listed: default allow


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS"])
def test_kill_actions_kill_with_sigsys(action: str) -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": action}]})
    res, status = run_child(prog, lambda: raw("getppid"))
    assert res is None
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


def _thread_calls(name: str) -> Callable[[], Any]:
    def body() -> Any:
        survived: list[Any] = []
        t = threading.Thread(target=lambda: survived.append(raw(name)))
        t.start()
        # wait until the thread is gone from the kernel's view (killed or returned)
        while len(os.listdir("/proc/self/task")) > 1:
            time.sleep(0.01)
        return {"main_alive": True, "thread_returned": bool(survived)}

    return body


def test_kill_thread_kills_only_the_thread() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ALLOW",
                     "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_THREAD"}]})
    res, status = run_child(prog, _thread_calls("getppid"))
    assert res == {"main_alive": True, "thread_returned": False}
    assert os.WIFEXITED(status)


def test_kill_process_kills_the_whole_process_from_a_thread() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ALLOW",
                     "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]})
    res, status = run_child(prog, _thread_calls("getppid"))
    assert res is None
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


def test_trap_delivers_sigsys() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ALLOW",
                     "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_TRAP"}]})
    trapped: list[int] = []

    def before() -> None:
        signal.signal(signal.SIGSYS, lambda signum, frame: trapped.append(signum))

    def body() -> Any:
        rc = raw("getppid")
        return {"trapped": list(trapped), "rc": rc}

    res, status = run_child(prog, body, before)
    assert os.WIFEXITED(status)
    assert res["trapped"] == [signal.SIGSYS]
    assert res["rc"][0] != os.getpid()  # the syscall did not run


def test_trace_without_tracer_is_enosys() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ALLOW",
                     "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 3}]})
    res, _ = run_child(prog, lambda: raw("getppid"))
    assert res == [-1, errno.ENOSYS]


@pytest.mark.parametrize("action", ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"])
def test_allow_and_log_run_the_syscall(action: str) -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["getppid"], "action": action},
        {"names": ["write", "exit_group", "exit", "brk", "mmap", "munmap", "mremap", "madvise", "rt_sigaction",
                   "rt_sigprocmask", "rt_sigreturn", "futex", "close", "read", "getrandom"],
         "action": "SCMP_ACT_ALLOW"}]})
    res, _ = run_child(prog, lambda: [raw("getppid"), raw("getuid")])
    assert res[0] == [os.getpid(), 0]  # parent of the child = us
    assert res[1] == [-1, errno.EPERM]  # not listed: default


def test_log_default_allows() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_LOG",
                     "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]})
    res, _ = run_child(prog, lambda: [raw("getuid"), raw("getppid")])
    assert res == [[os.getuid(), 0], [-1, errno.EPERM]]


# ---------------------------------------------------------------- operators


OPS = {  # op, value, valueTwo, args that match, args that do not
    "SCMP_CMP_EQ": (1000, 0, [1000], [999, 1001]),
    "SCMP_CMP_NE": (1000, 0, [999, 0], [1000]),
    "SCMP_CMP_LT": (1000, 0, [999, 0], [1000, 5000]),
    "SCMP_CMP_LE": (1000, 0, [1000, 1], [1001]),
    "SCMP_CMP_GT": (1000, 0, [1001, 1 << 40], [1000, 3]),
    "SCMP_CMP_GE": (1000, 0, [1000, 4000], [999]),
    "SCMP_CMP_MASKED_EQ": (0xF0, 0x30, [0x30, 0x3F, 0x130], [0x20, 0xF0]),
}


@pytest.mark.parametrize("op", sorted(OPS))
def test_argument_operators(op: str) -> None:
    value, value_two, hit, miss = OPS[op]
    arg = {"index": 0, "value": value, "op": op}
    if op == "SCMP_CMP_MASKED_EQ":
        arg["valueTwo"] = value_two
    prog = compile_({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOTUNIQ, "args": [arg]}]})
    res, _ = run_child(prog, lambda: [raw("getpgid", a)[1] for a in hit + miss])
    got_hit, got_miss = res[: len(hit)], res[len(hit):]
    assert got_hit == [errno.ENOTUNIQ] * len(hit)
    assert errno.ENOTUNIQ not in got_miss  # ESRCH from the kernel, the syscall ran


def test_args_on_different_indexes_are_and() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOTUNIQ, "args": [
            {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 12345, "op": "SCMP_CMP_EQ"}]}]})
    res, _ = run_child(prog, lambda: [raw("getpriority", 0, 12345)[1], raw("getpriority", 0, 0)[1],
                                      raw("getpriority", 1, 12345)[1]])
    assert res[0] == errno.ENOTUNIQ
    assert res[1] != errno.ENOTUNIQ and res[2] != errno.ENOTUNIQ


def test_args_on_the_same_index_are_or_like_runc() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOTUNIQ, "args": [
            {"index": 0, "value": 5, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]}]})
    res, _ = run_child(prog, lambda: [raw("getpgid", v)[1] for v in (5, 6, 7)])
    assert res[0] == errno.ENOTUNIQ and res[2] == errno.ENOTUNIQ
    assert res[1] != errno.ENOTUNIQ


# ---------------------------------------------------------------- -ENOSYS / default errno

PY_MINIMUM = ["write", "exit_group", "exit", "brk", "mmap", "munmap", "mremap", "madvise", "rt_sigaction",
              "rt_sigprocmask", "rt_sigreturn", "futex", "close", "read", "getrandom"]  # getrandom = 318 is the top


def test_syscalls_newer_than_the_profile_get_enosys() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ERRNO",
                     "syscalls": [{"names": PY_MINIMUM, "action": "SCMP_ACT_ALLOW"}]})
    res, _ = run_child(prog, lambda: [raw("getppid"), raw("statx", -1, 0, 0, 0, 0), raw("fchmodat2", -1, 0, 0, 0)])
    assert res[0] == [-1, errno.EPERM]  # older than the profile's newest syscall: denied
    assert res[1] == [-1, errno.ENOSYS]  # statx (332) > getrandom (318): "unknown to the profile"
    assert res[2] == [-1, errno.ENOSYS]


def test_kill_default_still_gives_enosys_for_new_syscalls() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_KILL_PROCESS",
                     "syscalls": [{"names": PY_MINIMUM, "action": "SCMP_ACT_ALLOW"}]})
    res, status = run_child(prog, lambda: raw("statx", -1, 0, 0, 0, 0))
    assert res == [-1, errno.ENOSYS] and os.WIFEXITED(status)
    res, status = run_child(prog, lambda: raw("getppid"))
    assert res is None and os.WTERMSIG(status) == signal.SIGSYS


# ---------------------------------------------------------------- flags


def test_tsync_applies_to_other_threads() -> None:
    def body_for(prog: sc.SeccompProgram) -> Callable[[], Any]:
        def body() -> Any:
            stop = threading.Event()
            t = threading.Thread(target=stop.wait)
            t.start()
            tid = [int(x) for x in os.listdir("/proc/self/task") if int(x) != os.getpid()][0]
            sc.set_no_new_privs()
            sc.load_program(prog)
            other = status_fields(f"/proc/self/task/{tid}/status")["Seccomp"]
            stop.set()
            t.join()
            return other

        return body

    base = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]}
    with_tsync = compile_({**base, "flags": ["SECCOMP_FILTER_FLAG_TSYNC"]})
    without = compile_({**base, "flags": []})
    assert run_child(None, body_for(with_tsync))[0] == "2"
    assert run_child(None, body_for(without))[0] == "0"


@pytest.mark.parametrize("flag", ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"])
def test_flags_are_accepted_by_the_kernel(flag: str) -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag],
                     "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]})
    assert prog.flags == sc.FLAGS[flag]
    res, _ = run_child(prog, lambda: raw("getppid"))
    assert res == [-1, errno.EPERM]


# ---------------------------------------------------------------- NOTIFY

NOTIF_SIZE, RESP_SIZE = 80, 24
SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101


@pytest.mark.parametrize("extra_flags", [[], ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]])
def test_notify_listener_gets_fd_and_answers(extra_flags: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "agent.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        srv.settimeout(CHILD_DEADLINE)
        prog = compile_({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path, "listenerMetadata": "agent-meta",
                         "flags": extra_flags, "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]})
        assert prog.notify and prog.flags & sc.SECCOMP_FILTER_FLAG_NEW_LISTENER
        agent: dict[str, Any] = {}

        def run_agent() -> None:
            try:
                conn, _ = srv.accept()
                with conn:
                    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 2)
                    while chunk := conn.recv(1 << 16):
                        data += chunk
                agent["msg"] = json.loads(data)
                agent["nfds"] = len(fds)
                lfd = fds[0]
                try:
                    req = bytearray(NOTIF_SIZE)
                    fcntl.ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req)
                    nid, pid, _flags, sysnr = struct.unpack_from("=QIIi", req)
                    agent["req"] = {"pid": pid, "nr": sysnr}
                    resp = bytearray(struct.pack("=QqiI", nid, 4242, 0, 0))
                    fcntl.ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, resp)
                finally:
                    os.close(lfd)
            except BaseException as e:  # reported by the asserts below
                agent["error"] = repr(e)

        t = threading.Thread(target=run_agent, daemon=True)
        t.start()

        def child_load_and_call() -> Any:
            sc.set_no_new_privs()
            lfd = sc.load_program(prog)
            state = {"ociVersion": "1.3.0", "id": "ctr", "status": "creating", "pid": os.getpid(), "bundle": d}
            sc.send_to_listener(prog.listener_path, lfd, state, prog.listener_metadata)
            os.close(lfd)
            return {"pid": os.getpid(), "getppid": raw("getppid")}

        try:
            res, status = run_child(None, child_load_and_call)
        finally:
            srv.close()
            t.join(CHILD_DEADLINE)
        assert "error" not in agent, agent.get("error")
        msg = agent["msg"]
        assert msg["fds"] == ["seccompFd"] and agent["nfds"] == 1
        assert msg["metadata"] == "agent-meta"
        assert msg["pid"] == res["pid"] and msg["state"]["id"] == "ctr" and msg["state"]["status"] == "creating"
        assert agent["req"] == {"pid": res["pid"], "nr": nr("getppid")}
        assert res["getppid"] == [4242, 0]  # the agent's answer, not our pid
        assert os.WIFEXITED(status)


# ---------------------------------------------------------------- default profiles

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


def docker_like_profile() -> dict:
    """Equivalent of moby's profiles/seccomp/default.json for a container
    without extra capabilities (x86_64)."""
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


def podman_like_profile() -> dict:
    """containers/common's default: unknown syscalls get ENOSYS, a set of
    dangerous ones EPERM explicitly."""
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.ENOSYS,
        "archMap": None,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["bdflush", "cachestat", "io_pgetevents", "kexec_file_load", "kexec_load", "migrate_pages",
                       "move_pages", "nfsservctl", "nice", "oldfstat", "oldlstat", "oldolduname", "oldstat",
                       "olduname", "pciconfig_iobase", "pciconfig_read", "pciconfig_write", "sgetmask", "ssetmask",
                       "swapoff", "swapon", "syscall", "sysfs", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
                       "vmsplice"],
             "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM},
            {"names": [n for n in DOCKER_ALLOW if n not in ("cachestat", "io_pgetevents", "vmsplice")] + [
                "arch_prctl", "clone", "clone3", "personality", "socket", "ptrace", "process_vm_readv",
                "process_vm_writev", "modify_ldt"],
             "action": "SCMP_ACT_ALLOW"},
        ],
    }


def _busybox_after_load(prog: sc.SeccompProgram, script: str) -> tuple[str, int]:
    """Child loads `prog`, then forks and execs busybox sh -c script; returns
    (its stdout, its exit status)."""
    def body() -> Any:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.dup2(w, 1)
            os.execv(BUSYBOX, [BUSYBOX, "sh", "-c", script])
        os.close(w)
        out = b""
        while chunk := os.read(r, 4096):
            out += chunk
        _, st = os.waitpid(pid, 0)
        return [out.decode(), st]

    res, status = run_child(prog, body)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    return res[0], res[1]


@pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="busybox-static not installed")
@pytest.mark.parametrize("profile", [docker_like_profile, podman_like_profile])
def test_default_profiles_load_and_run_busybox(profile: Callable[[], dict]) -> None:
    prog = compile_(profile())
    out, st = _busybox_after_load(prog, "echo ok; busybox true && echo forked; grep Seccomp: /proc/self/status")
    assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0
    assert out.split("\n")[:2] == ["ok", "forked"]
    assert "Seccomp:\t2" in out


def test_docker_profile_denies_with_default_errno_and_rules() -> None:
    prog = compile_(docker_like_profile())

    def body() -> Any:
        return {"acct": raw("acct", 0), "clone3": raw("clone3", 0, 0), "vsock": raw("socket", 40, 1, 0),
                "unix": raw("socket", 1, 1, 0)[1], "personality_bad": raw("personality", 0x0400000),
                "ns_clone": raw("clone", 0x20000000 | signal.SIGCHLD, 0, 0, 0, 0)}

    res, status = run_child(prog, body)
    assert os.WIFEXITED(status)
    assert res["acct"] == [-1, errno.EPERM]  # not allowed: defaultErrnoRet
    assert res["clone3"] == [-1, errno.ENOSYS]  # explicit rule
    assert res["vsock"] == [-1, errno.EPERM]  # socket(AF_VSOCK) excluded by the NE arg
    assert res["unix"] == 0
    assert res["personality_bad"] == [-1, errno.EPERM]
    assert res["ns_clone"] == [-1, errno.EPERM]  # CLONE_NEWUTS masked out


def test_podman_profile_default_errno_is_enosys() -> None:
    prog = compile_(podman_like_profile())
    res, _ = run_child(prog, lambda: {"acct": raw("acct", 0), "swapon": raw("swapon", 0, 0)})
    assert res["acct"] == [-1, errno.ENOSYS]  # defaultErrnoRet
    assert res["swapon"] == [-1, errno.EPERM]  # explicit errnoRet
