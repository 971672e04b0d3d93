"""The compiled-profile cache: hits give the very program a compilation
gives, misses and broken entries compile, and `list` never sees it."""
from __future__ import annotations

import os
from pathlib import Path

from pyrunc.linux.seccomp import compile_seccomp
from pyrunc.linux.seccomp_cache import cache_dir, compile_cached
from pyrunc.store import Store

PROFILE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
}


def _entries(root: Path) -> list[str]:
    d = Path(cache_dir(str(root)))
    return sorted(os.listdir(d)) if d.is_dir() else []


def test_hit_equals_a_fresh_compilation(tmp_path: Path) -> None:
    first = compile_cached(PROFILE, str(tmp_path), "linux.seccomp", lambda m: None)
    assert len(_entries(tmp_path)) == 1
    second = compile_cached(PROFILE, str(tmp_path), "linux.seccomp", lambda m: None)
    fresh = compile_seccomp(PROFILE)
    assert first is not None and second is not None and fresh is not None
    assert second.bpf == fresh.bpf and second.flags == fresh.flags and second.notify == fresh.notify


def test_other_profile_other_entry(tmp_path: Path) -> None:
    compile_cached(PROFILE, str(tmp_path), "linux.seccomp", lambda m: None)
    other = dict(PROFILE, defaultAction="SCMP_ACT_LOG")
    compile_cached(other, str(tmp_path), "linux.seccomp", lambda m: None)
    assert len(_entries(tmp_path)) == 2


def test_broken_entry_is_recompiled(tmp_path: Path) -> None:
    compile_cached(PROFILE, str(tmp_path), "linux.seccomp", lambda m: None)
    entry = Path(cache_dir(str(tmp_path))) / _entries(tmp_path)[0]
    entry.write_text("{not json")
    prog = compile_cached(PROFILE, str(tmp_path), "linux.seccomp", lambda m: None)
    assert prog is not None and prog.bpf == compile_seccomp(PROFILE).bpf


def test_warnings_repeat_on_a_hit(tmp_path: Path) -> None:
    prof = dict(PROFILE, architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_LOONGARCH64"])
    seen: list[str] = []
    compile_cached(prof, str(tmp_path), "linux.seccomp", seen.append)
    first = list(seen)
    seen.clear()
    compile_cached(prof, str(tmp_path), "linux.seccomp", seen.append)
    assert seen == first


def test_the_cache_lives_beside_the_state_root(tmp_path: Path) -> None:
    root = tmp_path / "state"
    compile_cached(PROFILE, str(root), "linux.seccomp", lambda m: None)
    assert cache_dir(str(root)) == str(tmp_path / "state-cache" / "seccomp")
    assert Store(str(root)).list_ids() == []


def test_cache_key_names_the_libraries_without_loading_them():
    import subprocess
    import sys

    code = ("import sys; from pyrunc.linux.seccomp_cache import _libseccomp_identity as i; s = i(); "
            "print('_cffi_backend' in sys.modules); print(s)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={k: v for k, v in __import__("os").environ.items() if k != "LD_LIBRARY_PATH"})
    loaded, *identity = out.stdout.splitlines()
    assert loaded == "False"
    assert any("_seccomp." in line for line in identity)
    assert any(line.split(":")[0].endswith("libseccomp.so.2") for line in identity)


def test_cache_key_asks_libseccomp_under_ld_library_path(monkeypatch):
    from pyrunc.linux import seccomp_cache
    from pyrunc.linux.seccomp import libseccomp_version

    monkeypatch.setenv("LD_LIBRARY_PATH", "/nonexistent")
    assert seccomp_cache._libseccomp_identity() == f"libseccomp {libseccomp_version()}"
