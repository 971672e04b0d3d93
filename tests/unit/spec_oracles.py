"""Three validators of the same document, for the spec tests: pyrunc's model,
pyrunc's generated schema (oci-spec/) and the official runtime-spec schema
(read in place from ../shared/oci-spec-v1.3.0, never copied)."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pydantic
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from pyrunc.spec.model import Features, Spec, State

REPO = Path(__file__).resolve().parents[2]
from tests.conftest import shared_path  # noqa: E402

OFFICIAL = shared_path("oci-spec-v1.3.0")
GENERATED = REPO / "oci-spec"

KINDS: dict[str, type[pydantic.BaseModel]] = {"config": Spec, "state": State, "features": Features}


@cache
def _official_registry() -> Registry:
    registry: Registry = Registry()
    for path in OFFICIAL.glob("*.json"):
        contents = json.loads(path.read_text())
        registry = registry.with_resource(
            path.name, Resource.from_contents(contents, default_specification=DRAFT4)
        )
    return registry


@cache
def official_validator(kind: str) -> jsonschema.Draft4Validator:
    schema = json.loads((OFFICIAL / f"{kind}-schema.json").read_text())
    return jsonschema.Draft4Validator(schema, registry=_official_registry())


@cache
def generated_validator(kind: str) -> jsonschema.Draft4Validator:
    schema = json.loads((GENERATED / f"{kind}-schema.json").read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def model_ok(kind: str, doc: Any) -> bool:
    try:
        KINDS[kind].model_validate(doc)
    except pydantic.ValidationError:
        return False
    return True


def compiled_ok(kind: str, doc: Any) -> bool:
    """The create path's validator (pyrunc.spec.compiled); for state and
    features, which have no compiled form, the model's verdict."""
    if kind != "config":
        return model_ok(kind, doc)
    from pyrunc.spec import compiled

    if not isinstance(doc, dict):
        return False
    out, _ = compiled.validate("SPEC", doc)
    if out is not None:
        # and the very dict the model would give
        assert out == Spec.model_validate(doc).model_dump(by_alias=True, exclude_unset=True)
    return out is not None


def verdicts(kind: str, doc: Any) -> dict[str, bool]:
    """True = valid, for each validator."""
    return {
        "model": model_ok(kind, doc),
        "compiled": compiled_ok(kind, doc),
        "generated schema": generated_validator(kind).is_valid(doc),
        "official schema": official_validator(kind).is_valid(doc),
    }
