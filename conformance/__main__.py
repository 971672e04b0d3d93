"""python3 -m conformance --runtime PATH [--filter PATTERN] [--keep] [--jobs N]"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import re
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType

from . import SPEC_VERSION
from .build import BuildError, build_checker, default_build_dir, find_static_busybox
from .harness import REGISTRY, Check, Ctx, Fail, Skip, Suite, version_tuple
from .runtime import Runtime, RuntimeTimeout
from .tap import Outcome, TapWriter
from . import checks  # noqa: F401  (registers the checks)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python3 -m conformance",
                                description=f"OCI runtime-spec v{SPEC_VERSION} conformance suite (TAP output)")
    p.add_argument("--runtime", required=True, help="runtime binary with a runc-compatible CLI")
    p.add_argument("--filter", default=None, help="regular expression matched against '<section> <description>'")
    p.add_argument("--keep", action="store_true", help="keep bundles and the runtime root for inspection")
    p.add_argument("--jobs", "-j", type=int, default=2, help="checks run in parallel (default 2)")
    p.add_argument("--build-dir", type=Path, default=None, help="where the checker binary is cached")
    p.add_argument("--workdir", type=Path, default=None, help="parent of the temporary work directory")
    p.add_argument("--oci-version", default=SPEC_VERSION,
                   help=f"ociVersion written to config.json (default {SPEC_VERSION}; older runtimes may need 1.0.2)")
    p.add_argument("--runtime-arg", action="append", default=[], metavar="ARG",
                   help="extra global argument for the runtime (repeatable), e.g. --runtime-arg=--cgroup-manager=disabled")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    return p.parse_args(argv)


def select(pattern: str | None) -> list[Check]:
    if not pattern:
        return list(REGISTRY)
    rx = re.compile(pattern)
    return [c for c in REGISTRY if rx.search(c.title)]


def run_one(suite: Suite, number: int, chk: Check) -> Outcome:
    t0 = time.monotonic()
    ctx = Ctx(suite, chk)
    status, detail = "pass", ""
    max_ver = (suite.runtime.features or {}).get("ociVersionMax")
    too_old = bool(chk.since and isinstance(max_ver, str)
                   and version_tuple(max_ver) < version_tuple(chk.since))
    try:
        try:
            chk.func(ctx)
        except (Fail, RuntimeTimeout) as exc:
            # A feature newer than the runtime claims to implement is not a
            # conformance failure of that runtime: report it as a skip.
            if too_old:
                raise Skip(f"added in runtime-spec {chk.since}, runtime features say ociVersionMax"
                           f" {max_ver} (result: {exc})") from None
            raise
    except Skip as exc:
        status, detail = "skip", str(exc)
    except Fail as exc:
        status, detail = "fail", str(exc)
    except RuntimeTimeout as exc:
        status, detail = "fail", f"timeout: {exc}"
    except Exception as exc:  # noqa: BLE001 - a broken check is a failure, not a crash
        status, detail = "fail", f"check raised {type(exc).__name__}: {exc}\n" + traceback.format_exc()
    finally:
        try:
            ctx.cleanup()
        except Exception:  # noqa: BLE001
            pass
    return Outcome(number, chk.title, status, detail, time.monotonic() - t0)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    selected = select(args.filter)
    if args.list:
        for i, c in enumerate(selected, 1):
            print(f"{i} {c.title}")
        return 0
    runtime_path = args.runtime
    if os.sep not in runtime_path:
        import shutil
        runtime_path = shutil.which(runtime_path) or runtime_path
    if not os.access(runtime_path, os.X_OK):
        print(f"conformance: runtime {args.runtime} is not executable", file=sys.stderr)
        return 2
    try:
        checker = build_checker(args.build_dir or default_build_dir())
    except BuildError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="oci-conformance-", dir=args.workdir))
    os.chmod(workdir, 0o755)
    rt = Runtime(runtime_path, workdir / "runtime-root", args.runtime_arg)
    (workdir / "runtime-root").mkdir(mode=0o700)
    suite = Suite(rt, workdir, checker, find_static_busybox(), keep=args.keep,
                  oci_version=args.oci_version)
    old_term = signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    tap: TapWriter | None = None
    interrupted = False
    try:
        rt.load_features()
        print(f"# runtime {runtime_path}; work dir {workdir}", flush=True)
        tap = TapWriter(len(selected))
        with cf.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(run_one, suite, i, c) for i, c in enumerate(selected, 1)]
            try:
                for fut in futures:
                    tap.emit(fut.result())
            except KeyboardInterrupt:
                interrupted = True
                suite.closing = True
                for fut in futures:
                    fut.cancel()
                raise
    except KeyboardInterrupt:
        interrupted = True
        print("# interrupted, cleaning up", flush=True)
    finally:
        suite.cleanup()
        signal.signal(signal.SIGTERM, old_term)
        if args.keep:
            print(f"# kept {workdir}", flush=True)
    if tap is None:
        return 2
    print(tap.summary(), flush=True)
    if interrupted:
        return 130
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
