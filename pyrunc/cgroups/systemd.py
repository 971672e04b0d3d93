"""The systemd cgroup driver (`--systemd-cgroup`), with runc's semantics.

The container's cgroup is a transient scope unit `<prefix>-<name>.scope` in
the slice named by `linux.cgroupsPath` = "slice:prefix:name" (empty: runc's
`system.slice:runc:<id>`; a slice `a-b.slice` lives in `a.slice`, "-" is the
root slice).  The scope is made with StartTransientUnit (Delegate=yes,
Slice=, DefaultDependencies=no, the accounting switches), and the resources
systemd knows become unit properties (SetUnitProperties); then every limit is
also written to the cgroup files, as runc's systemd managers do (systemd
re-applies its properties on daemon-reload: the two must agree).

Order.  pyrunc's launcher joins the cgroup before it clones the init (the
init is born inside it), but systemd refuses a scope without a process.  So
`create()` forks a holder child that waits on a pipe, starts the scope with
PIDs=[holder] and waits for the job; the launcher then joins the scope's
cgroup like any cgroupfs one; once the init's pid is known the holder is
released (`release_holder`), the init being already in the scope, so the
scope never runs empty.  (runc starts the scope with its `runc init` pid,
blocked before it does anything; the end state is the same: the init in the
scope's cgroup, nothing else.)

Inspection, freezing, kill --all, stats, ps work on the cgroup files like the
cgroupfs drivers (runc does the same); `destroy` stops the unit and resets it
if it failed.  This module imports nothing heavy: D-Bus (pyrunc.cgroups.sdbus,
jeepney) loads only for create, update and delete."""
from __future__ import annotations

import os

from pyrunc.cgroups.fs1 import V1Manager
from pyrunc.cgroups.fs2 import V2Manager
from pyrunc.errors import CgroupError, ConfigError

UINT64_MAX = (1 << 64) - 1
FIELD = "linux.cgroupsPath"


# -- names ------------------------------------------------------------------
def parse_path(cgroups_path: str | None, cid: str, rootless: bool = False) -> tuple[str, str, str]:
    """"slice:prefix:name" -> (slice, prefix, name), with runc's defaults."""
    if not cgroups_path:
        return ("user.slice" if rootless else "system.slice"), "runc", cid
    parts = cgroups_path.split(":")
    if len(parts) != 3:
        raise ConfigError(FIELD, f'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, '
                                 f'got {cgroups_path!r} instead')
    sl, prefix, name = parts
    if not sl:
        sl = "user.slice" if rootless else "system.slice"
    if not name:
        name = cid
    return sl, prefix, name


def expand_slice(sl: str) -> str:
    """systemd's slice path: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice";
    "-.slice" and "-" are the root slice ("/")."""
    suffix = ".slice"
    if sl in ("-", "-.slice"):
        return "/"
    if not sl.endswith(suffix) or len(sl) == len(suffix) or "/" in sl:
        raise ConfigError(FIELD, f"invalid slice name: {sl}")
    base = sl[: -len(suffix)]
    if "--" in base or base.startswith("-") or base.endswith("-"):
        raise ConfigError(FIELD, f"invalid slice name: {sl}")
    path, prefix = "", ""
    for comp in base.split("-"):
        path += "/" + prefix + comp + suffix
        prefix += comp + "-"
    return path


def unit_name(prefix: str, name: str) -> str:
    """runc's getUnitName: "<prefix>-<name>.scope" (a name ending in .slice
    names a slice unit, which this driver does not make)."""
    if name.endswith(".slice"):
        raise CgroupError(name, "--systemd-cgroup: a cgroupsPath naming a slice unit (name ending in .slice) "
                                "is not supported; use slice:prefix:name for a scope")
    return f"{prefix}-{name}.scope"


def _check_unit_name(unit: str) -> None:
    ok = all(c.isalnum() and c.isascii() or c in ":-_.\\@" for c in unit)
    if not ok or len(unit) > 255:
        raise ConfigError(FIELD, f"invalid systemd unit name {unit!r}")


# -- resources -> unit properties ------------------------------------------
def _cpu_quota(cpu: dict) -> list:
    """runc's addCpuQuota: CPUQuotaPerSecUSec (rounded up to 10 ms, as
    systemd stores it) and CPUQuotaPeriodUSec."""
    quota = int(cpu.get("quota") or 0)
    period = int(cpu.get("period") or 0)
    props: list = []
    if period:
        props.append(("CPUQuotaPeriodUSec", ("t", period)))
    if quota or period:
        per_sec = UINT64_MAX  # "infinity"
        if quota > 0:
            if not period:
                period = 100000
            per_sec = quota * 1000000 // period
            if per_sec % 10000:
                per_sec = (per_sec // 10000 + 1) * 10000
        props.append(("CPUQuotaPerSecUSec", ("t", per_sec)))
    return props


def _bitmask(spec: str, field: str) -> bytes:
    """A cpuset list "0-2,4" -> systemd's AllowedCPUs byte array (bit i of
    byte i//8 for cpu i)."""
    bits: set[int] = set()
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                bits.update(range(lo, hi + 1))
            else:
                bits.add(int(part))
        except ValueError:
            raise ConfigError(field, f"invalid cpuset list {spec!r}") from None
    if not bits:
        return b""
    out = bytearray(max(bits) // 8 + 1)
    for b in bits:
        out[b // 8] |= 1 << (b % 8)
    return bytes(out)


def _device_properties(resources: dict, spec_device_paths: list[str] | None) -> list:
    """runc's generateDeviceProperties: DevicePolicy=strict and a DeviceAllow
    per allowed rule (an allow-by-default list becomes DevicePolicy=auto
    with nothing listed when it allows everything)."""
    from pyrunc.cgroups.devices import WILDCARD, emulate, rules_for

    em = emulate(rules_for(resources.get("devices"), spec_device_paths))
    if em.default_allow:
        if not em.exceptions:
            return [("DevicePolicy", ("s", "auto")), ("DeviceAllow", ("a(ss)", []))]
        # systemd cannot express deny rules: runc falls back to deny-all here too;
        # the eBPF program we attach enforces the exact rules anyway.
        return [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))]
    allow: list[tuple[str, str]] = []
    for r in em.exceptions:
        kind = "char" if r.type == "c" else "block"
        if r.major == WILDCARD:
            entry = f"{kind}-*"
        elif r.minor == WILDCARD:
            name = _proc_devices_name(r.type, r.major)
            if name is None:
                continue  # not expressible in systemd; the eBPF program still allows it
            entry = f"{kind}-{name}"
        else:
            entry = f"/dev/{kind}/{r.major}:{r.minor}"
        allow.append((entry, r.access))
    return [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", allow))]


def _proc_devices_name(dtype: str, major: int) -> str | None:
    try:
        with open("/proc/devices") as f:
            text = f.read()
    except OSError:
        return None
    section = "Character devices:" if dtype == "c" else "Block devices:"
    inside = False
    for line in text.splitlines():
        if line.endswith(":"):
            inside = line == section
            continue
        f2 = line.split()
        if inside and len(f2) == 2 and f2[0] == str(major):
            return f2[1]
    return None


def _io_properties(blkio: dict) -> list:
    from pyrunc.cgroups.convert import blkio_weight_to_io_weight

    props: list = []
    w = int(blkio.get("weight") or 0)
    if w:
        props.append(("IOWeight", ("t", blkio_weight_to_io_weight(w))))
    for key, prop in (("throttleReadBpsDevice", "IOReadBandwidthMax"),
                      ("throttleWriteBpsDevice", "IOWriteBandwidthMax"),
                      ("throttleReadIOPSDevice", "IOReadIOPSMax"),
                      ("throttleWriteIOPSDevice", "IOWriteIOPSMax")):
        devs = blkio.get(key) or []
        if devs:
            props.append((prop, ("a(st)", [(f"/dev/block/{d['major']}:{d['minor']}", int(d["rate"]))
                                           for d in devs])))
    wdevs = blkio.get("weightDevice") or []
    entries = [(f"/dev/block/{d['major']}:{d['minor']}", blkio_weight_to_io_weight(int(d["weight"])))
               for d in wdevs if d.get("weight")]
    if entries:
        props.append(("IODeviceWeight", ("a(st)", entries)))
    return props


def _limit(v: int) -> int:
    return UINT64_MAX if v < 0 else v


def v2_properties(resources: dict | None, *, devices: bool = True,
                  spec_device_paths: list[str] | None = None) -> list:
    """linux.resources -> systemd unit properties on a cgroup v2 host (runc's
    genV2ResourcesProperties, plus the IO limits systemd has)."""
    from pyrunc.cgroups.convert import cpu_shares_to_weight, memory_swap_to_v2

    r = resources or {}
    props: list = []
    if devices:
        props += _device_properties(r, spec_device_paths)
    mem = r.get("memory") or {}
    limit = int(mem.get("limit") or 0)
    if limit:
        props.append(("MemoryMax", ("t", _limit(limit))))
    reservation = int(mem.get("reservation") or 0)
    if reservation:
        props.append(("MemoryLow", ("t", _limit(reservation))))
    swap = memory_swap_to_v2(int(mem.get("swap") or 0), limit)
    if swap:
        props.append(("MemorySwapMax", ("t", _limit(swap))))
    pids = (r.get("pids") or {}).get("limit")
    if pids is not None and (int(pids) > 0 or int(pids) == -1):
        props.append(("TasksMax", ("t", _limit(int(pids)))))
    cpu = r.get("cpu") or {}
    shares = int(cpu.get("shares") or 0)
    if shares:
        props.append(("CPUWeight", ("t", cpu_shares_to_weight(shares))))
    props += _cpu_quota(cpu)
    if cpu.get("cpus"):
        props.append(("AllowedCPUs", ("ay", _bitmask(cpu["cpus"], "linux.resources.cpu.cpus"))))
    if cpu.get("mems"):
        props.append(("AllowedMemoryNodes", ("ay", _bitmask(cpu["mems"], "linux.resources.cpu.mems"))))
    props += _io_properties(r.get("blockIO") or {})
    props += _unified_properties(r.get("unified") or {})
    return props


def _unified_properties(unified: dict) -> list:
    """runc's unifiedResToSystemdProps for the keys systemd has."""
    props: list = []
    for key, value in unified.items():
        v = str(value).strip()
        try:
            if key in ("memory.max", "memory.high", "memory.low", "memory.min", "memory.swap.max"):
                name = {"memory.max": "MemoryMax", "memory.high": "MemoryHigh", "memory.low": "MemoryLow",
                        "memory.min": "MemoryMin", "memory.swap.max": "MemorySwapMax"}[key]
                props.append((name, ("t", UINT64_MAX if v == "max" else int(v))))
            elif key == "pids.max":
                props.append(("TasksMax", ("t", UINT64_MAX if v == "max" else int(v))))
            elif key == "cpu.weight":
                props.append(("CPUWeight", ("t", int(v))))
            elif key == "cpu.max":
                f = v.split()
                quota = -1 if f[0] == "max" else int(f[0])
                period = int(f[1]) if len(f) > 1 else 100000
                props += _cpu_quota({"quota": quota, "period": period})
            elif key == "cpuset.cpus":
                props.append(("AllowedCPUs", ("ay", _bitmask(v, f"linux.resources.unified.{key}"))))
            elif key == "cpuset.mems":
                props.append(("AllowedMemoryNodes", ("ay", _bitmask(v, f"linux.resources.unified.{key}"))))
        except (ValueError, IndexError):
            raise ConfigError(f"linux.resources.unified.{key}", f"invalid value {value!r}") from None
    return props


def v1_properties(resources: dict | None, *, devices: bool = True,
                  spec_device_paths: list[str] | None = None) -> list:
    """linux.resources -> systemd unit properties on a cgroup v1 host (runc's
    genV1ResourcesProperties: the v1 names systemd uses there)."""
    r = resources or {}
    props: list = []
    if devices:
        props += _device_properties(r, spec_device_paths)
    mem = r.get("memory") or {}
    limit = int(mem.get("limit") or 0)
    if limit:
        props.append(("MemoryLimit", ("t", _limit(limit))))
    cpu = r.get("cpu") or {}
    shares = int(cpu.get("shares") or 0)
    if shares:
        props.append(("CPUShares", ("t", shares)))
    props += _cpu_quota(cpu)
    w = int((r.get("blockIO") or {}).get("weight") or 0)
    if w:
        props.append(("BlockIOWeight", ("t", w)))
    pids = (r.get("pids") or {}).get("limit")
    if pids is not None and (int(pids) > 0 or int(pids) == -1):
        props.append(("TasksMax", ("t", _limit(int(pids)))))
    if cpu.get("cpus"):
        props.append(("AllowedCPUs", ("ay", _bitmask(cpu["cpus"], "linux.resources.cpu.cpus"))))
    if cpu.get("mems"):
        props.append(("AllowedMemoryNodes", ("ay", _bitmask(cpu["mems"], "linux.resources.cpu.mems"))))
    return props


def scope_properties(slice_: str, pid: int, unit: str, v2: bool) -> list:
    """What StartTransientUnit gets (runc's Apply): the slice, the first pid,
    delegation, no default dependencies, accounting on."""
    props: list = [
        ("Description", ("s", f"pyrunc container {unit}")),
        ("Slice", ("s", slice_)),
        ("PIDs", ("au", [pid])),
        ("Delegate", ("b", True)),
        ("DefaultDependencies", ("b", False)),
        ("MemoryAccounting", ("b", True)),
        ("CPUAccounting", ("b", True)),
        ("TasksAccounting", ("b", True)),
    ]
    props.append(("IOAccounting", ("b", True)) if v2 else ("BlockIOAccounting", ("b", True)))
    return props


# -- the holder and the unit ------------------------------------------------
class _Unit:
    """What the two systemd managers share: the unit, its slice, the holder,
    and around the cgroupfs driver's lifecycle (cooperative super(): _Unit
    comes first in each manager's bases) the scope's start, properties and
    stop.  `properties` maps resources to unit properties (v1 or v2 names)."""

    def create(self) -> None:
        self._start_scope()
        # then the cgroupfs part: v2 enables the controllers along the path,
        # v1 makes the hierarchies systemd does not manage (runc's joinCgroups)
        super().create()  # type: ignore[misc]

    def pids(self) -> list[int]:
        return self._not_holder(super().pids())  # type: ignore[misc]

    def set(self, resources: dict, *, devices: bool = True, spec_device_paths: list[str] | None = None) -> None:
        self._set_properties(self.properties(resources, devices=devices, spec_device_paths=spec_device_paths))
        super().set(resources, devices=devices, spec_device_paths=spec_device_paths)  # type: ignore[misc]

    def destroy(self) -> None:
        self._stop_unit()
        super().destroy()  # type: ignore[misc]  # what systemd left (sub-cgroups the container made)

    def to_dict(self) -> dict:
        return dict(super().to_dict(), slice=self.slice, unit=self.unit)  # type: ignore[misc]

    unit: str
    slice: str
    holder: int
    _holder_fd: int
    v2: bool

    def _start_scope(self) -> None:
        from pyrunc.cgroups.sdbus import SystemdBus

        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the holder: waits until the pipe closes
            try:
                os.close(w)
                os.read(r, 1)
            finally:
                os._exit(0)
        os.close(r)
        self.holder, self._holder_fd = pid, w
        try:
            self._bus().start_transient_unit(self.unit, scope_properties(self.slice, pid, self.unit, self.v2))
        except BaseException:
            self.release_holder()
            raise

    def _bus(self):
        """One connection per command (create: start the scope, then set
        its properties): the SASL handshake once."""
        bus = getattr(self, "_conn", None)
        if bus is None:
            from pyrunc.cgroups.sdbus import SystemdBus

            bus = self._conn = SystemdBus.connect()
        return bus

    def release_holder(self) -> None:
        """Let the holder exit (the init is in the scope by now) and reap it;
        close the D-Bus connection."""
        bus = getattr(self, "_conn", None)
        if bus is not None:
            bus.close()
            self._conn = None
        if getattr(self, "holder", 0):
            from pyrunc.proc import reap

            try:
                os.close(self._holder_fd)
            except OSError:
                pass
            reap(self.holder)
            self.holder = 0

    def _set_properties(self, props: list) -> None:
        if props:
            self._bus().set_unit_properties(self.unit, props)

    def _stop_unit(self) -> None:
        """StopUnit and ResetFailedUnit.  A scope whose last process died may
        already be stopping or gone on its own: a refusal then is no error
        once its cgroup is gone (the files are what `delete` must clean)."""
        from pyrunc.cgroups.sdbus import DBusError

        try:
            bus = self._bus()
            bus.stop_unit(self.unit)
            bus.reset_failed_unit(self.unit)
        except DBusError as e:
            if self.exists():
                raise
            from pyrunc import log

            log.get().debug(f"stopping {self.unit}: {e} (its cgroup is gone)")
        finally:
            self.release_holder()

    def kill_all(self, sig: int = 9, owns=None) -> None:
        """As the cgroupfs drivers; but systemd removes the scope's cgroup
        as soon as it runs empty, so a cgroup gone midway is no error."""
        try:
            super().kill_all(sig, owns)  # type: ignore[misc]
        except CgroupError:
            if self.exists():  # type: ignore[attr-defined]
                raise

    def _not_holder(self, pids: list[int]) -> list[int]:
        h = getattr(self, "holder", 0)
        return [p for p in pids if p != h] if h else pids


class SystemdV2Manager(_Unit, V2Manager):
    driver = "systemd2"
    v2 = True

    def __init__(self, root: str, slice_: str, unit: str, rootless: bool = False,
                 resources: dict | None = None) -> None:
        _check_unit_name(unit)
        super().__init__(root, os.path.join(root + expand_slice(slice_), unit).replace("//", "/"),
                         rootless, resources)
        self.slice = slice_
        self.unit = unit
        self.holder = 0

    properties = staticmethod(v2_properties)

    @classmethod
    def from_dict(cls, d: dict) -> "SystemdV2Manager":
        return cls(d["root"], d["slice"], d["unit"], bool(d.get("rootless")), d.get("resources") or {})


class SystemdV1Manager(_Unit, V1Manager):
    driver = "systemd1"
    v2 = False

    def __init__(self, paths: dict[str, str], unified: str | None, unified_root: str | None, slice_: str,
                 unit: str, rootless: bool = False, resources: dict | None = None) -> None:
        _check_unit_name(unit)
        super().__init__(paths, unified, unified_root, rootless, resources)
        self.slice = slice_
        self.unit = unit
        self.holder = 0

    properties = staticmethod(v1_properties)

    @classmethod
    def from_dict(cls, d: dict) -> "SystemdV1Manager":
        return cls(d.get("paths") or {}, d.get("unified"), d.get("unified_root"), d["slice"], d["unit"],
                   bool(d.get("rootless")), d.get("resources") or {})


def manager(cgroups_path: str | None, cid: str, rootless: bool = False):
    """The systemd-driver Manager for a new container."""
    from pyrunc.cgroups import V1_CONTROLLERS
    from pyrunc.cgroups.detect import detect

    if rootless:
        from pyrunc.errors import UnsupportedError

        raise UnsupportedError("--systemd-cgroup with a rootless container (systemdUser)")
    sl, prefix, name = parse_path(cgroups_path, cid, rootless)
    unit = unit_name(prefix, name)
    rel = expand_slice(sl).rstrip("/") + "/" + unit
    layout = detect()
    if layout.mode == "v2":
        assert layout.unified is not None
        return SystemdV2Manager(layout.unified, sl, unit)
    if layout.mode in ("v1", "hybrid"):
        paths = {c: layout.v1[c] + rel for c in V1_CONTROLLERS if layout.v1.get(c) is not None}
        unified = layout.unified + rel if layout.unified is not None else None
        return SystemdV1Manager(paths, unified, layout.unified, sl, unit)
    raise CgroupError("/proc/self/mountinfo", "no cgroup filesystem is mounted")
