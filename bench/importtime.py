"""Where does a Python command's start-up time go? Runs it under
`python3 -X importtime` several times and summarises the import costs.

    python3 bench/importtime.py                      # python3 -m pyrunc state x
    python3 bench/importtime.py -- -m pyrunc list    # any python3 arguments
    python3 -m bench.importtime --top 20 --json out.json -- -m pyrunc state x

Reports: wall time of the command without -X importtime (median), the
interpreter floor (`python3 -c pass`, `-S -c pass`) and `import click` for
comparison, the total import time, import time per top-level package, the
most expensive modules (self and cumulative), and a warning when a module
that must stay off the hot path (pydantic, jsonschema, ...) is imported.
Standard library only.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

# must stay off the hot path (pyrunc/fastcli.py keeps even click off it)
HEAVY = ("pydantic", "pydantic_core", "jsonschema", "jsonschema_specifications", "cffi", "_cffi_backend",
         "prctl", "typing_extensions", "annotated_types", "referencing", "rpds", "attrs", "email",
         "http", "urllib", "asyncio", "subprocess", "tempfile", "shutil", "logging", "click", "inspect",
         "dataclasses", "typing", "json", "re", "enum", "socket", "pathlib", "hashlib", "datetime")
DEFAULT_ARGS = ["-m", "pyrunc", "state", "x"]
STARTUP_ROOTS = ("site", "encodings", "_frozen_importlib_external", "zipimport", "codecs", "io",
                 "abc", "encodings.utf_8", "_codecs", "_signal", "_abc", "_io", "marshal",
                 "posix", "_frozen_importlib", "time", "_warnings", "_weakref", "_thread")


@dataclass(frozen=True)
class Import:
    name: str
    depth: int
    self_us: int
    cumulative_us: int
    root: str  # the top-level import it happened under ("site" = interpreter start-up)


def parse(stderr: str) -> list[Import]:
    """Parse `-X importtime` lines: 'import time: self | cumulative | name'
    (the name is indented two spaces per nesting level)."""
    rows: list[tuple[str, int, int, int]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:"):].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        raw = fields[2].rstrip()
        name = raw.lstrip()
        depth = (len(raw) - len(name) - 1) // 2
        rows.append((name, max(depth, 0), int(fields[0]), int(fields[1])))
    # a module is printed before the module that imported it: walking
    # backwards, each depth-0 line is followed by its whole import subtree
    out: list[Import] = []
    root = ""
    for name, depth, self_us, cum_us in reversed(rows):
        if depth == 0:
            root = name
        out.append(Import(name, depth, self_us, cum_us, root))
    out.reverse()
    return out


def wall_ms(argv: list[str], n: int, env: dict[str, str]) -> float:
    """Median wall time (ms) of running argv n times (output discarded)."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def profile(python: str, args: list[str], n: int, env: dict[str, str]) -> dict[str, Import]:
    """Run under -X importtime n times; per module, the median self and
    cumulative times (modules imported in every run)."""
    runs: list[dict[str, Import]] = []
    for _ in range(n):
        proc = subprocess.run([python, "-X", "importtime", *args], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, env=env)
        runs.append({imp.name: imp for imp in parse(proc.stderr)})
    common = set(runs[0]).intersection(*runs[1:]) if runs else set()
    out: dict[str, Import] = {}
    for name in common:
        first = runs[0][name]
        out[name] = Import(name, first.depth,
                           int(statistics.median(r[name].self_us for r in runs)),
                           int(statistics.median(r[name].cumulative_us for r in runs)),
                           first.root)
    return out


def by_package(imports: dict[str, Import]) -> list[tuple[str, int, int]]:
    """(top-level package, summed self µs, module count), most expensive first."""
    totals: dict[str, list[int]] = {}
    for imp in imports.values():
        top = imp.name.split(".")[0]
        acc = totals.setdefault(top, [0, 0])
        acc[0] += imp.self_us
        acc[1] += 1
    return sorted(((k, v[0], v[1]) for k, v in totals.items()), key=lambda t: -t[1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 bench/importtime.py", description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--runs", type=int, default=7, help="runs per measurement (median)")
    p.add_argument("--top", type=int, default=15, help="modules to list")
    p.add_argument("--python", default=sys.executable, help="interpreter (default: this one)")
    p.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    p.add_argument("args", nargs="*", help=f"python arguments (default: {' '.join(DEFAULT_ARGS)})")
    ns = p.parse_args(argv)
    args = ns.args or DEFAULT_ARGS
    env = dict(os.environ)
    # make `-m pyrunc` work from a checkout that is not installed
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))

    cmd = [ns.python, *args]
    floors = {
        "python3 -S -c pass": wall_ms([ns.python, "-S", "-c", "pass"], ns.runs, env),
        "python3 -c pass": wall_ms([ns.python, "-c", "pass"], ns.runs, env),
        "python3 -c 'import click'": wall_ms([ns.python, "-c", "import click"], ns.runs, env),
        " ".join(["python3", *args]): wall_ms(cmd, ns.runs, env),
    }
    imports = profile(ns.python, args, ns.runs, env)
    total_us = sum(i.self_us for i in imports.values())
    startup = {k: i for k, i in imports.items() if i.root in STARTUP_ROOTS}
    own = {k: i for k, i in imports.items() if i.root not in STARTUP_ROOTS}
    startup_us = sum(i.self_us for i in startup.values())
    packages = by_package(own)
    top_self = sorted(own.values(), key=lambda i: -i.self_us)[: ns.top]
    top_level = sorted((i for i in imports.values() if i.depth == 0),
                       key=lambda i: -i.cumulative_us)[: ns.top]
    heavy = sorted({i.name.split(".")[0] for i in own.values()} & set(HEAVY))
    site_extra = sorted(((i.name, i.cumulative_us) for i in startup.values()
                         if i.root == "site" and i.depth == 1 and i.cumulative_us >= 1000),
                        key=lambda t: -t[1])

    print(f"command: {' '.join(cmd)}   (medians of {ns.runs} runs)")
    print("\nwall time (without -X importtime):")
    for label, ms in floors.items():
        print(f"  {ms:8.1f} ms  {label}")
    print(f"\nimports: {len(imports)} modules, {total_us / 1000:.1f} ms in total (self times summed,"
          f" measured under -X importtime which adds overhead)")
    print(f"  {startup_us / 1000:.1f} ms of it in interpreter start-up (site, encodings: {len(startup)} modules)")
    if site_extra:
        costly = ", ".join(f"{n} {us / 1000:.1f} ms" for n, us in site_extra)
        print(f"  costliest imports made by site: {costly}"
              f" (.pth files in site-packages run at every start; a clean venv has none)")
    print(f"  {(total_us - startup_us) / 1000:.1f} ms imported by the command itself ({len(own)} modules)")
    print("\ncommand's imports by top-level package (self ms, modules):")
    for name, us, count in packages[: ns.top]:
        print(f"  {us / 1000:8.2f} ms  {count:4d}  {name}")
    print("\ntop-level imports by cumulative ms:")
    for i in top_level:
        print(f"  {i.cumulative_us / 1000:8.2f} ms  {i.name}")
    print("\ncommand's most expensive modules by self ms:")
    for i in top_self:
        print(f"  {i.self_us / 1000:8.2f} ms  {i.name}")
    if heavy:
        print(f"\nWARNING: heavy modules on this path: {', '.join(heavy)}")
    if ns.json:
        with open(ns.json, "w") as f:
            json.dump({
                "command": cmd, "runs": ns.runs,
                "wall_ms": floors, "import_total_ms": total_us / 1000,
                "packages": [{"package": n, "self_ms": us / 1000, "modules": c} for n, us, c in packages],
                "modules": [i.__dict__ for i in sorted(imports.values(), key=lambda i: -i.self_us)],
                "startup_ms": startup_us / 1000, "site_extra": site_extra,
                "heavy": heavy,
            }, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
