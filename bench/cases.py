"""The benchmark cases. Each takes the Context and returns its table rows.

Times are wall-clock milliseconds of the runtime command(s) only; setup and
cleanup around them (creating the container a `start` needs, deleting what a
`create` made) are not timed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import time

from . import proc
from .context import Context
from .dockerd import PrivateDockerd
from .pod import case_pod
from .report import Row
from .runtime import Runtime

MS = 1000.0
MIB = 1024.0
TIME = "/usr/bin/time"  # GNU time, for the peak RSS of a runtime process


def _rows(case: str, unit: str, labels: dict[str, str], cpu: bool = False) -> dict[str, Row]:
    """One row per label; with cpu (--cpu), a "CPU" row after each, key `<key>_cpu`."""
    rows = {}
    for key, label in labels.items():
        rows[key] = Row(case, label, unit)
        if cpu:
            rows[f"{key}_cpu"] = Row(case, f"  CPU: {label}", unit)
    return rows


def _ms(out: dict[str, float], key: str, res: proc.Result, cpu: bool) -> proc.Result:
    """Record res's wall ms under key (and its CPU ms under key_cpu with --cpu)."""
    out[key] = res.seconds * MS
    if cpu:
        out[f"{key}_cpu"] = res.cpu * MS
    return res


def case_run(ctx: Context) -> list[Row]:
    rows = _rows("run", "ms", {"run": "run /bin/true"}, ctx.cpu)

    def step(rt: Runtime, i: int) -> dict[str, float]:
        cid = ctx.new_id(rt, "run")
        out: dict[str, float] = {}
        _ms(out, "run", rt.run("run", "--bundle", ctx.bundles.true, cid), ctx.cpu)
        rt.forget(cid)  # `run` deletes the container when its process exits
        return out

    ctx.paired(rows, ctx.sizes.run, step)
    return list(rows.values())


def case_cycle(ctx: Context) -> list[Row]:
    rows = _rows("cycle", "ms", {"cycle": "create+start+wait+delete"})

    def step(rt: Runtime, i: int) -> dict[str, float]:
        cid = ctx.new_id(rt, "cyc")
        pid_file = ctx.pid_file(rt, cid)
        t0 = time.perf_counter()
        rt.run("create", "--bundle", ctx.bundles.true, "--pid-file", pid_file, cid)
        pid = proc.read_pid_file(pid_file)
        rt.run("start", cid)
        proc.wait_exit(pid)
        rt.run("delete", cid)
        seconds = time.perf_counter() - t0
        rt.forget(cid)
        return {"cycle": seconds * MS}

    ctx.paired(rows, ctx.sizes.cycle, step)
    return list(rows.values())


def case_ops(ctx: Context) -> list[Row]:
    """start, state (running), kill and delete (stopped), each timed alone,
    on one `sleep` container per iteration."""
    rows = _rows("ops", "ms", {
        "start": "start (created sleep)",
        "state": "state (running)",
        "kill": "kill KILL (running)",
        "delete": "delete (stopped)",
    }, ctx.cpu)

    def step(rt: Runtime, i: int) -> dict[str, float]:
        cid = ctx.new_id(rt, "ops")
        pid_file = ctx.pid_file(rt, cid)
        rt.run("create", "--bundle", ctx.bundles.sleep, "--pid-file", pid_file, cid)
        pid = proc.read_pid_file(pid_file)
        out: dict[str, float] = {}
        _ms(out, "start", rt.run("start", cid), ctx.cpu)
        _ms(out, "state", rt.run("state", cid), ctx.cpu)
        _ms(out, "kill", rt.run("kill", cid, "KILL"), ctx.cpu)
        proc.wait_exit(pid)
        _ms(out, "delete", rt.run("delete", cid), ctx.cpu)
        rt.forget(cid)
        return out

    ctx.paired(rows, ctx.sizes.ops, step)
    return list(rows.values())


def case_state(ctx: Context) -> list[Row]:
    """`state` alone, of one running container per runtime, many times: the
    start-up cost of a command that does almost nothing, e.g. to compare the
    ways pyrunc can be installed (python3 -m bench.entrypoints)."""
    rows = _rows("state", "ms", {"state": "state (running), start-up bound"})
    live: dict[str, str] = {}
    try:
        for rt in ctx.runtimes:
            cid = ctx.new_id(rt, "st")
            rt.run("create", "--bundle", ctx.bundles.sleep, cid)
            rt.run("start", cid)
            live[rt.name] = cid

        def step(rt: Runtime, i: int) -> dict[str, float]:
            return {"state": rt.run("state", live[rt.name]).seconds * MS}

        ctx.paired(rows, ctx.sizes.ops * 3, step, warmup=3)
    finally:
        for rt in ctx.runtimes:
            if rt.name in live:
                rt.try_run("delete", "--force", live[rt.name])
                rt.forget(live[rt.name])
    return list(rows.values())


def _populate(ctx: Context, rt: Runtime, store: list[str], target: int) -> None:
    """Grow rt's store to `target` stopped containers: real containers made by
    `run --detach` of /bin/true (state, cgroups and all; no live process)."""
    new = [ctx.new_id(rt, "lst") for _ in range(target - len(store))]
    if not new:
        return
    t0 = time.perf_counter()
    first = ["run", "--detach", "--bundle", ctx.bundles.true, "--pid-file", ctx.pid_file(rt, new[0]), new[0]]
    if rt.try_run(*first).returncode == 0:
        ctx.parallel(rt, [["run", "--detach", "--bundle", ctx.bundles.true,
                           "--pid-file", ctx.pid_file(rt, cid), cid] for cid in new[1:]],
                     f"populating {target} (run --detach)")
    else:  # no `run --detach`: create, then start
        rt.try_run("delete", "--force", new[0])
        ctx.parallel(rt, [["create", "--bundle", ctx.bundles.true,
                           "--pid-file", ctx.pid_file(rt, cid), cid] for cid in new],
                     f"populating {target} (create)")
        ctx.parallel(rt, [["start", cid] for cid in new], f"populating {target} (start)")
    seconds = time.perf_counter() - t0
    store.extend(new)
    for cid in new:
        proc.wait_exit(proc.read_pid_file(ctx.pid_file(rt, cid)))
    proc.reap()
    listed = len(rt.list_ids())
    if listed != target:
        raise proc.BenchError(f"{rt.name} list shows {listed} containers, expected {target}")
    ctx.log(f"  {rt.name}: store filled to {target} in {seconds:.1f}s")


def case_list(ctx: Context) -> list[Row]:
    """list, state of a stopped container, and create, as the store grows."""
    rows: list[Row] = []
    stores: dict[str, list[str]] = {rt.name: [] for rt in ctx.runtimes}
    live = list(ctx.runtimes)
    for size in ctx.sizes.list_sizes:
        level = _rows("list", "ms", {
            "list": f"list ({size} in store)",
            "state": f"state ({size} in store)",
            "create": f"create ({size} in store)",
        }, ctx.cpu)
        for rt in list(live):
            try:
                _populate(ctx, rt, stores[rt.name], size)
            except proc.BenchError as exc:
                for row in level.values():
                    row.errors[rt.name] = str(exc)
                live.remove(rt)
                rt.cleanup()

        def step(rt: Runtime, i: int) -> dict[str, float]:
            out: dict[str, float] = {}
            _ms(out, "list", rt.run("list"), ctx.cpu)
            _ms(out, "state", rt.run("state", stores[rt.name][0]), ctx.cpu)
            cid = ctx.new_id(rt, "lcr")
            _ms(out, "create", rt.run("create", "--bundle", ctx.bundles.true, cid), ctx.cpu)
            rt.try_run("delete", "--force", cid)
            rt.forget(cid)
            return out

        ctx.paired(level, ctx.sizes.list_reps, step, runtimes=live)
        live = [rt for rt in live if rt.name not in level["list"].errors]
        rows.extend(level.values())
    for rt in ctx.runtimes:
        t0 = time.perf_counter()
        try:
            ctx.parallel(rt, [["delete", "--force", cid] for cid in stores[rt.name]], "emptying store")
        except proc.BenchError as exc:
            ctx.log(f"  {rt.name}: {exc}")
        for cid in stores[rt.name]:
            rt.forget(cid)
        ctx.log(f"  {rt.name}: store emptied in {time.perf_counter() - t0:.1f}s")
    return rows


def case_concurrent(ctx: Context) -> list[Row]:
    n = ctx.sizes.concurrent
    rows = _rows("concurrent", "ms", {"all": f"{n} creates at once (wall)"})

    def step(rt: Runtime, i: int) -> dict[str, float]:
        ids = [ctx.new_id(rt, "con") for _ in range(n)]
        t0 = time.perf_counter()
        pids = [proc.spawn(rt.argv("create", "--bundle", ctx.bundles.true, cid), rt.stderr_path)
                for cid in ids]
        codes = [proc.wait(pid) for pid in pids]
        seconds = time.perf_counter() - t0
        failed = sum(1 for c in codes if c != 0)
        try:
            if failed:
                raise proc.BenchError(f"{failed}/{n} concurrent creates failed: "
                                      f"{proc.stderr_tail(rt.stderr_path)}")
        finally:
            ctx.parallel(rt, [["delete", "--force", cid] for cid in ids], "cleanup")
            for cid in ids:
                rt.forget(cid)
        return {"all": seconds * MS}

    ctx.paired(rows, ctx.sizes.concurrent_reps, step, warmup=0)
    return list(rows.values())


def case_memory(ctx: Context) -> list[Row]:
    rows = _rows("memory", "MiB", {
        "rss": "created init VmRSS",
        "anon": "created init RssAnon",
        "peak": "create peak RSS (runtime)",
    })

    have_time = os.access(TIME, os.X_OK)
    if not have_time:
        rows["peak"].skipped = f"{TIME} not installed (apt-get install time)"

    def step(rt: Runtime, i: int) -> dict[str, float]:
        cid = ctx.new_id(rt, "mem")
        pid_file = ctx.pid_file(rt, cid)
        time_out = os.path.join(ctx.workdir, f"time-{rt.name}.out")
        # GNU time, not our own wait4: a child spawned straight from this
        # Python process inherits its RSS high-water mark across exec.
        create = rt.argv("create", "--bundle", ctx.bundles.true, "--pid-file", pid_file, cid)
        if have_time:
            create = [TIME, "-f", "%M", "-o", time_out, *create]
        proc.check(create, rt.stderr_path)
        pid = proc.read_pid_file(pid_file)
        status = proc.proc_status_kib(pid, ("VmRSS", "RssAnon"))
        rt.run("delete", "--force", cid)
        rt.forget(cid)
        out = {"rss": status["VmRSS"] / MIB, "anon": status["RssAnon"] / MIB}
        if have_time:
            with open(time_out) as f:
                out["peak"] = int(f.read().split()[-1]) / MIB
        return out

    ctx.paired(rows, ctx.sizes.memory, step)
    return list(rows.values())


def case_pause(ctx: Context) -> list[Row]:
    """pause and resume of a running `sleep` container, each timed alone."""
    rows = _rows("pause", "ms", {"pause": "pause (running)", "resume": "resume (paused)"}, ctx.cpu)
    live: dict[str, str] = {}
    try:
        for rt in ctx.runtimes:
            cid = ctx.new_id(rt, "pz")
            rt.run("run", "--detach", "--bundle", ctx.bundles.sleep, cid)
            live[rt.name] = cid

        def step(rt: Runtime, i: int) -> dict[str, float]:
            out: dict[str, float] = {}
            _ms(out, "pause", rt.run("pause", live[rt.name]), ctx.cpu)
            _ms(out, "resume", rt.run("resume", live[rt.name]), ctx.cpu)
            return out

        ctx.paired(rows, ctx.sizes.ops, step)
    finally:
        for rt in ctx.runtimes:
            if rt.name in live:
                rt.try_run("delete", "--force", live[rt.name])
                rt.forget(live[rt.name])
    return list(rows.values())


def case_k8s(ctx: Context) -> list[Row]:
    """The Kubernetes-like bundle (bench/k8s.py: docker's seccomp profile,
    20 mounts, six namespaces, resources): `run` of /bin/true, and `create`
    alone (force-deleted afterwards, untimed)."""
    rows = _rows("k8s", "ms", {"run": "k8s-like: run /bin/true", "create": "k8s-like: create"}, ctx.cpu)

    def step(rt: Runtime, i: int) -> dict[str, float]:
        cid = ctx.new_id(rt, "k8r")
        out: dict[str, float] = {}
        _ms(out, "run", rt.run("run", "--bundle", ctx.bundles.k8s_true, cid), ctx.cpu)
        rt.forget(cid)
        cid = ctx.new_id(rt, "k8c")
        _ms(out, "create", rt.run("create", "--bundle", ctx.bundles.k8s_sleep, cid), ctx.cpu)
        rt.try_run("delete", "--force", cid)
        rt.forget(cid)
        return out

    ctx.paired(rows, ctx.sizes.run, step)
    return list(rows.values())


def _lifecycle(rt: Runtime, ctx: Context, bundle: str, cid: str) -> None:
    """create, start, state, kill KILL, wait for the init, delete: what a
    shim asks of the runtime for one short-lived container."""
    pid_file = ctx.pid_file(rt, cid)
    rt.run("create", "--bundle", bundle, "--pid-file", pid_file, cid)
    pid = proc.read_pid_file(pid_file)
    rt.run("start", cid)
    rt.run("state", cid)
    rt.run("kill", cid, "KILL")
    proc.wait_exit(pid)
    rt.run("delete", cid)


def case_throughput(ctx: Context) -> list[Row]:
    """N lifecycles (create, start, state, kill, delete of a `sleep`
    container), `parallel` at a time: wall time of the batch, and the CPU
    seconds (user+sys) of every process the batch ran (runtime processes,
    their helpers and the container inits, all reaped by the harness) per
    lifecycle. Plain bundle and the Kubernetes-like one."""
    import resource
    import threading

    n, width = ctx.sizes.throughput, ctx.sizes.throughput_parallel
    rows = _rows("throughput", "ms", {
        "wall": f"{n} lifecycles, {width} at a time (wall)",
        "cpu": "  CPU (user+sys) per lifecycle",
        "k8s_wall": f"{n} k8s-like lifecycles, {width} at a time (wall)",
        "k8s_cpu": "  CPU (user+sys) per k8s-like lifecycle",
    })

    def batch(rt: Runtime, bundle: str, tag: str) -> tuple[float, float]:
        ids = [ctx.new_id(rt, tag) for _ in range(n)]
        todo = list(reversed(ids))
        lock = threading.Lock()
        errors: list[str] = []

        def worker() -> None:
            while True:
                with lock:
                    if not todo or errors:
                        return
                    cid = todo.pop()
                try:
                    _lifecycle(rt, ctx, bundle, cid)
                except proc.BenchError as exc:
                    with lock:
                        errors.append(str(exc))

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(width)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        proc.reap()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        for cid in ids:
            rt.forget(cid)
        if errors:
            rt.cleanup()
            raise proc.BenchError(errors[0])
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu / n

    def step(rt: Runtime, i: int) -> dict[str, float]:
        wall, cpu = batch(rt, ctx.bundles.sleep, "tp")
        kwall, kcpu = batch(rt, ctx.bundles.k8s_sleep, "tk")
        return {"wall": wall * MS, "cpu": cpu * MS, "k8s_wall": kwall * MS, "k8s_cpu": kcpu * MS}

    ctx.paired(rows, ctx.sizes.throughput_reps, step, warmup=0)
    return list(rows.values())


def _docker_runtimes() -> tuple[dict[str, str], str]:
    """dockerd's registered runtimes {name: path}, or ("", reason) to skip."""
    if shutil.which("docker") is None:
        return {}, "no docker client"
    try:
        out = subprocess.run(["docker", "info", "--format", "{{json .Runtimes}}"],
                             capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return {}, "no docker daemon (docker info timed out)"
    if out.returncode != 0:
        return {}, "no docker daemon (--dockerd starts a private one)"
    try:
        data = json.loads(out.stdout)
    except json.JSONDecodeError:
        return {}, f"docker info: unreadable runtimes {out.stdout.strip()[:80]!r}"
    return {name: (v or {}).get("path", name) for name, v in data.items()}, ""


def _docker_name(rt: Runtime, registered: dict[str, str]) -> str:
    if rt.name in registered:
        return rt.name
    binary = shutil.which(rt.command[0]) or rt.command[0]
    for name, path in registered.items():
        if len(rt.command) == 1 and os.path.realpath(shutil.which(path) or path) == os.path.realpath(binary):
            return name
    return ""


IMPORTED_IMAGE = "pyrunc-bench/busybox:latest"


def _docker_has(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image],
                          capture_output=True, timeout=30).returncode == 0


def _docker_import(ctx: Context, image: str) -> str:
    """`docker import` the benchmark rootfs as image; '' or why it failed."""
    archive = os.path.join(ctx.workdir, "rootfs.tar")
    with tarfile.open(archive, "w") as tar:
        tar.add(ctx.bundles.rootfs, arcname=".")
    with open(archive, "rb") as f:
        out = subprocess.run(["docker", "import", "-", image], stdin=f,
                             capture_output=True, text=True, timeout=120)
    os.unlink(archive)
    if out.returncode != 0:
        return f"docker import of the busybox rootfs failed: {' '.join(out.stderr.split())[:200]}"
    return ""


def case_docker(ctx: Context) -> list[Row]:
    if not ctx.private_dockerd:
        return _docker_case(ctx, {})
    daemon = PrivateDockerd(ctx.workdir, ctx.runtimes)
    try:
        daemon.start()
    except proc.BenchError as exc:
        daemon.stop()
        row = Row("docker", f"docker run --rm {ctx.docker_image or IMPORTED_IMAGE} true", "ms")
        row.skipped = str(exc)
        return [row]
    try:
        ctx.log(f"  private dockerd at {daemon.sock}")
        return _docker_case(ctx, daemon.names)
    finally:
        daemon.stop()


def _docker_case(ctx: Context, names: dict[str, str]) -> list[Row]:
    """names: runtime name -> dockerd runtime name, when known already."""
    row = Row("docker", f"docker run --rm {ctx.docker_image or IMPORTED_IMAGE} true", "ms")
    registered, reason = _docker_runtimes()
    if reason:
        row.skipped = reason
        return [row]
    imported = False
    if not ctx.docker_image:  # import the benchmark rootfs: nothing to pull
        ctx.docker_image = IMPORTED_IMAGE
        if not _docker_has(IMPORTED_IMAGE):
            why = _docker_import(ctx, IMPORTED_IMAGE)
            if why:
                row.skipped = why
                return [row]
            imported = True
    elif not _docker_has(ctx.docker_image):
        row.skipped = f"image {ctx.docker_image} not present (the harness does not pull)"
        return [row]
    names = dict(names)
    usable = []
    for rt in ctx.runtimes:
        name = names.get(rt.name) or _docker_name(rt, registered)
        if name:
            names[rt.name] = name
            usable.append(rt)
        else:
            row.errors[rt.name] = (f"not registered with dockerd (add it to \"runtimes\" in "
                                   f"/etc/docker/daemon.json; registered: {', '.join(sorted(registered))})")
    rows = {"docker": row}

    def step(rt: Runtime, i: int) -> dict[str, float]:
        argv = ["docker", "run", "--rm", "--runtime", names[rt.name], ctx.docker_image, "true"]
        return {"docker": proc.check(argv, rt.stderr_path).seconds * MS}

    try:
        ctx.paired(rows, ctx.sizes.docker, step, runtimes=usable)
    finally:
        if imported:
            subprocess.run(["docker", "image", "rm", IMPORTED_IMAGE], capture_output=True, timeout=60)
    return [row]


CASES = {
    "run": case_run,
    "cycle": case_cycle,
    "ops": case_ops,
    "state": case_state,
    "list": case_list,
    "concurrent": case_concurrent,
    "throughput": case_throughput,
    "pause": case_pause,
    "k8s": case_k8s,
    "memory": case_memory,
    "docker": case_docker,
    "pod": case_pod,
}
