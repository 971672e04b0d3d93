#!/usr/bin/env python3
"""Run a command inside a pure cgroup v2 VM (Debian kernel under qemu/TCG).

Usage::

    python3 tests/vm/vmrun.py [--timeout S] [--cwd DIR] [-e K=V] -- CMD...
    python3 tests/vm/vmrun.py --ensure-packages        # apt-get install deps

or as a library::

    from vmrun import run_in_vm
    res = run_in_vm(["cat", "/sys/fs/cgroup/cgroup.controllers"], timeout=300)
    res.returncode, res.output

The guest sees the host root read-only (virtio-9p) under a tmpfs overlay, so
it is writable but nothing leaks back, plus a writable 9p share mounted at
``/vm-share`` (``$PYRUNC_VM_SHARE``); files the command writes to
``$PYRUNC_VM_OUT`` come back in ``VMResult.files``.  ``/sys/fs/cgroup`` is cgroup2 with every
available controller enabled in the root's ``cgroup.subtree_control``.  A 64
MiB scratch disk is ``/dev/vda`` (``$PYRUNC_VM_BLOCKDEV``) for io.max rules.
The command runs as root with cwd = the repository root, a clean environment
and ``PYRUNC_IN_VM=1``.

Any failure to boot or to finish in time raises :class:`VMError` carrying the
tail of the qemu console log: the tier never skips silently.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import initramfs  # noqa: E402  (sibling module, importable without a package)

APT_PACKAGES: tuple[str, ...] = ("qemu-system-x86", "linux-image-amd64", "busybox-static")
QEMU = "qemu-system-x86_64"
GUEST_SHARE = "/vm-share"
GUEST_OUT = GUEST_SHARE + "/out"
GUEST_BLOCKDEV = "/dev/vda"
SCRATCH_DISK_BYTES = 64 << 20
LOG_TAIL_LINES = 60
_ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1bc")


class VMError(RuntimeError):
    """The VM failed: did not boot, crashed, or the command never finished."""

    def __init__(self, msg: str, log_tail: str = "", workdir: str | None = None) -> None:
        detail = msg
        if workdir:
            detail += f" (kept {workdir})"
        if log_tail:
            detail += "\n----- qemu console (tail) -----\n" + log_tail
        super().__init__(detail)
        self.log_tail = log_tail
        self.workdir = workdir


class VMBootError(VMError):
    """qemu exited (or stage 1/2 failed) before the command started."""


class VMTimeout(VMError):
    """The VM did not finish within the timeout; qemu was killed."""


@dataclass
class VMResult:
    returncode: int
    output: str
    boot_seconds: float = 0.0
    total_seconds: float = 0.0
    console: str = field(default="", repr=False)
    # Files the command wrote to $PYRUNC_VM_OUT (/vm-share/out): name -> text.
    files: dict[str, str] = field(default_factory=dict, repr=False)


# ----------------------------------------------------------------------------
# host prerequisites


def find_kernel() -> tuple[str, Path]:
    """Return ``(version, vmlinuz)`` of the newest Debian kernel with modules."""
    found: list[tuple[str, Path]] = []
    for vmlinuz in Path("/boot").glob("vmlinuz-*"):
        kver = vmlinuz.name[len("vmlinuz-"):]
        if (Path("/lib/modules") / kver / "kernel").is_dir():
            found.append((kver, vmlinuz))
    if not found:
        raise VMError("no /boot/vmlinuz-* with /lib/modules/<version> "
                      "(run ensure_packages(): apt-get install linux-image-amd64)")

    def key(item: tuple[str, Path]) -> list[int]:
        return [int(x) for x in re.findall(r"\d+", item[0])]

    return max(found, key=key)


def _missing() -> list[str]:
    missing: list[str] = []
    if not shutil.which(QEMU):
        missing.append("qemu-system-x86")
    try:
        find_kernel()
    except VMError:
        missing.append("linux-image-amd64")
    try:
        initramfs.find_busybox()
    except initramfs.InitramfsError:
        missing.append("busybox-static")
    return missing


def ensure_packages() -> None:
    """apt-get install qemu, the Debian kernel and busybox if any is missing."""
    missing = _missing()
    if not missing:
        return
    # Other engineers/CI steps may hold the dpkg lock: wait for it.
    cmd = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y",
           "--no-install-recommends", *missing]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(cmd, env=env).returncode != 0:
        subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "update"],
                       env=env, check=True)
        subprocess.run(cmd, env=env, check=True)
    still = _missing()
    if still:
        raise VMError(f"packages still missing after apt-get: {' '.join(still)}")


def python_bin_dirs() -> list[str]:
    """Directories of the real python3 interpreters (not pyenv shims) to put
    first in the guest PATH: the one running us (the project's venv, which
    has pyrunc's dependencies), then the one ``python3`` on the host PATH
    resolves to (a shim is asked for its sys.executable)."""
    dirs: list[str] = []
    if sys.executable:
        dirs.append(str(Path(sys.executable).parent))
    found = shutil.which("python3")
    if found:
        try:
            exe = subprocess.run([found, "-c", "import sys; print(sys.executable)"],
                                 capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            exe = ""
        if exe:
            dirs.append(str(Path(exe).parent))
    return dirs


def guest_path() -> str:
    parts = [*python_bin_dirs(), "/root/.pyenv/shims", "/usr/local/sbin", "/usr/local/bin",
             "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    seen: list[str] = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    return ":".join(seen)


# ----------------------------------------------------------------------------
# running


def _cmd_script(cmd: Sequence[str], cwd: str, env: Mapping[str, str]) -> str:
    base = {
        "PATH": guest_path(),
        "HOME": "/root",
        "USER": "root",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "PYTHONUNBUFFERED": "1",
        "PYRUNC_IN_VM": "1",
        "PYRUNC_VM_SHARE": GUEST_SHARE,
        "PYRUNC_VM_OUT": GUEST_OUT,
        "PYRUNC_VM_BLOCKDEV": GUEST_BLOCKDEV,
    }
    base.update(env)
    lines = ["# generated by tests/vm/vmrun.py"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in base.items()]
    lines.append(f"cd {shlex.quote(cwd)} || exit 125")
    lines.append("exec " + " ".join(shlex.quote(a) for a in cmd))
    return "\n".join(lines) + "\n"


def qemu_argv(kernel: Path, initrd: Path, share: Path, disk: Path,
              smp: int = 2, mem_mb: int = 2048) -> list[str]:
    return [
        QEMU, "-accel", "tcg", "-cpu", os.environ.get("PYRUNC_VM_CPU", "max"),
        "-smp", str(smp), "-m", str(mem_mb),
        "-nographic", "-no-reboot", "-nic", "none",
        "-kernel", str(kernel), "-initrd", str(initrd),
        "-append", "console=ttyS0 quiet panic=-1",
        "-virtfs", "local,path=/,mount_tag=hostroot,security_model=passthrough,"
                   "readonly=on,multidevs=remap",
        "-virtfs", f"local,path={share},mount_tag=vmshare,security_model=passthrough,"
                   "multidevs=remap",
        "-drive", f"file={disk},if=virtio,format=raw,cache=unsafe",
    ]


class _Console:
    """Collects qemu's serial output in a thread; optionally echoes the
    command's part of it live."""

    def __init__(self, stream: "subprocess.IO[bytes]", log_path: Path, nonce: str,
                 echo: Callable[[str], None] | None) -> None:
        self._stream = stream
        self._log = log_path.open("wb")
        self._nonce = nonce
        self._echo = echo
        self._chunks: list[bytes] = []
        self._in_cmd = False
        self.ready_at: float | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        pending = b""
        for line in iter(self._stream.readline, b""):
            self._chunks.append(line)
            self._log.write(line)
            self._log.flush()
            pending = line
            text = _ANSI.sub("", pending.decode(errors="replace")).rstrip("\r\n")
            if f"VMRUN-READY {self._nonce}" in text and self.ready_at is None:
                self.ready_at = time.monotonic()
            if f"VMRUN-END {self._nonce}" in text:
                self._in_cmd = False
            elif self._in_cmd and self._echo is not None:
                self._echo(text.rstrip("\r") + "\n")
            if f"VMRUN-BEGIN {self._nonce}" in text:
                self._in_cmd = True
        self._log.close()

    def text(self) -> str:
        raw = b"".join(self._chunks).decode(errors="replace")
        return _ANSI.sub("", raw).replace("\r\n", "\n").replace("\r", "")

    def tail(self, n: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.text().splitlines()[-n:])


def _between_markers(console: str, nonce: str) -> tuple[str | None, int | None]:
    m = re.search(rf"VMRUN-BEGIN {nonce}\n(.*?)^.*VMRUN-END {nonce} rc=(\d*)",
                  console, re.S | re.M)
    if not m:
        return None, None
    return m.group(1), int(m.group(2)) if m.group(2) else None


def run_in_vm(cmd: Sequence[str], timeout: float = 600.0, *, cwd: str | None = None,
              env: Mapping[str, str] | None = None,
              echo: Callable[[str], None] | None = None,
              keep: bool = False) -> VMResult:
    """Boot the VM, run ``cmd`` inside, return its exit code and output.

    ``echo`` is called with each output line as it arrives (live streaming).
    Raises :class:`VMBootError` / :class:`VMTimeout` / :class:`VMError`.
    """
    if not cmd:
        raise ValueError("run_in_vm: empty command")
    missing = _missing()
    if missing:
        raise VMError(f"missing host packages: {' '.join(missing)} "
                      "(call ensure_packages() or apt-get install them)")
    kver, kernel = find_kernel()
    try:
        initrd = initramfs.cached_initramfs(kver)
    except initramfs.InitramfsError as err:
        raise VMError(f"initramfs: {err}") from err

    workdir = Path(tempfile.mkdtemp(prefix="pyrunc-vm-"))
    share = workdir / "share"
    share.mkdir()
    (share / "out").mkdir()
    nonce = secrets.token_hex(8)
    (share / "nonce").write_text(nonce + "\n")
    (share / "cmd.sh").write_text(_cmd_script(cmd, cwd or str(REPO), env or {}))
    (share / "repo").write_text(str(REPO) + "\n")  # stage2 keeps it visible under its fresh /tmp
    disk = workdir / "scratch.img"
    with disk.open("wb") as f:
        f.truncate(SCRATCH_DISK_BYTES)

    argv = qemu_argv(kernel, initrd, share, disk)
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=str(workdir))
    assert proc.stdout is not None
    console = _Console(proc.stdout, workdir / "qemu.log", nonce, echo)
    ok = False
    try:
        try:
            qemu_rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            console.thread.join(5)
            phase = "command" if console.ready_at else "boot"
            raise VMTimeout(f"VM did not finish within {timeout:.0f}s "
                            f"(stuck in {phase}); qemu killed",
                            console.tail(), str(workdir)) from None
        console.thread.join(10)
        total = time.monotonic() - start
        text = console.text()
        rc_file = share / "rc"
        out_file = share / "output"
        marker_out, marker_rc = _between_markers(text, nonce)
        rc_text = rc_file.read_text().strip() if rc_file.is_file() else ""
        if rc_text.isdigit():
            returncode = int(rc_text)
        elif marker_rc is not None:
            returncode = marker_rc
        else:
            # Only init's own lines count (the command's output may quote them).
            before = text.split(f"VMRUN-BEGIN {nonce}", 1)[0]
            fails = re.findall(r"VMRUN-FAIL .*", before)
            if fails or console.ready_at is None:
                why = fails[0].strip() if fails else "no VMRUN-READY from the guest"
                raise VMBootError(f"VM did not boot: {why} (qemu exit status {qemu_rc}; "
                                  f"kernel {kver})", console.tail(), str(workdir))
            raise VMError(f"command did not finish: no exit status recorded "
                          f"(qemu exit status {qemu_rc})", console.tail(), str(workdir))
        ready_at = console.ready_at if console.ready_at is not None else start
        if out_file.is_file():
            output = out_file.read_bytes().decode(errors="replace")
        else:
            output = marker_out or ""
        files = {p.name: p.read_bytes().decode(errors="replace")
                 for p in sorted((share / "out").iterdir()) if p.is_file()}
        ok = True
        return VMResult(returncode=returncode, output=output,
                        boot_seconds=ready_at - start, total_seconds=total,
                        console=text, files=files)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if ok and not keep:
            shutil.rmtree(workdir, ignore_errors=True)


# ----------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="vmrun.py", description="Run CMD inside a pure cgroup v2 qemu VM.")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds (default 900)")
    ap.add_argument("--cwd", default=None, help="cwd in the guest (default: repo root)")
    ap.add_argument("-e", "--env", action="append", default=[], metavar="K=V",
                    help="extra environment variable for CMD")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (qemu.log)")
    ap.add_argument("--ensure-packages", action="store_true",
                    help="apt-get install the VM prerequisites and exit")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    if args.ensure_packages:
        ensure_packages()
        kver, kernel = find_kernel()
        print(f"ok: {kernel} -> {initramfs.cached_initramfs(kver)}")
        return 0
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command given (use: vmrun.py [--timeout S] -- CMD...)")
    env = dict(kv.split("=", 1) for kv in args.env)

    def echo(line: str) -> None:
        sys.stdout.write(line)
        sys.stdout.flush()

    try:
        res = run_in_vm(cmd, args.timeout, cwd=args.cwd, env=env, echo=echo, keep=args.keep)
    except VMError as err:
        print(f"vmrun: {err}", file=sys.stderr)
        return 124 if isinstance(err, VMTimeout) else 125
    print(f"vmrun: exit {res.returncode} (boot {res.boot_seconds:.1f}s, "
          f"total {res.total_seconds:.1f}s)", file=sys.stderr)
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
