"""One invocation of pyrunc, without click: the global flags every command
sees (`Globals`), and the rule that turns an exception into one error line
and an exit code.  Both command-line front ends use it: the click CLI
(`pyrunc.cli`) and the click-free fast path for the commands a container
manager calls on every container (`pyrunc.fastcli`)."""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # `typing` costs ~3 ms at start-up; annotations are strings here
if TYPE_CHECKING:
    from collections.abc import Callable

    from pyrunc.store import Store



class Globals:
    """The global flags.  (A plain class: the dataclasses module costs ~10 ms
    on every invocation.)"""

    def __init__(self, root: str, log: str | None, log_format: str, debug: bool, rootless: bool,
                 systemd_cgroup: bool) -> None:
        self.root = root
        self.log = log
        self.log_format = log_format
        self.debug = debug
        self.rootless = rootless
        self.systemd_cgroup = systemd_cgroup

    def store(self) -> Store:
        from pyrunc.store import Store

        return Store(self.root)


def resolve_rootless(value: str) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    return detect_rootless()


def in_initial_user_ns() -> bool:
    """True when /proc/self/uid_map is the identity map of all ids."""
    try:
        with open("/proc/self/uid_map") as f:
            fields = f.read().split()
    except OSError:
        return True
    return fields == ["0", "0", "4294967295"]


def detect_rootless() -> bool:
    """`--rootless auto`: an unprivileged caller, or root in a user namespace
    it does not own the host from (runc's rule)."""
    return os.geteuid() != 0 or not in_initial_user_ns()


def make_globals(root: str | None, log_file: str | None, log_format: str, debug: bool, rootless: str,
                 systemd_cgroup: bool, subcommand: str | None) -> Globals:
    """Apply the global flags (the log is configured first, so a refusal is
    logged too) and return them."""
    from pyrunc import log
    from pyrunc.store import default_root

    from pyrunc.errors import PyruncError

    try:
        log.configure(log_file, log_format, debug)
    except PyruncError as e:  # an unusable --log: one line on stderr, as runc
        fail(str(e), e.exit_code)
    rl = resolve_rootless(rootless)
    g = Globals(root or default_root(rl), log_file, log_format, debug, rl, systemd_cgroup)
    return g


def fail(msg: str, code: int) -> None:
    """Log `msg` as an error (to --log), print it as one line on stderr, exit."""
    from pyrunc import log

    log.get().error(msg)
    sys.stderr.write(f"pyrunc: {msg}\n")
    sys.stderr.flush()
    sys.exit(code)


def guarded(fn: Callable[[], object], passthrough: tuple[type[BaseException], ...] = ()) -> object:
    """Run `fn`; a PyruncError becomes its one line and exit code, ^C exit
    130, anything else (a bug) one `internal error` line — the traceback only
    with --debug.  `passthrough` exceptions (the click front end's own) and
    SystemExit propagate."""
    from pyrunc.errors import PyruncError

    try:
        return fn()
    except PyruncError as e:
        fail(str(e), e.exit_code)
    except (SystemExit, *passthrough):
        raise
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except OSError as e:
        # the environment, not a bug: the path and the reason, in one line
        from pyrunc import log
        from pyrunc.errors import describe_oserror

        if log.get().debug_enabled:
            import traceback

            traceback.print_exc()
        fail(describe_oserror(e), 1)
    except Exception as e:
        from pyrunc import log

        if log.get().debug_enabled:
            import traceback

            traceback.print_exc()
        fail(f"internal error: {type(e).__name__}: {e}", 1)
    return None
