"""Generate oci-spec/{config,state,features}-schema.json from pyrunc's models.

    python3 -m pyrunc.spec.schema_export            # (re)write the files
    python3 -m pyrunc.spec.schema_export --check    # exit 1 if they are stale

The files are JSON Schema draft-04, like the official runtime-spec schemas:
one self-contained file per document, shared types under "definitions".
Draft-04 also matters for meaning: there, 1.0 is not an "integer", which is
what the (strict) models and the official schemas say too.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from pyrunc.spec.model import Features, Spec, State
from pyrunc.spec.version import OCI_VERSION

DRAFT4 = "http://json-schema.org/draft-04/schema#"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "oci-spec"

DOCUMENTS: dict[str, tuple[type[BaseModel], str]] = {
    "config-schema.json": (Spec, "config.json of a container bundle (Linux)"),
    "state-schema.json": (State, "the state of a container (runtime.md#state)"),
    "features-schema.json": (Features, "the features of the runtime (features.md)"),
}


class _Generator(GenerateJsonSchema):
    """pydantic's generator, minus titles and the None defaults of optional fields."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _clean(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "title" and isinstance(value, str):
                continue
            if key == "default" and value is None:
                continue
            out[key] = _clean(value)
        return out
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def schema_for(model: type[BaseModel], description: str) -> dict[str, Any]:
    raw = model.model_json_schema(
        by_alias=True,
        ref_template="#/definitions/{model}",
        schema_generator=_Generator,
        mode="validation",
    )
    raw = _clean(raw)
    definitions = raw.pop("$defs", {})
    raw.pop("description", None)
    doc: dict[str, Any] = {
        "$schema": DRAFT4,
        "description": f"pyrunc (runtime-spec {OCI_VERSION}): {description}. "
        "Generated from pyrunc/spec/model.py by `python3 -m pyrunc.spec.schema_export`.",
    }
    doc.update(raw)
    if definitions:
        doc["definitions"] = dict(sorted(definitions.items()))
    return doc


def render(model: type[BaseModel], description: str) -> str:
    return json.dumps(schema_for(model, description), indent=2) + "\n"


def stale_files(directory: Path = DEFAULT_DIR) -> list[str]:
    """The schema files in `directory` that differ from what the models generate."""
    stale = []
    for name, (model, description) in DOCUMENTS.items():
        path = directory / name
        try:
            current = path.read_text()
        except OSError:
            current = None
        if current != render(model, description):
            stale.append(str(path))
    return stale


def write_all(directory: Path = DEFAULT_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (model, description) in DOCUMENTS.items():
        path = directory / name
        path.write_text(render(model, description))
        written.append(str(path))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m pyrunc.spec.schema_export")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files are stale")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="output directory")
    args = parser.parse_args(argv)
    from pyrunc.spec import compiled

    if args.check:
        stale = stale_files(args.dir)
        if not compiled.is_fresh():
            stale.append(compiled.GENERATED)
        for path in stale:
            print(f"{path}: stale, run python3 -m pyrunc.spec.schema_export", file=sys.stderr)
        return 1 if stale else 0
    for path in write_all(args.dir):
        print(path)
    compiled.write()  # the create path's validator, compiled from the same models
    print(compiled.GENERATED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
