"""pyrunc.linux.process_attrs: validation, and the values applied for real in
a forked child (sched_setattr, ioprio_set, personality, set_mempolicy,
sched_setaffinity, setrlimit) read back from the kernel."""
from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
from typing import Any, Callable

import pytest

from pyrunc.errors import ConfigError, UnsupportedError
from pyrunc.linux import process_attrs as pa

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

SYS_ioprio_set, SYS_ioprio_get = 251, 252
SYS_sched_setattr, SYS_sched_getattr = 314, 315
SYS_set_mempolicy, SYS_get_mempolicy = 238, 239


def in_child(fn: Callable[[], Any]) -> Any:
    """Run fn in a forked child; return its JSON-able result (or raise its error)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = {"ok": fn()}
        except BaseException as e:  # report everything to the parent
            out = {"err": f"{type(e).__name__}: {e}"}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    try:
        data = b""
        while chunk := os.read(r, 65536):
            data += chunk
    finally:
        os.close(r)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    res = json.loads(data)
    if "err" in res:
        raise AssertionError(res["err"])
    return res["ok"]


# ---------------------------------------------------------------- rlimits


def test_rlimits_resolve() -> None:
    out = pa.resolve_rlimits([
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 18446744073709551615},
    ])
    assert [(r.resource, r.soft, r.hard) for r in out] == [
        (resource.RLIMIT_NOFILE, 1024, 4096),
        (resource.RLIMIT_CORE, 0, pa.RLIM_INFINITY),
    ]
    assert pa.resolve_rlimits(None) == []
    for name, num in pa.RLIMITS.items():
        if hasattr(resource, name):
            assert getattr(resource, name) == num


@pytest.mark.parametrize(
    "rl, field, words",
    [
        ([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}], "process.rlimits[0].type", "RLIMIT_BOGUS"),
        ([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}], "process.rlimits[0]", "soft limit 10"),
        ([{"type": "RLIMIT_NOFILE", "soft": -1, "hard": 5}], "process.rlimits[0].soft", "between"),
        ([{"type": "RLIMIT_NOFILE", "hard": 5}], "process.rlimits[0].soft", "required"),
        ([{"type": "RLIMIT_CPU", "soft": 1, "hard": 1}, {"type": "RLIMIT_CPU", "soft": 1, "hard": 1}],
         "process.rlimits[1].type", "duplicate"),
    ],
)
def test_rlimits_bad(rl: list, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        pa.resolve_rlimits(rl)
    assert e.value.field == field
    assert words in str(e.value)


def test_rlimits_over_caller_hard_limit_names_the_limit() -> None:
    if pa._has_cap(pa.CAP_SYS_RESOURCE):
        pytest.skip("caller has CAP_SYS_RESOURCE: raising limits is allowed")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with open("/proc/sys/fs/nr_open") as f:
        nr_open = int(f.read())
    if hard >= nr_open:
        pytest.skip("caller's RLIMIT_NOFILE hard limit already at fs.nr_open")
    want = min(hard * 2, nr_open)
    rls = pa.resolve_rlimits([{"type": "RLIMIT_CPU", "soft": 1, "hard": 1},
                              {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": want}])
    with pytest.raises(ConfigError) as e:
        pa.check_rlimits_against_caller(rls)
    assert str(e.value) == (
        f"process.rlimits[1]: RLIMIT_NOFILE hard limit {want} exceeds the caller's hard limit {hard} "
        "and pyrunc lacks CAP_SYS_RESOURCE"
    )
    # ...and the kernel agrees: raising it really fails
    def raise_it() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, want))

    with pytest.raises(AssertionError, match="ValueError"):
        in_child(raise_it)


def test_rlimits_within_caller_limits_pass_and_apply() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    rls = pa.resolve_rlimits([{"type": "RLIMIT_NOFILE", "soft": 100, "hard": hard}])
    pa.check_rlimits_against_caller(rls)

    def apply() -> list[int]:
        resource.setrlimit(rls[0].resource, (rls[0].soft, rls[0].hard))
        return list(resource.getrlimit(resource.RLIMIT_NOFILE))

    assert in_child(apply) == [100, hard]
    pa.check_rlimits_against_caller([{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}])  # raw dicts too


def test_rlimit_nofile_above_nr_open() -> None:
    with open("/proc/sys/fs/nr_open") as f:
        nr_open = int(f.read())
    with pytest.raises(ConfigError) as e:
        pa.check_rlimits_against_caller(pa.resolve_rlimits([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": nr_open + 1}]))
    assert "fs.nr_open" in str(e.value)


# ---------------------------------------------------------------- scheduler


def test_scheduler_values() -> None:
    a = pa.resolve_scheduler({"policy": "SCHED_BATCH", "nice": 5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]})
    assert a == pa.SchedAttr(policy=3, flags=1, nice=5)
    packed = a.pack()
    assert len(packed) == 56
    assert pa.resolve_scheduler(None) is None
    dl = pa.resolve_scheduler({"policy": "SCHED_DEADLINE", "runtime": 10000, "deadline": 20000, "period": 40000})
    assert (dl.policy, dl.runtime, dl.deadline, dl.period) == (6, 10000, 20000, 40000)
    rr = pa.resolve_scheduler({"policy": "SCHED_RR", "priority": 10})
    assert (rr.policy, rr.priority) == (2, 10)


@pytest.mark.parametrize(
    "cfg, field",
    [
        ({}, "process.scheduler.policy"),
        ({"policy": "SCHED_FAST"}, "process.scheduler.policy"),
        ({"policy": "SCHED_OTHER", "nice": 20}, "process.scheduler.nice"),
        ({"policy": "SCHED_OTHER", "priority": 3}, "process.scheduler.priority"),
        ({"policy": "SCHED_FIFO"}, "process.scheduler.priority"),
        ({"policy": "SCHED_FIFO", "priority": 100}, "process.scheduler.priority"),
        ({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_NOPE"]}, "process.scheduler.flags[0]"),
        ({"policy": "SCHED_OTHER", "runtime": 5}, "process.scheduler.runtime"),
        ({"policy": "SCHED_DEADLINE", "runtime": 10000, "deadline": 5000}, "process.scheduler.deadline"),
        ({"policy": "SCHED_DEADLINE", "runtime": 10, "deadline": 5000}, "process.scheduler.runtime"),
        ({"policy": "SCHED_BATCH", "flags": ["SCHED_FLAG_RECLAIM"]}, "process.scheduler.flags"),
    ],
)
def test_scheduler_bad(cfg: dict, field: str) -> None:
    with pytest.raises(ConfigError) as e:
        pa.resolve_scheduler(cfg)
    assert e.value.field == field


def test_scheduler_iso_unsupported() -> None:
    with pytest.raises(UnsupportedError):
        pa.resolve_scheduler({"policy": "SCHED_ISO"})


def test_scheduler_applies_with_sched_setattr() -> None:
    attr = pa.resolve_scheduler({"policy": "SCHED_BATCH", "nice": 7})

    def apply() -> list[int]:
        buf = ctypes.create_string_buffer(attr.pack(), 56)
        if libc.syscall(SYS_sched_setattr, 0, buf, 0) < 0:
            raise OSError(ctypes.get_errno(), "sched_setattr")
        return [os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)]

    assert in_child(apply) == [os.SCHED_BATCH, 7]


def test_scheduler_idle_applies() -> None:
    attr = pa.resolve_scheduler({"policy": "SCHED_IDLE"})

    def apply() -> int:
        buf = ctypes.create_string_buffer(attr.pack(), 56)
        if libc.syscall(SYS_sched_setattr, 0, buf, 0) < 0:
            raise OSError(ctypes.get_errno(), "sched_setattr")
        return os.sched_getscheduler(0)

    assert in_child(apply) == os.SCHED_IDLE


# ---------------------------------------------------------------- ioPriority


def test_io_priority_values() -> None:
    assert pa.resolve_io_priority({"class": "IOPRIO_CLASS_BE", "priority": 6}) == (2 << 13) | 6
    assert pa.resolve_io_priority({"class": "IOPRIO_CLASS_RT", "priority": 0}) == 1 << 13
    assert pa.resolve_io_priority({"class": "IOPRIO_CLASS_IDLE"}) == 3 << 13
    assert pa.resolve_io_priority(None) is None
    with pytest.raises(ConfigError) as e:
        pa.resolve_io_priority({"class": "IOPRIO_CLASS_BE", "priority": 8})
    assert e.value.field == "process.ioPriority.priority"
    with pytest.raises(ConfigError) as e:
        pa.resolve_io_priority({"class": "IOPRIO_CLASS_NONE"})
    assert e.value.field == "process.ioPriority.class"


def test_io_priority_applies() -> None:
    value = pa.resolve_io_priority({"class": "IOPRIO_CLASS_BE", "priority": 6})

    def apply() -> int:
        if libc.syscall(SYS_ioprio_set, pa.IOPRIO_WHO_PROCESS, 0, value) < 0:
            raise OSError(ctypes.get_errno(), "ioprio_set")
        return libc.syscall(SYS_ioprio_get, pa.IOPRIO_WHO_PROCESS, 0)

    assert in_child(apply) == value


# ---------------------------------------------------------------- personality


def test_personality_values() -> None:
    assert pa.resolve_personality({"domain": "LINUX"}) == 0
    assert pa.resolve_personality({"domain": "LINUX32"}) == 8
    assert pa.resolve_personality({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}) == 0x0040000
    for cfg, field in (({"domain": "BSD"}, "linux.personality.domain"), ({}, "linux.personality.domain"),
                       ({"domain": "LINUX", "flags": ["FAST"]}, "linux.personality.flags[0]")):
        with pytest.raises(ConfigError) as e:
            pa.resolve_personality(cfg)
        assert e.value.field == field


def test_personality_linux32_changes_uname() -> None:
    value = pa.resolve_personality({"domain": "LINUX32"})
    if os.uname().machine != "x86_64":
        pytest.skip("LINUX32 machine name checked on x86_64 only")

    def apply() -> str:
        libc.personality(ctypes.c_ulong(value))
        return os.uname().machine

    assert in_child(apply) in ("i686", "i386")


# ---------------------------------------------------------------- lists / affinity


def test_parse_id_list() -> None:
    assert pa.parse_id_list("0-3,7", "f") == 0b10001111
    assert pa.parse_id_list(" 1 , 3 - 4 ", "f") == 0b11010
    assert pa.parse_id_list("", "f") == 0
    assert pa.mask_to_id_list(0b10001111) == "0,1,2,3,7"
    for bad in ("3-1", "a", "1-", "-1", "1--2", "99999999", "1,2-x"):
        with pytest.raises(ConfigError) as e:
            pa.parse_id_list(bad, "process.execCPUAffinity.final")
        assert e.value.field == "process.execCPUAffinity.final"


def test_exec_cpu_affinity_applies() -> None:
    aff = pa.resolve_exec_cpu_affinity({"initial": "0", "final": "0-1"})
    assert (aff.initial, aff.final) == (1, 3)
    assert pa.resolve_exec_cpu_affinity({"final": "1"}).initial is None
    with pytest.raises(ConfigError):
        pa.resolve_exec_cpu_affinity({"final": " , "})
    cpus = sorted(os.sched_getaffinity(0))
    want = pa.resolve_exec_cpu_affinity({"final": str(cpus[-1])}).final

    def apply() -> list[int]:
        b = pa.CpuAffinity.cpu_set(want)
        assert len(b) >= 128
        if libc.sched_setaffinity(0, len(b), ctypes.create_string_buffer(b, len(b))) < 0:
            raise OSError(ctypes.get_errno(), "sched_setaffinity")
        return sorted(os.sched_getaffinity(0))

    assert in_child(apply) == [cpus[-1]]


# ---------------------------------------------------------------- memoryPolicy


def test_memory_policy_values() -> None:
    mp = pa.resolve_memory_policy({"mode": "MPOL_INTERLEAVE", "nodes": "0,2-3", "flags": ["MPOL_F_STATIC_NODES"]})
    assert mp.mode == 3 | (1 << 15)
    assert mp.nodes == 0b1101 and mp.node_list == "0,2,3"
    assert mp.nodemask == (0b1101).to_bytes(8, "little") and mp.maxnode == 65
    assert pa.resolve_memory_policy({"mode": "MPOL_DEFAULT"}) == pa.MemPolicy(0, 0, b"", 0)
    assert pa.resolve_memory_policy({"mode": "MPOL_PREFERRED"}).maxnode == 0
    assert pa.resolve_memory_policy({"mode": "MPOL_WEIGHTED_INTERLEAVE", "nodes": "0"}).mode == 6


@pytest.mark.parametrize(
    "cfg, field",
    [
        ({}, "linux.memoryPolicy.mode"),
        ({"mode": "MPOL_FAST"}, "linux.memoryPolicy.mode"),
        ({"mode": "MPOL_BIND"}, "linux.memoryPolicy.nodes"),
        ({"mode": "MPOL_BIND", "nodes": "x"}, "linux.memoryPolicy.nodes"),
        ({"mode": "MPOL_DEFAULT", "nodes": "0"}, "linux.memoryPolicy.nodes"),
        ({"mode": "MPOL_LOCAL", "flags": ["MPOL_F_STATIC_NODES"]}, "linux.memoryPolicy.flags"),
        ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NOPE"]}, "linux.memoryPolicy.flags[0]"),
        ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]},
         "linux.memoryPolicy.flags"),
    ],
)
def test_memory_policy_bad(cfg: dict, field: str) -> None:
    with pytest.raises(ConfigError) as e:
        pa.resolve_memory_policy(cfg)
    assert e.value.field == field


def test_memory_policy_applies() -> None:
    mp = pa.resolve_memory_policy({"mode": "MPOL_BIND", "nodes": "0"})

    def apply() -> list[int]:
        mask = ctypes.create_string_buffer(mp.nodemask, len(mp.nodemask))
        if libc.syscall(SYS_set_mempolicy, mp.mode, mask, ctypes.c_ulong(mp.maxnode)) < 0:
            raise OSError(ctypes.get_errno(), "set_mempolicy")
        mode = ctypes.c_int(-1)
        got = ctypes.create_string_buffer(128)
        if libc.syscall(SYS_get_mempolicy, ctypes.byref(mode), got, ctypes.c_ulong(1024), None, 0) < 0:
            raise OSError(ctypes.get_errno(), "get_mempolicy")
        return [mode.value, int.from_bytes(got.raw[:8], "little")]

    assert in_child(apply) == [2, 1]


# ---------------------------------------------------------------- oomScoreAdj


def test_oom_score_adj() -> None:
    assert pa.resolve_oom_score_adj(-1000) == -1000
    assert pa.resolve_oom_score_adj(None) is None
    with pytest.raises(ConfigError) as e:
        pa.resolve_oom_score_adj(1001)
    assert e.value.field == "process.oomScoreAdj"
    with pytest.raises(ConfigError):
        pa.resolve_oom_score_adj("5")
