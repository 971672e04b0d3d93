"""The pod case: what the kubelet waits for when it starts a pod, through
containerd's CRI plugin. One private containerd (Debian's 1.6, the client
tier's harness: tests/clients/cri.py) with every runtime under test as a
runtime handler (io.containerd.runc.v2 with BinaryName, cgroupfs), so the
runtimes differ only in the binary the shim calls.

Timed per iteration: RunPodSandbox (pause container, netns, CNI) + create
and start of one container (`sleep`), and separately the teardown
(StopPodSandbox + RemovePodSandbox). Paired A B / B A like every case;
the repetition count is the docker case's."""
from __future__ import annotations

import os
import shlex
import shutil
import time

from .context import Context
from .proc import BenchError
from .report import Row
from .runtime import Runtime

MS = 1000.0


def _binary(workdir: str, rt: Runtime) -> str:
    """One path for BinaryName: the command itself, or a wrapper script."""
    if len(rt.command) == 1:
        return shutil.which(rt.command[0]) or rt.command[0]
    path = os.path.join(workdir, f"cri-{rt.name}")
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\nexec {shlex.join(rt.command)} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


def case_pod(ctx: Context) -> list[Row]:
    rows = {
        "start": Row("pod", "RunPodSandbox + create/start 1 container", "ms"),
        "teardown": Row("pod", "StopPodSandbox + RemovePodSandbox", "ms"),
        "total": Row("pod", "pod start + teardown", "ms"),
    }
    try:
        from tests.clients.cri import Cri, missing_prerequisites
        from tests.clients.harness import Sandbox
    except ImportError as exc:
        for row in rows.values():
            row.skipped = f"run from the checkout (needs tests/clients): {exc}"
        return list(rows.values())
    why = missing_prerequisites() or ("" if shutil.which("containerd") else "containerd is not installed")
    if why:
        for row in rows.values():
            row.skipped = why
        return list(rows.values())
    sb = Sandbox("bench-pod")
    cri = None
    try:
        cri = Cri(sb, {rt.name: _binary(ctx.workdir, rt) for rt in ctx.runtimes})
        ctx.log(f"  private containerd with CRI at {cri.sock}")

        def step(rt: Runtime, i: int) -> dict[str, float]:
            cfg = cri.pod_config(f"bench{i}-{rt.name}")
            pod = ""
            try:
                t0 = time.perf_counter()
                pod = cri.run_pod(rt.name, cfg)
                cri.create(pod, cfg, cri.container_config("main", ["sleep", "100000"]))
                t1 = time.perf_counter()
                cri.remove_pod(pod)
                t2 = time.perf_counter()
            except Exception as exc:  # grpc.RpcError: this runtime drops out of the case
                if pod:
                    try:
                        cri.remove_pod(pod)
                    except Exception:
                        pass
                raise BenchError(f"pod: {getattr(exc, 'details', lambda: exc)()}") from None
            return {"start": (t1 - t0) * MS, "teardown": (t2 - t1) * MS, "total": (t2 - t0) * MS}

        ctx.paired(rows, ctx.sizes.docker, step)
    finally:
        left = cri.close() if cri is not None else sb.close()
        if left:
            ctx.log(f"  pod case left behind: {left}")
    return list(rows.values())
