"""python3 -m bench --runtime NAME=COMMAND [--runtime ...] [--quick] [--only CASE] [--json FILE]"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

from . import machine, proc, report
from .bundle import Bundles
from .cases import CASES
from .context import FULL, QUICK, Context
from .runtime import Runtime, parse_spec


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python3 -m bench",
        description="Benchmark OCI runtimes side by side (paired runs, medians, ratios).",
    )
    p.add_argument("--runtime", action="append", default=[], metavar="NAME=COMMAND",
                   help='a runtime to measure; COMMAND may be several words, e.g. '
                        'pyrunc="python3 -m pyrunc"; repeat for each runtime')
    p.add_argument("--baseline", metavar="NAME",
                   help="runtime the ratios are relative to (default: runc if given, else the last)")
    p.add_argument("--quick", action="store_true", help="fewer repetitions, store sizes 1 and 100")
    p.add_argument("--only", action="append", default=[], metavar="CASE",
                   help=f"run only these cases (repeatable or comma-separated): {', '.join(CASES)}")
    p.add_argument("-n", "--repeat", type=int, metavar="N",
                   help="override every repetition count")
    p.add_argument("--list-sizes", metavar="N,N,...",
                   help="store sizes for the list case (default 1,100,1000; quick 1,100)")
    p.add_argument("--cpu", action="store_true",
                   help="beside each single-command row, the command's CPU time (user+sys, wait4): "
                        "far less inflated by other load than wall time")
    p.add_argument("--lifecycles", metavar="N[,W]",
                   help="throughput case: N lifecycles, W at a time (default 48,8)")
    p.add_argument("--json", metavar="FILE", help="also write all samples and medians as JSON")
    p.add_argument("--workdir", metavar="DIR", help="parent of the temporary directory (default $TMPDIR)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--docker-image", default="", metavar="IMAGE",
                   help="image for the docker case (must be present; never pulled); by default the "
                        "benchmark's busybox rootfs is imported as pyrunc-bench/busybox and removed after")
    p.add_argument("--dockerd", action="store_true",
                   help="for the docker case, start a private dockerd (own socket and data-root in the "
                        "work directory) with every runtime registered as bench-NAME")
    p.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1),
                   help="parallel runtime processes when filling/emptying stores")
    return p.parse_args(argv)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _preflight(rt: Runtime, ctx: Context) -> str:
    """'' if the runtime can run the true bundle, else why not."""
    cid = ctx.new_id(rt, "pre")
    try:
        rt.run("run", "--bundle", ctx.bundles.true, cid)
    except proc.BenchError as exc:
        return str(exc)
    finally:
        rt.cleanup()
    return ""


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if os.geteuid() != 0:
        _log("bench: must run as root (the runtimes create namespaces and cgroups)")
        return 2
    if not args.runtime:
        _log("bench: give at least one --runtime NAME=COMMAND")
        return 2
    try:
        runtimes = [parse_spec(s) for s in args.runtime]
    except ValueError as exc:
        _log(f"bench: {exc}")
        return 2
    names = [rt.name for rt in runtimes]
    if len(set(names)) != len(names):
        _log(f"bench: runtime names must differ: {names}")
        return 2
    baseline = args.baseline or ("runc" if "runc" in names else names[-1])
    if baseline not in names:
        _log(f"bench: --baseline {baseline} is not one of {names}")
        return 2
    only = [c for item in args.only for c in item.split(",") if c] or list(CASES)
    unknown = [c for c in only if c not in CASES]
    if unknown:
        _log(f"bench: unknown case(s) {unknown}; cases are {list(CASES)}")
        return 2
    sizes = QUICK if args.quick else FULL
    if args.repeat:
        sizes = sizes.scaled(args.repeat)
    if args.list_sizes:
        sizes = type(sizes)(**{**sizes.__dict__, "list_sizes": tuple(int(x) for x in args.list_sizes.split(","))})

    if args.lifecycles:
        n, _, w = args.lifecycles.partition(",")
        sizes = type(sizes)(**{**sizes.__dict__, "throughput": int(n),
                               "throughput_parallel": int(w or sizes.throughput_parallel)})

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up on kill too
    proc.become_subreaper()
    workdir = tempfile.mkdtemp(prefix="bench-", dir=args.workdir)
    info = machine.describe()
    versions: dict[str, str] = {}
    notes: list[str] = []
    rows: list[report.Row] = []
    started = time.monotonic()
    try:
        os.makedirs(os.path.join(workdir, "pids"))
        bundles = Bundles(os.path.join(workdir, "bundle"))
        for rt in runtimes:
            rt.root = os.path.join(workdir, f"root-{rt.name}")
            rt.stderr_path = os.path.join(workdir, f"stderr-{rt.name}.log")
            versions[rt.name] = f"{' '.join(rt.command)} ({rt.version()})"
        ctx = Context(workdir, bundles, [], sizes, args.workers, args.docker_image, _log,
                      private_dockerd=args.dockerd, cpu=args.cpu)
        _log(f"bench: {machine.one_line(info)}")
        for rt in runtimes:
            resolved = shutil.which(rt.command[0]) or ""
            if "/shims/" in resolved:
                notes.append(f"{rt.name}: {resolved} is a version-manager shim (a bash script that "
                             f"starts pyenv/asdf first); give the real path to measure the runtime alone")
                _log(f"bench: warning: {notes[-1]}")
            why = _preflight(rt, ctx)
            if why:
                notes.append(f"{rt.name} unusable here: {why}")
                _log(f"bench: {rt.name} is unusable and is left out: {why}")
            else:
                ctx.runtimes.append(rt)
        if not ctx.runtimes:
            _log("bench: no usable runtime")
            return 1
        for case in only:
            _log(f"bench: {case} ...")
            t0 = time.monotonic()
            rows.extend(CASES[case](ctx))
            for rt in ctx.runtimes:
                rt.cleanup()
            _log(f"bench: {case} done in {time.monotonic() - t0:.1f}s")
    except KeyboardInterrupt:
        _log("bench: interrupted; cleaning up")
        notes.append("interrupted")
    finally:
        for rt in runtimes:
            if rt.root:
                rt.cleanup()
        if args.keep:
            _log(f"bench: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    elapsed = time.monotonic() - started
    info["load_at_end"] = machine.loadavg()
    print(f"machine: {machine.one_line(info)}")
    print(f"load average: {info['load_at_start']} at start, {info['load_at_end']} at end")
    for name, v in versions.items():
        print(f"runtime {name}: {v}")
    print(f"mode: {'quick' if args.quick else 'full'}, paired A B / B A, medians; "
          f"ratios relative to {baseline}; total {elapsed:.0f}s")
    print()
    print(report.table(rows, names, baseline))
    for note in notes:
        print(f"note: {note}")
    if args.json:
        settings = {"quick": args.quick, "only": only, "sizes": sizes.__dict__,
                    "elapsed_seconds": round(elapsed, 1), "notes": notes}
        with open(args.json, "w") as f:
            f.write(report.to_json(rows, versions, baseline, info, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
