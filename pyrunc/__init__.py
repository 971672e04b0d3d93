"""pyrunc: an OCI runtime-spec v1.3.0 container runtime.

The library (docs/api.md): `pyrunc.Runtime`, `pyrunc.Container`, the typed
errors (`pyrunc.PyruncError` and its subclasses), `pyrunc.spec.default()` and
the pydantic model `pyrunc.Spec`.  They are loaded on first use: `import
pyrunc` itself imports nothing (the command line's hot path starts here)."""
__version__ = "0.1.0"
SPEC_VERSION = "1.3.0"

_API = ("Runtime", "Container")
_ERRORS = ("PyruncError", "ConfigError", "BundleError", "InvalidIDError", "ContainerNotFound", "ContainerExists",
           "StateError", "NotRunning", "CgroupError", "InitError", "HookError", "UnsupportedError")
__all__ = ["__version__", "SPEC_VERSION", *_API, *_ERRORS, "InvalidConfig", "Spec", "spec"]


def __getattr__(name: str) -> object:
    if name in _API:
        from pyrunc import api

        return getattr(api, name)
    if name in _ERRORS:
        from pyrunc import errors

        return getattr(errors, name)
    if name == "InvalidConfig":  # config.json is invalid: `.field` is the JSON path
        from pyrunc.errors import ConfigError

        return ConfigError
    if name == "Spec":
        from pyrunc.spec.model import Spec

        return Spec
    if name == "spec":
        import pyrunc.spec

        return pyrunc.spec
    raise AttributeError(f"module 'pyrunc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
