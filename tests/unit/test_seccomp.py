"""pyrunc.linux.seccomp: validation, compilation, flags, the -ENOSYS prologue,
features and the listener protocol (behaviour of loaded filters is in
test_seccomp_load.py)."""
from __future__ import annotations

import errno
import json
import os
import socket
import tempfile
import threading

import pytest

from pyrunc.errors import ConfigError, PyruncError
from pyrunc.linux import seccomp as sc
from pyrunc.linux.seccomp_enosys import (
    AUDIT_ARCH_X86_64,
    BPF_JMP_JGT_K,
    BPF_RET_K,
    RET_ENOSYS,
    disassemble,
    enosys_stub,
)

F = "linux.seccomp"


def allow_default(**kw: object) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW", **kw}


def compile_(cfg: dict, **kw: object) -> sc.SeccompProgram:
    prog = sc.compile_seccomp(cfg, **kw)  # type: ignore[arg-type]
    assert prog is not None
    return prog


def test_no_filter_when_empty() -> None:
    assert sc.compile_seccomp(None) is None
    assert sc.compile_seccomp({}) is None
    assert sc.compile_seccomp({"architectures": ["SCMP_ARCH_X86_64"]}) is None


def test_compiles_to_sock_filter_array() -> None:
    prog = compile_(allow_default(syscalls=[{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]))
    assert len(prog.bpf) % 8 == 0 and prog.length == len(prog.bpf) // 8
    insns = disassemble(prog.bpf)
    # allow default: no -ENOSYS prologue; libseccomp starts by loading the arch
    assert insns[0] == (0x20, 0, 0, 4)
    rets = {k for code, _, _, k in insns if code == BPF_RET_K}
    assert 0x7FFF0000 in rets  # ALLOW
    assert 0x00050000 | errno.EPERM in rets  # ERRNO defaults to EPERM
    assert not prog.notify and prog.listener_path is None


def test_errno_ret_and_trace_data() -> None:
    prog = compile_(allow_default(syscalls=[
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77},
        {"names": ["getpgid"], "action": "SCMP_ACT_TRACE", "errnoRet": 5},
        {"names": ["getsid"], "action": "SCMP_ACT_TRACE"},
    ]))
    rets = {k for code, _, _, k in disassemble(prog.bpf) if code == BPF_RET_K}
    assert {0x00050000 | 77, 0x7FF00000 | 5, 0x7FF00000 | errno.EPERM} <= rets


@pytest.mark.parametrize("action, value", [
    ("SCMP_ACT_KILL", 0), ("SCMP_ACT_KILL_THREAD", 0), ("SCMP_ACT_KILL_PROCESS", 0x80000000),
    ("SCMP_ACT_TRAP", 0x30000), ("SCMP_ACT_LOG", 0x7FFC0000),
])
def test_every_action_is_emitted(action: str, value: int) -> None:
    prog = compile_(allow_default(syscalls=[{"names": ["getppid"], "action": action}]))
    assert value in {k for code, _, _, k in disassemble(prog.bpf) if code == BPF_RET_K}


def test_default_errno_ret() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                     "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})
    insns = disassemble(prog.bpf)
    assert (BPF_RET_K, 0, 0, 0x50026) in insns
    # default is already ENOSYS: no prologue, libseccomp's program starts at once
    assert insns[0] == (0x20, 0, 0, 4) and insns[1][3] == AUDIT_ARCH_X86_64 and insns[1][0] == 0x15


@pytest.mark.parametrize("cfg, field, words", [
    ({"defaultAction": "SCMP_ACT_FLY"}, f"{F}.defaultAction", "unknown seccomp action"),
    ({"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}, f"{F}.defaultAction", "required"),
    ({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}, f"{F}.defaultAction", "default"),
    ({"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}, f"{F}.defaultErrnoRet", "does not take an errno"),
    (allow_default(defaultErrnoRet=1), f"{F}.defaultErrnoRet", "does not take an errno"),
    (allow_default(architectures=["SCMP_ARCH_Z80"]), f"{F}.architectures[0]", "SCMP_ARCH_Z80"),
    (allow_default(flags=["SECCOMP_FILTER_FLAG_FAST"]), f"{F}.flags[0]", "unknown seccomp flag"),
    (allow_default(syscalls=[{"names": ["read"], "action": "SCMP_ACT_NOPE"}]), f"{F}.syscalls[0].action", "SCMP_ACT_NOPE"),
    (allow_default(syscalls=[{"names": [], "action": "SCMP_ACT_ERRNO"}]), f"{F}.syscalls[0].names", "at least one"),
    (allow_default(syscalls=[{"action": "SCMP_ACT_ERRNO"}]), f"{F}.syscalls[0].names", "required"),
    (allow_default(syscalls=[{"names": ["read"]}]), f"{F}.syscalls[0].action", "required"),
    (allow_default(syscalls=[{"names": "read", "action": "SCMP_ACT_ERRNO"}]), f"{F}.syscalls[0].names", "array"),
    (allow_default(syscalls=[{"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]),
     f"{F}.syscalls[0].errnoRet", "does not take an errno"),
    (allow_default(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": -1}]),
     f"{F}.syscalls[0].errnoRet", "unsigned"),
    (allow_default(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                              "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]),
     f"{F}.syscalls[0].args[0].index", "six"),
    (allow_default(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                              "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SIMILAR"}]}]),
     f"{F}.syscalls[0].args[0].op", "unknown seccomp operator"),
    (allow_default(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                              "args": [{"index": 0, "op": "SCMP_CMP_EQ"}]}]),
     f"{F}.syscalls[0].args[0].value", "required"),
    (allow_default(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                              "args": [{"index": 0, "value": 1 << 64, "op": "SCMP_CMP_EQ"}]}]),
     f"{F}.syscalls[0].args[0].value", "64-bit"),
    (allow_default(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": {"index": 0}}]),
     f"{F}.syscalls[0].args", "array"),
    (allow_default(syscalls=[{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]), f"{F}.listenerPath", "NOTIFY"),
    (allow_default(syscalls=[{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}], listenerPath="/x"),
     f"{F}.syscalls[0].names", "write"),
    (allow_default(listenerMetadata="m"), f"{F}.listenerMetadata", "listenerPath"),
    (allow_default(flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]), f"{F}.flags", "NOTIFY"),
    ("nope", F, "object"),
])
def test_bad_profiles(cfg: object, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        sc.compile_seccomp(cfg)  # type: ignore[arg-type]
    assert e.value.field == field
    assert words in str(e.value)
    assert str(e.value).startswith(field + ": ")


def test_unknown_syscalls_are_skipped_with_debug_note() -> None:
    notes: list[str] = []
    prog = compile_(allow_default(syscalls=[
        {"names": ["getppid", "no_such_syscall", "another_fake"], "action": "SCMP_ACT_ERRNO"}]), debug=notes.append)
    assert prog.skipped == ("no_such_syscall", "another_fake")
    assert len(notes) == 2 and "no_such_syscall" in notes[0] and "syscalls[0]" in notes[0]


def test_rule_equal_to_default_is_dropped() -> None:
    plain = compile_(allow_default())
    same = compile_(allow_default(syscalls=[{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]))
    assert plain.bpf == same.bpf


def test_flags() -> None:
    supported = sc._supported_flag_bits()
    assert supported & sc.SECCOMP_FILTER_FLAG_LOG  # kernel 6.x
    # absent flags: SPEC_ALLOW by default (as runc), explicit empty list: none
    assert compile_(allow_default()).flags == sc.SECCOMP_FILTER_FLAG_SPEC_ALLOW
    assert compile_(allow_default(flags=[])).flags == 0
    prog = compile_(allow_default(flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC"]))
    assert prog.flags == sc.SECCOMP_FILTER_FLAG_LOG | sc.SECCOMP_FILTER_FLAG_TSYNC


def test_notify_sets_listener_flags() -> None:
    prog = compile_(allow_default(
        syscalls=[{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}],
        listenerPath="/run/agent.sock", listenerMetadata="meta",
        flags=["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]))
    assert prog.notify
    assert prog.listener_path == "/run/agent.sock" and prog.listener_metadata == "meta"
    assert prog.flags == (sc.SECCOMP_FILTER_FLAG_NEW_LISTENER | sc.SECCOMP_FILTER_FLAG_TSYNC
                          | sc.SECCOMP_FILTER_FLAG_TSYNC_ESRCH | sc.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
    assert 0x7FC00000 in {k for code, _, _, k in disassemble(prog.bpf) if code == BPF_RET_K}


def test_listener_path_without_notify_is_ignored() -> None:
    notes: list[str] = []
    prog = compile_(allow_default(listenerPath="/run/agent.sock"), debug=notes.append)
    assert not prog.notify and prog.listener_path is None
    assert not prog.flags & sc.SECCOMP_FILTER_FLAG_NEW_LISTENER
    assert any("listenerPath" in n for n in notes)


def test_architectures() -> None:
    one = compile_(allow_default(syscalls=[{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]))
    three = compile_(allow_default(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                                   syscalls=[{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]))
    arch_checks = {k for code, _, _, k in disassemble(three.bpf) if code == 0x15}
    assert {0xC000003E, 0x40000003} <= arch_checks  # AUDIT_ARCH_X86_64, AUDIT_ARCH_I386
    assert 0x40000003 not in {k for code, _, _, k in disassemble(one.bpf) if code == 0x15}


def test_arch_unknown_to_libseccomp_is_skipped_with_warning() -> None:
    from pyrunc.linux._seccomp import lib  # type: ignore[import-not-found]

    if lib.seccomp_arch_resolve_name(b"loongarch64") != 0:
        pytest.skip("this libseccomp knows loongarch64")
    warnings: list[str] = []
    base = allow_default(syscalls=[{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}])
    prog = compile_({**base, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_LOONGARCH64"]}, warn=warnings.append)
    assert prog.bpf == compile_(base).bpf
    assert len(warnings) == 1 and "architectures[1]" in warnings[0] and "SCMP_ARCH_LOONGARCH64" in warnings[0]


def test_args_same_index_split_into_rules() -> None:
    two_idx = compile_(allow_default(syscalls=[{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "args": [
        {"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 7, "op": "SCMP_CMP_EQ"}]}]))
    same_idx = compile_(allow_default(syscalls=[{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "args": [
        {"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]}]))
    k_two = [k for code, _, _, k in disassemble(two_idx.bpf) if code == 0x15]
    k_same = [k for code, _, _, k in disassemble(same_idx.bpf) if code == 0x15]
    assert 5 in k_two and 7 in k_two and 5 in k_same and 7 in k_same
    for op in sc.OPERATORS:
        compile_(allow_default(syscalls=[{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 2, "value": 0xF0, "valueTwo": 0x10, "op": op}]}]))


# ---------------------------------------------------------------- -ENOSYS prologue


def test_enosys_prologue_for_deny_by_default() -> None:
    prog = compile_({"defaultAction": "SCMP_ACT_ERRNO",
                     "syscalls": [{"names": ["read", "write", "getppid"], "action": "SCMP_ACT_ALLOW"}]})
    insns = disassemble(prog.bpf)
    stub = disassemble(enosys_stub({AUDIT_ARCH_X86_64: {"native": 110}}))
    assert insns[: len(stub)] == stub
    assert (BPF_JMP_JGT_K, 0, 1, 110) in stub  # getppid = 110 is the highest named
    assert (BPF_RET_K, 0, 0, RET_ENOSYS) in stub


@pytest.mark.parametrize("default", ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"])
def test_no_prologue_for_permissive_default(default: str) -> None:
    prog = compile_({"defaultAction": default, "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL"}]})
    assert (BPF_RET_K, 0, 0, RET_ENOSYS) not in disassemble(prog.bpf)


def test_enosys_stub_x32_and_jumps() -> None:
    assert enosys_stub({}) == b""
    stub = disassemble(enosys_stub({AUDIT_ARCH_X86_64: {"native": 300, "x32": 0x40000000 | 300},
                                    0x40000003: {"native": 400}}))
    # every ja lands inside the stub or exactly at its end (the filter)
    for i, (code, jt, jf, k) in enumerate(stub):
        if code == 0x05:
            assert i + 1 + k <= len(stub)
        elif code & 0x07 == 0x05:
            assert i + 1 + max(jt, jf) <= len(stub)
    limits = [k for code, _, _, k in stub if code == BPF_JMP_JGT_K]
    assert sorted(limits) == [300, 400, 0x40000000 | 300]


def test_too_big_program_is_refused() -> None:
    # 5000 distinct conditional rules (about one instruction each) cannot fit in one filter
    syscalls = [{"names": ["getpgid"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]} for v in range(5000)]
    with pytest.raises(ConfigError) as e:
        sc.compile_seccomp(allow_default(syscalls=syscalls))
    assert e.value.field == F and "4096" in str(e.value)


# ---------------------------------------------------------------- features


def test_features() -> None:
    feat = sc.seccomp_features()
    assert feat["enabled"] is True
    assert set(feat["actions"]) == set(sc.ACTIONS)
    assert feat["operators"] == sorted(sc.OPERATORS)
    assert {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"} <= set(feat["archs"])
    assert feat["knownFlags"] == list(sc.FLAGS)
    assert set(feat["supportedFlags"]) <= set(feat["knownFlags"])
    assert "SECCOMP_FILTER_FLAG_LOG" in feat["supportedFlags"]
    major, minor, micro = (int(x) for x in sc.libseccomp_version().split("."))
    assert (major, minor) >= (2, 5)
    import jsonschema

    from tests.conftest import shared_path

    with open(shared_path("oci-spec-v1.3.0", "defs-linux.json")) as f:
        defs = json.load(f)["definitions"]
    for key, ref in (("actions", "SeccompAction"), ("operators", "SeccompOperators"),
                     ("archs", "SeccompArch"), ("knownFlags", "SeccompFlag"), ("supportedFlags", "SeccompFlag")):
        for v in feat[key]:
            jsonschema.validate(v, defs[ref])


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, pyrunc.linux.seccomp; "
            "print(any(m in sys.modules for m in ('pyrunc.linux._seccomp', 'cffi', 'pydantic', 'jsonschema')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- listener protocol


def test_send_to_listener_passes_fd_and_state() -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "agent.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        srv.settimeout(30)
        r, w = os.pipe()
        got: dict = {}

        def agent() -> None:
            conn, _ = srv.accept()
            with conn:
                data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 4)
                while chunk := conn.recv(1 << 20):
                    data += chunk
                got["msg"] = json.loads(data)
                got["fds"] = fds

        t = threading.Thread(target=agent)
        t.start()
        state = {"ociVersion": "1.3.0", "id": "c1", "status": "creating", "pid": 4242, "bundle": "/b",
                 "annotations": {"big": "x" * 300000}}
        try:
            sc.send_to_listener(path, w, state, "MKNOD=/dev/null")
        finally:
            t.join()
            srv.close()
            os.close(w)
        try:
            msg = got["msg"]
            assert msg["ociVersion"] == "1.3.0"
            assert msg["fds"] == ["seccompFd"]
            assert msg["pid"] == 4242
            assert msg["metadata"] == "MKNOD=/dev/null"
            assert msg["state"] == state
            assert len(got["fds"]) == 1
            # the received fd is the same pipe: what we write comes out of r
            os.write(got["fds"][0], b"hello")
            assert os.read(r, 5) == b"hello"
        finally:
            os.close(r)
            for fd in got.get("fds", []):
                os.close(fd)


def test_send_to_listener_without_metadata_and_error() -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "agent.sock")
        with pytest.raises(PyruncError) as e:
            sc.send_to_listener(path, 0, {"pid": 1})
        assert path in str(e.value) and "linux.seccomp.listenerPath" in str(e.value)
