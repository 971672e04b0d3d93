"""Boot Debian's kernel under qemu (TCG) with Debian's systemd as PID 1 on
this machine's root (9p read-only + tmpfs overlay), pure cgroup v2 and
AppArmor on, and run one command as a oneshot unit (vmsd.service).

    python3 tests/vm/vmsd.py [--timeout S] -- CMD...

As a library: ``run_systemd_vm(cmd, timeout) -> SDResult(returncode, output,
boot_seconds, total_seconds, console)``; raises vmrun.VMError / VMTimeout
(with the console tail) and never returns "skipped".

The unit runs CMD (cwd = the checkout, wherever it is: the guest sees the
host's whole root, /tmp included, so a clone under /tmp works) with its
output in the share's ``output`` file; the unit's result goes to ``rc`` and
``SuccessAction=``/``FailureAction=poweroff-immediate`` end the VM."""
from __future__ import annotations

import gzip
import hashlib
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import initramfs  # noqa: E402
import vmrun  # noqa: E402

APPEND = ("console=ttyS0 quiet panic=-1 systemd.unit=vmsd.target systemd.unified_cgroup_hierarchy=1 "
          "apparmor=1 security=apparmor systemd.show_status=0")
REQUIRED = initramfs.REQUIRED_MODULES

TARGET = """[Unit]
Description=pyrunc systemd VM tier
Wants=vmsd.service
After=vmsd.service
AllowIsolate=yes
"""
SERVICE = """[Unit]
Description=pyrunc systemd VM tier: the command
DefaultDependencies=no
SuccessAction=poweroff-immediate
FailureAction=poweroff-immediate
[Service]
Type=oneshot
ExecStart=/bin/sh -c '/vm-share/cmd.sh > /vm-share/output 2>&1; echo $? > /vm-share/rc'
ExecStopPost=/bin/sh -c 'echo "VMSD-END $SERVICE_RESULT at $(cut -d" " -f1 /proc/uptime)s" > /dev/ttyS0'
StandardInput=null
StandardOutput=journal+console
TimeoutStartSec=infinity
"""


class SDResult:
    def __init__(self, returncode: int, output: str, boot_seconds: float | None, total_seconds: float,
                 console: str) -> None:
        self.returncode = returncode
        self.output = output
        self.boot_seconds = boot_seconds
        self.total_seconds = total_seconds
        self.console = console


def build_initramfs(kver: str) -> Path:
    init = (HERE / "sd_init.sh").read_bytes()
    h = hashlib.sha256(init + Path(__file__).read_bytes() + (HERE / "initramfs.py").read_bytes())
    target = initramfs.cache_dir() / kver / f"sd-initramfs-{h.hexdigest()[:16]}.cpio.gz"
    if target.is_file():
        return target
    modules = [m for m in initramfs.collect_modules(kver) if m[0] in REQUIRED]
    cpio = initramfs._Cpio()
    for d in ("bin", "dev", "proc", "sys", "lib", "lib/modules", "lower", "upper", "share", "newroot"):
        cpio.dir(d)
    cpio.chardev("dev/console", 5, 1)
    cpio.chardev("dev/null", 1, 3, 0o666)
    cpio.file("bin/busybox", initramfs.find_busybox().read_bytes(), 0o755)
    cpio.file("init", init, 0o755)
    cpio.file("lib/modules/order", "".join(f"{n} required\n" for n, _, _ in modules).encode())
    for name, data, _ in modules:
        cpio.file(f"lib/modules/{name}.ko", data)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(gzip.compress(cpio.finish(), compresslevel=6, mtime=0))
    os.replace(tmp, target)
    return target


def host_can_boot() -> str | None:
    """Why this host cannot boot the guest at all, else None."""
    if not shutil.which("qemu-system-x86_64") and not os.path.exists(vmrun.QEMU):
        return "qemu-system-x86_64 is not installed"
    if not Path("/lib/systemd/systemd").exists():
        return "no /lib/systemd/systemd on this root (the guest boots the host's systemd)"
    try:
        vmrun.find_kernel()
    except Exception as e:  # noqa: BLE001 - the reason is the message
        return f"no kernel to boot: {e}"
    return None


def run_systemd_vm(cmd: list[str], timeout: float = 600.0, *, env: dict[str, str] | None = None,
                   mem_mb: int = 2048) -> SDResult:
    kver, kernel = vmrun.find_kernel()
    initrd = build_initramfs(kver)
    work = Path(tempfile.mkdtemp(prefix="pyrunc-vmsd-"))
    share = work / "share"
    share.mkdir()
    (share / "vmsd.target").write_text(TARGET)
    (share / "vmsd.service").write_text(SERVICE)
    lines = ["#!/bin/sh", f"export PATH={shlex.quote(vmrun.guest_path())}", "export PYRUNC_IN_VM=1 PYRUNC_IN_VMSD=1",
             "export PYTHONDONTWRITEBYTECODE=1"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in (env or {}).items()]
    lines += [f"cd {shlex.quote(str(REPO))} || exit 125", "exec " + " ".join(shlex.quote(a) for a in cmd)]
    (share / "cmd.sh").write_text("\n".join(lines) + "\n")
    (share / "cmd.sh").chmod(0o755)
    argv = [vmrun.QEMU, "-accel", "tcg", "-cpu", os.environ.get("PYRUNC_VM_CPU", "max"), "-smp", "2",
            "-m", str(mem_mb), "-nographic", "-no-reboot", "-nic", "none",
            "-kernel", str(kernel), "-initrd", str(initrd), "-append", APPEND,
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={share},mount_tag=vmshare,security_model=passthrough,multidevs=remap"]
    t0 = time.monotonic()
    console: list[str] = []
    boot = None
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        buf = b""
        while True:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                raise vmrun.VMTimeout(f"systemd VM: no end after {timeout:.0f}s",
                                      "".join(console[-60:]), str(work))
            if not sel.select(min(left, 5.0)):
                if boot is None and (share / "output").exists():
                    boot = time.monotonic() - t0
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            console += [ln.decode("utf-8", "replace").replace("\r", "") + "\n" for ln in done]
            if boot is None and (share / "output").exists():
                boot = time.monotonic() - t0
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    total = time.monotonic() - t0
    text = "".join(console)
    rc_file = share / "rc"
    if not rc_file.exists():
        raise vmrun.VMError("systemd VM: the unit never reported (no rc); console tail:\n" + "".join(console[-60:]),
                            "".join(console[-60:]), str(work))
    out = (share / "output").read_text(errors="replace") if (share / "output").exists() else ""
    rc = int(rc_file.read_text().strip() or 125)
    shutil.rmtree(work, ignore_errors=True)
    return SDResult(rc, out, boot, total, text)


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("cmd", nargs="+")
    a = ap.parse_args()
    r = run_systemd_vm(a.cmd, a.timeout)
    sys.stdout.write(r.output)
    print(f"VMSD: rc={r.returncode} boot={r.boot_seconds and round(r.boot_seconds, 1)}s "
          f"total={r.total_seconds:.1f}s", file=sys.stderr)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
