"""`ps`: the container's host pids, as JSON or filtered `ps` output."""
from __future__ import annotations

import json
import subprocess

from pyrunc.errors import PyruncError


def pids_json(pids: list[int]) -> str:
    return json.dumps(sorted(pids), separators=(",", ":"))


def ps_table(pids: list[int], ps_args: list[str]) -> str:
    """Run ps with the given args (default -ef) and keep the header plus the
    lines whose PID column is one of the container's pids (like runc)."""
    args = list(ps_args) or ["-ef"]
    try:
        res = subprocess.run(["ps", *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise PyruncError("ps: executable file not found in $PATH") from None
    out = res.stdout + res.stderr
    if res.returncode != 0:
        raise PyruncError(f"ps {' '.join(args)}: exit status {res.returncode}: {out.strip()}")
    lines = out.split("\n")
    header = lines[0]
    try:
        idx = header.split().index("PID")
    except ValueError:
        raise PyruncError("couldn't find PID field in ps output") from None
    want = set(pids)
    keep = [header]
    for line in lines[1:]:
        if not line:
            continue
        fields = line.split()
        try:
            p = int(fields[idx])
        except (IndexError, ValueError):
            raise PyruncError(f"unexpected pid {fields[idx] if idx < len(fields) else ''!r} in ps output") from None
        if p in want:
            keep.append(line)
    return "\n".join(keep) + "\n"
