"""Check registry, per-check context and the helpers checks share."""
from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from .build import make_rootfs
from .bundle import Bundle, base_config
from .runtime import OperationFailed, Result, Runtime

NS_PROC_NAME = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
                "user": "user", "cgroup": "cgroup", "time": "time"}


class Fail(Exception):
    """The runtime violated the spec."""


class Skip(Exception):
    """The check cannot run here (host or runtime lacks the feature)."""


@dataclass(frozen=True)
class Check:
    section: str
    description: str
    func: Callable[["Ctx"], None]
    since: str | None = None

    @property
    def title(self) -> str:
        return f"{self.section} {self.description}"


REGISTRY: list[Check] = []


def check(section: str, description: str, since: str | None = None
          ) -> Callable[[Callable[["Ctx"], None]], Callable[["Ctx"], None]]:
    """Register a check; `since` is the spec version that introduced the feature."""
    def deco(fn: Callable[["Ctx"], None]) -> Callable[["Ctx"], None]:
        REGISTRY.append(Check(section, description, fn, since))
        return fn
    return deco


def version_tuple(v: str) -> tuple[int, int, int, int]:
    """'1.0.2-dev' -> (1, 0, 2, -1): pre-releases sort before the release."""
    m = re.match(r"(\d+)\.(\d+)\.(\d+)(.*)", v.strip())
    if not m:
        return (0, 0, 0, 0)
    return (int(m[1]), int(m[2]), int(m[3]), -1 if m[4] else 0)


class Output(dict[str, str]):
    """Parsed checker output (key=value lines, values unescaped)."""

    @classmethod
    def parse(cls, text: str) -> "Output":
        out = cls()
        for line in text.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                out[k] = unescape(v)
        return out

    def need(self, key: str) -> str:
        if key not in self:
            raise Fail(f"checker did not report {key!r} (did the container run to completion?)")
        return self[key]


def unescape(v: str) -> str:
    return re.sub(r"\\(\\|n|x[0-9a-f]{2})",
                  lambda m: {"\\": "\\", "n": "\n"}.get(m[1]) or chr(int(m[1][1:], 16)), v)


class Suite:
    """State shared by all checks of one run."""

    def __init__(self, runtime: Runtime, workdir: Path, checker: Path, busybox: Path | None,
                 keep: bool = False, oci_version: str = "") -> None:
        self.runtime = runtime
        self.workdir = workdir
        self.checker = checker
        self.busybox = busybox
        self.keep = keep
        self.oci_version = oci_version
        self.host_ns = {t: os.readlink(f"/proc/self/ns/{p}") for t, p in NS_PROC_NAME.items()
                        if os.path.exists(f"/proc/self/ns/{p}")}
        self.live: set[str] = set()
        self.helpers: list[subprocess.Popen[bytes]] = []
        self.lock = threading.Lock()
        self.closing = False
        self._ids = itertools.count(1)
        self.prefix = f"occ{os.getpid()}"

    def new_id(self) -> str:
        with self.lock:
            return f"{self.prefix}-{next(self._ids)}"

    def spawn_helper(self, argv: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        with self.lock:
            self.helpers.append(proc)
        return proc

    def cleanup(self) -> None:
        """Delete every container we created, kill helpers, remove cgroups."""
        self.closing = True
        with self.lock:
            ids = sorted(self.live)
        for cid in ids:
            force_delete(self.runtime, cid)
        with self.lock:
            helpers = list(self.helpers)
        for proc in helpers:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the helper and anything it forked
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        remove_cgroup_parents()
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def force_delete(rt: Runtime, cid: str) -> None:
    try:
        rt.delete(cid, force=True)
    except Exception:  # noqa: BLE001 - cleanup must go on
        try:
            rt.kill(cid, "KILL")
            rt.delete(cid, force=True)
        except Exception:  # noqa: BLE001
            pass


CGROUP_PARENT = "oci-conformance"


def remove_cgroup_parents() -> None:
    for base in cgroup_mounts():
        parent = base / CGROUP_PARENT
        if parent.is_dir():
            for child in sorted(parent.glob("*/"), reverse=True):
                try:
                    child.rmdir()
                except OSError:
                    pass
            try:
                parent.rmdir()
            except OSError:
                pass


def cgroup_mounts() -> list[Path]:
    """Host cgroup hierarchy mount points (v1 and v2)."""
    out = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                pre, _, post = line.partition(" - ")
                fstype = post.split()[0] if post else ""
                if fstype in ("cgroup", "cgroup2"):
                    out.append(Path(pre.split()[4]))
    except OSError:
        pass
    return out


def cgroup_file(pid: int, controller: str, name: str) -> Path:
    """Host path of a control file for `pid` in `controller` (v1 hierarchy,
    or the unified hierarchy when the controller lives there)."""
    paths: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(","):
                paths[c] = path
            if hid == "0":
                paths[""] = path
    mounts: dict[str, str] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            parts = post.split()
            if len(parts) < 3 or parts[0] not in ("cgroup", "cgroup2"):
                continue
            mp = pre.split()[4]
            if parts[0] == "cgroup2":
                mounts.setdefault("", mp)
            else:
                for opt in parts[2].split(","):
                    mounts.setdefault(opt, mp)
    if controller in paths and controller in mounts:
        return Path(mounts[controller]) / paths[controller].lstrip("/") / name
    if "" in paths and "" in mounts:
        ctrl_file = Path(mounts[""]) / "cgroup.controllers"
        try:
            available = Path(mounts[""], paths[""].lstrip("/"), "cgroup.controllers").read_text().split()
        except OSError:
            available = ctrl_file.read_text().split() if ctrl_file.exists() else []
        if controller in available:
            return Path(mounts[""]) / paths[""].lstrip("/") / name
    raise Skip(f"cgroup controller {controller} is not available on this host")


def cgroup_version(controller: str) -> int:
    """1 when `controller` is mounted as a v1 hierarchy, else 2."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            parts = post.split()
            if len(parts) >= 3 and parts[0] == "cgroup" and controller in parts[2].split(","):
                return 1
    return 2


class Ctx:
    """Per-check context: makes bundles, drives containers, cleans up."""

    def __init__(self, suite: Suite, check: Check) -> None:
        self.suite = suite
        self.check = check
        self.rt = suite.runtime
        self.ids: list[str] = []
        self.dirs: list[Path] = []

    # -- feature gates ---------------------------------------------------------

    def features(self) -> dict[str, Any] | None:
        return self.rt.features

    def require_namespace(self, t: str) -> None:
        if t not in self.suite.host_ns:
            raise Skip(f"the host kernel has no {t} namespace")
        if t == "user" and _read_int("/proc/sys/user/max_user_namespaces", 1) == 0:
            raise Skip("user namespaces are disabled on this host")
        feats = self.features()
        if feats is not None:
            listed = feats.get("linux", {}).get("namespaces")
            if isinstance(listed, list) and t not in listed:
                raise Skip(f"runtime features do not list namespace {t}")

    def require_seccomp(self, *names: str) -> None:
        feats = self.features()
        if feats is None:
            return
        sc = feats.get("linux", {}).get("seccomp")
        if isinstance(sc, dict):
            if sc.get("enabled") is False:
                raise Skip("runtime features say seccomp is disabled")
            known = set(sc.get("actions") or []) | set(sc.get("operators") or [])
            missing = [n for n in names if n not in known]
            if known and missing:
                raise Skip(f"runtime features do not list {', '.join(missing)}")

    def require_hooks(self, *names: str) -> None:
        feats = self.features()
        if feats is None:
            return
        listed = feats.get("hooks")
        if isinstance(listed, list):
            missing = [n for n in names if n not in listed]
            if missing:
                raise Skip(f"runtime features do not list hooks {', '.join(missing)}")

    # -- bundles -------------------------------------------------------------------

    def bundle(self, *args: str) -> Bundle:
        """A fresh bundle whose process runs `args` (default: /checker)."""
        cid = self.suite.new_id()
        d = self.suite.workdir / cid
        (d / "bundle" / "rootfs").mkdir(parents=True)
        self.dirs.append(d)
        make_rootfs(d / "bundle" / "rootfs", self.suite.checker, self.suite.busybox)
        cfg = base_config(list(args) or ["/checker", "echo", "hello"],
                          f"/{CGROUP_PARENT}/{cid}", self.suite.oci_version)
        return Bundle(d / "bundle", cfg)

    def host_dir(self, name: str) -> Path:
        """A scratch directory on the host for this check."""
        d = self.dirs[0] if self.dirs else self.suite.workdir / self.suite.new_id()
        p = d / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    # -- operations ------------------------------------------------------------------

    def create(self, b: Bundle, cid: str | None = None, expect_ok: bool = True,
               **kw: Any) -> tuple[str, Result]:
        if self.suite.closing:
            raise Skip("interrupted")
        cid = cid or b.id
        b.write()
        self.ids.append(cid)
        with self.suite.lock:
            self.suite.live.add(cid)
        res = self.rt.create(cid, b.path, b.stdio, **kw)
        if expect_ok and not res.ok:
            raise Fail(f"create failed: {res.describe()}")
        return cid, res

    def start(self, cid: str) -> None:
        res = self.rt.start(cid)
        if not res.ok:
            raise Fail(f"start failed: {res.describe()}")

    def state(self, cid: str) -> dict[str, Any]:
        try:
            return self.rt.state_json(cid)
        except OperationFailed as exc:
            raise Fail(f"state failed: {exc}") from None

    def wait_stopped(self, cid: str) -> dict[str, Any]:
        try:
            return self.rt.wait_status(cid, "stopped")
        except OperationFailed as exc:
            raise Fail(f"state failed while waiting for stopped: {exc}") from None

    def delete(self, cid: str) -> None:
        res = self.rt.delete(cid)
        if not res.ok:
            raise Fail(f"delete failed: {res.describe()}")
        with self.suite.lock:
            self.suite.live.discard(cid)

    def run(self, b: Bundle, delete: bool = True, **kw: Any) -> Output:
        """create, start, wait for stopped, (delete); returns checker output."""
        cid, _ = self.create(b, **kw)
        self.start(cid)
        self.wait_stopped(cid)
        if delete:
            self.delete(cid)
        out = Output.parse(b.stdout())
        if "done" not in out and "sigwait" not in out:
            err = b.stderr().strip().splitlines()
            raise Fail("checker did not finish" + (f"; stderr: {err[-1]}" if err else ""))
        return out

    def probe(self, b: Bundle, *probes: list[str] | tuple[str, ...], **kw: Any) -> Output:
        """Run the checker with the given probes (each a list of words)."""
        argv = ["/checker"]
        for i, p in enumerate(probes):
            if i:
                argv.append(",")
            argv.extend(p)
        b.set_args(*argv)
        return self.run(b, **kw)

    def expect_create_error(self, b: Bundle, why: str) -> None:
        """create MUST fail, and leave no container behind (runtime.md#errors)."""
        cid, res = self.create(b, expect_ok=False)
        if res.ok:
            raise Fail(f"create succeeded but MUST fail: {why}")
        st = self.rt.state(cid)
        if st.ok:
            raise Fail(f"create failed ({why}) but left container {cid} behind")

    def cleanup(self) -> None:
        for cid in self.ids:
            with self.suite.lock:
                live = cid in self.suite.live
            if live:
                force_delete(self.rt, cid)
                with self.suite.lock:
                    self.suite.live.discard(cid)
        if not self.suite.keep:
            for d in self.dirs:
                shutil.rmtree(d, ignore_errors=True)


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise Fail(msg)


def expect_eq(got: Any, want: Any, what: str) -> None:
    if got != want:
        raise Fail(f"{what}: got {got!r}, want {want!r}")


def _read_int(path: str, default: int) -> int:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return default


def mountinfo(text: str) -> Iterator[dict[str, Any]]:
    """Parse /proc/self/mountinfo text."""
    for line in text.splitlines():
        pre, _, post = line.partition(" - ")
        f = pre.split()
        p = post.split()
        if len(f) < 6 or len(p) < 2:
            continue
        yield {
            "mount_id": f[0], "parent": f[1], "root": _oct(f[3]), "target": _oct(f[4]),
            "options": set(f[5].split(",")), "optional": f[6:], "fstype": p[0],
            "source": _oct(p[1]), "super": set(p[2].split(",")) if len(p) > 2 else set(),
        }


def _oct(s: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), s)


def mount_at(out: Output, target: str) -> dict[str, Any]:
    """The topmost mount at `target` as the container sees it."""
    found = [m for m in mountinfo(out.need("file./proc/self/mountinfo")) if m["target"] == target]
    if not found:
        raise Fail(f"no mount at {target} in the container's mountinfo")
    return found[-1]
