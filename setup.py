"""Build: the cffi extension modules listed in CFFI_MODULES, and pyrunc-init,
the small static C program (csrc/init/) that becomes every container's init."""
import os
import subprocess

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

CFFI_MODULES: list[str] = [
    "pyrunc/linux/_seccomp_build.py:ffi",
]

INIT_SOURCES = sorted(
    os.path.join("csrc", "init", f) for f in os.listdir(os.path.join("csrc", "init")) if f.endswith(".c")
)


def build_init(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "pyrunc-init")
    cc = os.environ.get("CC", "gcc")
    # Static: no dynamic loader and no host libraries mapped into the init
    # (nothing for /proc/PID/map_files to hand out); it starts in ~0.3 ms.
    cmd = [cc, "-static", "-O2", "-Wall", "-o", out, *INIT_SOURCES]
    print(" ".join(cmd))
    subprocess.check_call(cmd)


class BuildExt(build_ext):
    def run(self) -> None:
        super().run()
        if self.inplace:
            build_init(os.path.join("pyrunc", "libexec"))
        else:
            build_init(os.path.join(self.build_lib, "pyrunc", "libexec"))


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        build_init(os.path.join(self.build_lib, "pyrunc", "libexec"))


setup(
    cffi_modules=CFFI_MODULES,
    cmdclass={"build_ext": BuildExt, "build_py": BuildPy},
)
