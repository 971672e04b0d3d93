"""cgroup v1 driver (also drives the v1 side of a hybrid host, and creates
the container's directory in the unified hierarchy there, like runc)."""
from __future__ import annotations

import os

from pyrunc.cgroups import freezer, fsutil
from pyrunc.cgroups.base import Manager, walk_pids
from pyrunc.errors import CgroupError, ConfigError

# Controllers whose limits we write, in runc's order (writers in v1res,
# loaded on first use so that state/list stay cheap).
_SETTERS = ("cpuset", "memory", "cpu", "pids", "blkio", "hugetlb", "net_cls", "net_prio")


class V1Manager(Manager):
    driver = "fs1"

    def __init__(
        self,
        paths: dict[str, str],
        unified: str | None = None,
        unified_root: str | None = None,
        rootless: bool = False,
        resources: dict | None = None,
    ) -> None:
        super().__init__(rootless, resources)
        self.paths = dict(paths)  # controller -> absolute dir
        self.unified = unified  # container dir in the unified hierarchy (hybrid)
        self.unified_root = unified_root

    # -- helpers --------------------------------------------------------
    def _dirs(self) -> list[str]:
        seen: list[str] = []
        for p in self.paths.values():
            if p not in seen:
                seen.append(p)
        if self.unified and self.unified not in seen:
            seen.append(self.unified)
        return seen

    def _unified_has(self, controller: str) -> bool:
        if not self.unified_root:
            return False
        return controller in (fsutil.read_opt(self.unified_root, "cgroup.controllers") or "").split()

    def path(self, controller: str = "") -> str | None:
        if controller == "":
            for c in ("freezer", "pids", "devices", "memory", "cpu", "name=systemd"):
                if c in self.paths:
                    return self.paths[c]
            return self.unified
        return self.paths.get(controller)

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self._dirs())

    # -- lifecycle ------------------------------------------------------
    def create(self) -> None:
        from pyrunc.cgroups import v2res

        for ctrl, d in list(self.paths.items()):
            try:
                created = fsutil.mkdir_p(d)
            except CgroupError:
                if self.rootless:
                    del self.paths[ctrl]
                    continue
                raise
            if ctrl == "cpuset":
                self._init_cpuset(d, created)
        if self.unified:
            try:
                fsutil.mkdir_p(self.unified)
            except CgroupError:
                if not self.rootless:
                    raise
                self.unified = None
            else:
                if self.unified_root and "hugetlb" not in self.paths and self._unified_has("hugetlb"):
                    v2res.enable_controllers(self.unified_root, self.unified, only={"hugetlb"})

    @staticmethod
    def _init_cpuset(d: str, created: list[str]) -> None:
        """A new v1 cpuset starts empty: copy cpus/mems down from the parent."""
        for c in created or [d]:
            parent = os.path.dirname(c)
            for f in ("cpuset.cpus", "cpuset.mems"):
                cur = (fsutil.read_opt(c, f) or "").strip()
                if not cur:
                    fsutil.write(c, f, (fsutil.read_opt(parent, f) or "").strip() or "\n")

    def procs_files(self) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self._dirs()]

    def set(self, resources: dict, *, devices: bool = True, spec_device_paths: list[str] | None = None) -> None:
        from pyrunc.cgroups import v1res, v2res
        from pyrunc.cgroups.devices import emulate, rules_for

        r = resources or {}
        if r.get("unified"):
            raise ConfigError("linux.resources.unified", "invalid configuration: cannot use unified on cgroup v1")
        for ctrl in _SETTERS:
            fn = getattr(v1res, f"set_{ctrl}")
            d = self.paths.get(ctrl)
            if d is None:
                if ctrl == "hugetlb" and self.unified and v1res.wants("hugetlb", r) and self._unified_has("hugetlb"):
                    v2res.set_hugetlb(self.unified, r)
                    continue
                if v1res.wants(ctrl, r):
                    why = (f" (rootless: the {ctrl} hierarchy is not delegated to uid {os.geteuid()})"
                           if self.rootless else "")
                    raise CgroupError(ctrl, f"cannot set {ctrl} limit: container could not join or create cgroup{why}")
                continue
            try:
                fn(d, r)
            except CgroupError:
                if not self.rootless:
                    raise
        if r.get("rdma"):
            d = self.paths.get("rdma")
            if d is None:
                raise CgroupError("rdma", "cannot set rdma limit: container could not join or create cgroup")
            for dev, lim in r["rdma"].items():
                fsutil.write(d, "rdma.max", v2res.rdma_line(dev, lim or {}))
        if devices:
            d = self.paths.get("devices")
            if d is not None:
                em = emulate(rules_for(r.get("devices"), spec_device_paths))
                try:
                    v1res.set_devices(d, em)
                except CgroupError:
                    if not self.rootless:
                        raise
            self.resources = dict(r)

    def destroy(self) -> None:
        errs: list[CgroupError] = []
        for d in self._dirs():
            try:
                fsutil.rmdir_tree(d)
            except CgroupError as e:
                errs.append(e)
        if errs:
            raise errs[0]

    # -- inspection -----------------------------------------------------
    def pids(self) -> list[int]:
        d = self.path("")
        return walk_pids(d) if d else []

    def stats(self) -> dict:
        from pyrunc.cgroups import stats

        return stats.v1_stats(self.paths, self.unified if self._unified_has("hugetlb") else None)

    def oom_kill_count(self) -> int | None:
        d = self.paths.get("memory")
        if not d:
            return None
        return fsutil.read_keyed(d, "memory.oom_control").get("oom_kill")

    # -- freezer --------------------------------------------------------
    def _freezer(self) -> str:
        d = self.paths.get("freezer")
        if d is None:
            raise CgroupError("freezer", "the freezer cgroup is not available")
        return d

    def freeze(self) -> None:
        freezer.freeze_v1(self._freezer())

    def thaw(self) -> None:
        freezer.thaw_v1(self._freezer())

    def frozen(self) -> bool:
        d = self.paths.get("freezer")
        return freezer.frozen_v1(d) if d else False

    def frozen_target(self) -> str | None:
        d = self.paths.get("freezer")
        return freezer.frozen_target_v1(d) if d else None

    # -- serialisation --------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "driver": self.driver,
            "paths": dict(self.paths),
            "unified": self.unified,
            "unified_root": self.unified_root,
            "rootless": self.rootless,
            "resources": self.resources,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "V1Manager":
        return cls(
            d.get("paths") or {},
            d.get("unified"),
            d.get("unified_root"),
            bool(d.get("rootless")),
            d.get("resources") or {},
        )
