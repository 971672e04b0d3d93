"""The runtime-spec config: `default()` (what `pyrunc spec` writes, a plain
dict) and, loaded on first use, the pydantic model `Spec` to build or check
one in Python:

    cfg = pyrunc.spec.default()
    cfg["process"]["args"] = ["echo", "hi"]
    pyrunc.spec.Spec.model_validate(cfg)      # raises pydantic.ValidationError

`pyrunc.spec.default` is also the module of that name, made callable, so
`pyrunc.spec.default()` and `from pyrunc.spec.default import default_spec`
both work whichever is used first.  Importing this package imports nothing."""
from __future__ import annotations


def __getattr__(name: str) -> object:
    if name == "default":
        import pyrunc.spec.default

        return pyrunc.spec.default
    if name in ("Spec", "State", "Features"):
        from pyrunc.spec import model

        return getattr(model, name)
    raise AttributeError(f"module 'pyrunc.spec' has no attribute {name!r}")
