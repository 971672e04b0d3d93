"""Build: the cffi extension modules listed in CFFI_MODULES; pyrunc-init, the
small static C program (csrc/init/) that becomes every container's init; and
the `pyrunc` command, a lean script instead of pip's console-script template
(which imports `re` on every call; see pyrunc/launcher.py)."""
import importlib.util
import os
import subprocess

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))

CFFI_MODULES: list[str] = [
    "pyrunc/linux/_seccomp_build.py:ffi",
]

INIT_SOURCES = sorted(
    os.path.join("csrc", "init", f) for f in os.listdir(os.path.join(HERE, "csrc", "init")) if f.endswith(".c")
)


def build_init(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "pyrunc-init")
    cc = os.environ.get("CC", "gcc")
    # Static: no dynamic loader and no host libraries mapped into the init
    # (nothing for /proc/PID/map_files to hand out); it starts in ~0.3 ms.
    cmd = [cc, "-static", "-O2", "-Wall", "-o", out, *INIT_SOURCES]
    print(" ".join(cmd))
    subprocess.check_call(cmd, cwd=HERE)


def in_place() -> str:
    return os.path.join(HERE, "pyrunc", "libexec")


class BuildExt(build_ext):
    def run(self) -> None:
        super().run()
        # in place for `build_ext --inplace` and editable installs (the
        # checkout is the import root); the wheel gets it from build_py
        if self.inplace or getattr(self, "editable_mode", False):
            build_init(in_place())


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            build_init(os.path.join(self.build_lib, "pyrunc", "libexec"))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        # listed so that `install` records it (pip uninstall removes it)
        outputs = super().get_outputs(include_bytecode)
        if not getattr(self, "editable_mode", False):
            outputs.append(os.path.join(self.build_lib, "pyrunc", "libexec", "pyrunc-init"))
        return outputs


def lean_script() -> str:
    """Write the `pyrunc` script (pyrunc/launcher.py: pip_script_source) under
    build/ and return its path; pip points its `#!python` at the interpreter."""
    spec = importlib.util.spec_from_file_location("_pyrunc_launcher", os.path.join(HERE, "pyrunc", "launcher.py"))
    assert spec is not None and spec.loader is not None
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    path = os.path.join("build", "script", "pyrunc")
    os.makedirs(os.path.join(HERE, "build", "script"), exist_ok=True)
    with open(os.path.join(HERE, path), "w") as f:
        f.write(launcher.pip_script_source())
    return path


setup(
    cffi_modules=CFFI_MODULES,
    scripts=[lean_script()],
    cmdclass={"build_ext": BuildExt, "build_py": BuildPy},
)
