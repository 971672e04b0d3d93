"""cgroup v2 (unified hierarchy) driver."""
from __future__ import annotations

import os
import signal as _signal

from pyrunc.cgroups import freezer, fsutil
from pyrunc.cgroups.base import Manager, walk_pids
from pyrunc.errors import CgroupError

# The writers, the device program and stats load on first use: state/list
# only need frozen() and must stay cheap.


class V2Manager(Manager):
    driver = "fs2"

    def __init__(self, root: str, dirpath: str, rootless: bool = False, resources: dict | None = None) -> None:
        super().__init__(rootless, resources)
        self.root = root  # the cgroup2 mountpoint
        self.dir = dirpath  # absolute directory of this container's cgroup

    def path(self, controller: str = "") -> str | None:
        return self.dir

    def exists(self) -> bool:
        return os.path.isdir(self.dir)

    def create(self) -> None:
        from pyrunc.cgroups import v2res

        try:
            fsutil.mkdir_p(self.dir)
        except CgroupError:
            if self.rootless:
                return
            raise
        v2res.enable_controllers(self.root, self.dir)

    def procs_files(self) -> list[str]:
        if self.rootless and not self.exists():
            return []  # not delegated: the container stays in the caller's cgroup
        return [os.path.join(self.dir, "cgroup.procs")]

    def set(self, resources: dict, *, devices: bool = True, spec_device_paths: list[str] | None = None) -> None:
        from pyrunc.cgroups import ebpf, v2res
        from pyrunc.cgroups.devices import emulate, rules_for

        r = resources or {}
        d = self.dir
        if self.rootless and not self.exists():
            if any(r.get(k) for k in ("memory", "cpu", "pids", "blockIO", "hugepageLimits", "unified", "rdma")):
                raise CgroupError(d, f"cannot set cgroup limits: container could not join or create cgroup "
                                     f"(rootless: {self.root} is not delegated to uid {os.geteuid()})")
            return
        v2res.check_network(r)
        v2res.set_pids(d, r)
        v2res.set_memory(d, r)
        v2res.set_io(d, r)
        v2res.set_cpu(d, r)
        if devices:
            em = emulate(rules_for(r.get("devices"), spec_device_paths))
            try:
                ebpf.attach(d, em)
            except CgroupError:
                if not self.rootless:
                    raise
        v2res.set_cpuset(d, r)
        v2res.set_hugetlb(d, r)
        v2res.set_rdma(d, r)
        v2res.set_unified(d, r)
        if devices:
            self.resources = dict(r)

    def pids(self) -> list[int]:
        return walk_pids(self.dir)

    def stats(self) -> dict:
        from pyrunc.cgroups import stats

        return stats.v2_stats(self.dir)

    def freeze(self) -> None:
        freezer.freeze_v2(self.dir)

    def thaw(self) -> None:
        freezer.thaw_v2(self.dir)

    def frozen(self) -> bool:
        return freezer.frozen_v2(self.dir)

    def frozen_target(self) -> str | None:
        return freezer.frozen_target_v2(self.dir)

    def kill_all(self, sig: int = _signal.SIGKILL, owns=None) -> None:
        # cgroup.kill kills everything: only when nothing is to be spared
        if sig == _signal.SIGKILL and (owns is None or all(owns(p) for p in self.pids())) \
                and fsutil.exists(self.dir, "cgroup.kill"):
            fsutil.write(self.dir, "cgroup.kill", "1")
            return
        super().kill_all(sig, owns)

    def oom_kill_count(self) -> int | None:
        ev = fsutil.read_keyed(self.dir, "memory.events")
        return ev.get("oom_kill") if ev else None

    def destroy(self) -> None:
        fsutil.rmdir_tree(self.dir)

    def to_dict(self) -> dict:
        return {
            "driver": self.driver,
            "root": self.root,
            "path": self.dir,
            "rootless": self.rootless,
            "resources": self.resources,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "V2Manager":
        return cls(d["root"], d["path"], bool(d.get("rootless")), d.get("resources") or {})
