"""The fast path of the command line: the calls a container manager makes on
every container, parsed without importing click.

containerd-shim-runc-v2 runs the runtime four to six times per container
(`create`, `start`, `kill`, `delete`, `delete --force`, …), each a fresh
interpreter.  Importing click (and the `inspect`, `typing`, `enum`,
`dataclasses` … it brings) costs ~25–30 ms of each call on this machine,
more than everything `start` or `delete` does.  So `pyrunc.__main__`
first offers the arguments to `dispatch()` here:

* It understands the global flags and the commands in `VERBS` exactly as
  the click CLI declares them (long and short spellings, `--opt=value`,
  options after positional arguments, repeated options: the last wins).
* Anything else — `--help`, `--version`, an unknown or malformed option,
  a bad choice, a missing or extra argument, a command
  not listed — returns None, and the click CLI runs instead and produces its
  own usage, help or error text.  So the fast path never has to reproduce
  an error message; it only accepts what click would accept.
* Both call the same `pyrunc.actions` functions under the same
  `invocation.guarded` error rule.

`tests/unit/test_fastcli.py` checks this table against the click commands'
declared parameters, so the two cannot drift apart.  Setting
`PYRUNC_NO_FASTCLI=1` sends everything through click."""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from pyrunc.invocation import Globals

FLAG = "flag"      # a boolean flag, no value
VALUE = "value"    # takes one string value
COUNT = "int>=0"   # takes a non-negative integer
# a tuple of strings: takes one of these values

GLOBAL_OPTIONS: dict[str, tuple[str, object]] = {
    "--root": ("root", VALUE),
    "--log": ("log_file", VALUE),
    "--log-format": ("log_format", ("text", "json")),
    "--debug": ("debug", FLAG),
    "--rootless": ("rootless", ("true", "false", "auto")),
    "--criu": ("criu", VALUE),
    "--systemd-cgroup": ("systemd_cgroup", FLAG),
}
GLOBAL_DEFAULTS: dict[str, object] = {
    "root": None, "log_file": None, "log_format": "text", "debug": False, "rootless": "auto", "criu": None,
    "systemd_cgroup": False,
}

_CREATE_OPTIONS: dict[str, tuple[str, object]] = {
    "-b": ("bundle", VALUE), "--bundle": ("bundle", VALUE),
    "--console-socket": ("console_socket", VALUE),
    "--pidfd-socket": ("pidfd_socket", VALUE),
    "--pid-file": ("pid_file", VALUE),
    "--no-pivot": ("no_pivot", FLAG),
    "--no-new-keyring": ("no_new_keyring", FLAG),
    "--preserve-fds": ("preserve_fds", COUNT),
}
_CREATE_DEFAULTS: dict[str, object] = {
    "bundle": ".", "console_socket": None, "pidfd_socket": None, "pid_file": None, "no_pivot": False, "no_new_keyring": False,
    "preserve_fds": 0,
}
REQUIRED = object()


class Verb:
    """One command: its options (spelling -> (parameter, kind)), their
    defaults, and its positional parameters in order (name, default or
    REQUIRED)."""

    def __init__(self, options: dict[str, tuple[str, object]], defaults: dict[str, object],
                 positionals: tuple[tuple[str, object], ...]) -> None:
        self.options = options
        self.defaults = defaults
        self.positionals = positionals


_ID = (("container_id", REQUIRED),)
VERBS: dict[str, Verb] = {
    "create": Verb(_CREATE_OPTIONS, _CREATE_DEFAULTS, _ID),
    "run": Verb({**_CREATE_OPTIONS, "-d": ("detach", FLAG), "--detach": ("detach", FLAG),
                 "--keep": ("keep", FLAG), "--no-subreaper": ("no_subreaper", FLAG)},
                {**_CREATE_DEFAULTS, "detach": False, "keep": False, "no_subreaper": False}, _ID),
    "start": Verb({}, {}, _ID),
    "state": Verb({}, {}, _ID),
    "kill": Verb({"-a": ("all_", FLAG), "--all": ("all_", FLAG)}, {"all_": False},
                 (("container_id", REQUIRED), ("signal", "SIGTERM"))),
    "delete": Verb({"-f": ("force", FLAG), "--force": ("force", FLAG)}, {"force": False}, _ID),
    "list": Verb({"-f": ("fmt", ("table", "json")), "--format": ("fmt", ("table", "json")),
                  "-q": ("quiet", FLAG), "--quiet": ("quiet", FLAG)}, {"fmt": "table", "quiet": False}, ()),
    "pause": Verb({}, {}, _ID),
    "resume": Verb({}, {}, _ID),
}


class _NotMine(Exception):
    """Arguments the fast path leaves to click."""


def _take(args: Sequence[str], i: int, options: dict[str, tuple[str, object]], into: dict[str, object]) -> int:
    """Parse the option at args[i] into `into`; the index after it."""
    arg = args[i]
    name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
    spec = options.get(name)
    if spec is None:
        raise _NotMine
    dest, kind = spec
    if kind == FLAG:
        if eq:
            raise _NotMine
        into[dest] = True
        return i + 1
    if eq:
        value = inline
    elif i + 1 < len(args):
        value = args[i + 1]
        i += 1
    else:
        raise _NotMine
    if kind == COUNT:
        if not value.isdigit():
            raise _NotMine
        into[dest] = int(value)
    elif isinstance(kind, tuple):
        if value not in kind:
            raise _NotMine
        into[dest] = value
    else:
        into[dest] = value
    return i + 1


def parse(args: Sequence[str]) -> tuple[dict[str, object], str, dict[str, object]] | None:
    """(global flags, command, its parameters), or None for click to handle."""
    try:
        g = dict(GLOBAL_DEFAULTS)
        i = 0
        while i < len(args) and args[i].startswith("-"):
            i = _take(args, i, GLOBAL_OPTIONS, g)
        if i == len(args) or args[i] not in VERBS:
            return None
        name = args[i]
        verb = VERBS[name]
        kw = dict(verb.defaults)
        positional: list[str] = []
        i += 1
        while i < len(args):
            arg = args[i]
            if arg.startswith("-") and arg != "-":
                i = _take(args, i, verb.options, kw)
            else:
                positional.append(arg)
                i += 1
    except _NotMine:
        return None
    if len(positional) > len(verb.positionals):
        return None
    for n, (dest, default) in enumerate(verb.positionals):
        if n < len(positional):
            kw[dest] = positional[n]
        elif default is REQUIRED:
            return None
        else:
            kw[dest] = default
    if name == "run" and kw["detach"] and kw["keep"]:
        return None  # click's usage error
    return g, name, kw


def dispatch(args: Sequence[str]) -> int | None:
    """Run the command if the fast path understands it: its exit code; else None."""
    if os.environ.get("PYRUNC_NO_FASTCLI", "") not in ("", "0"):
        return None
    parsed = parse(args)
    if parsed is None:
        return None
    gflags, name, kw = parsed
    from pyrunc.invocation import guarded, make_globals

    g = make_globals(gflags["root"], gflags["log_file"], gflags["log_format"], gflags["debug"],  # type: ignore[arg-type]
                     gflags["rootless"], gflags["systemd_cgroup"], name)  # type: ignore[arg-type]
    return guarded(lambda: _call(g, name, kw))  # type: ignore[return-value]


def _call(g: Globals, name: str, kw: dict[str, object]) -> int:
    from pyrunc import actions

    result = getattr(actions, "list_" if name == "list" else name)(g, **kw)
    if name == "run":
        return result
    if name == "state":
        result += "\n"
    if name in ("state", "list"):  # list's text already ends each line
        sys.stdout.write(result)
        sys.stdout.flush()
    return 0
