"""oci-spec/*.json must be what pyrunc's models generate right now."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema

from pyrunc.spec.schema_export import DEFAULT_DIR, DOCUMENTS, stale_files
from spec_oracles import REPO

FIX = "python3 -m pyrunc.spec.schema_export"


def test_committed_schemas_are_fresh() -> None:
    assert DEFAULT_DIR == REPO / "oci-spec"
    assert stale_files() == [], f"oci-spec/ is stale: run `{FIX}` and commit the result"


def test_compiled_validator_is_fresh() -> None:
    from pyrunc.spec import compiled

    assert compiled.is_fresh(), f"pyrunc/spec/_compiled_schema.py is stale: run `{FIX}` and commit it"


def test_schemas_are_draft4_and_complete() -> None:
    for name in DOCUMENTS:
        schema = json.loads((DEFAULT_DIR / name).read_text())
        jsonschema.Draft4Validator.check_schema(schema)
        assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    config = json.loads((DEFAULT_DIR / "config-schema.json").read_text())
    defs = config["definitions"]
    # a sample of the 1.3.0 fields the schema must carry
    assert "checkBeforeUpdate" in defs["Memory"]["properties"]
    assert {"burst", "idle"} <= set(defs["CPU"]["properties"])
    assert "time" in defs["Namespace"]["properties"]["type"]["enum"]
    assert "SCMP_ACT_KILL_THREAD" in defs["Seccomp"]["properties"]["defaultAction"]["enum"]
    assert {"memoryPolicy", "netDevices", "timeOffsets", "intelRdt"} <= set(defs["Linux"]["properties"])
    assert defs["Process"]["required"] == ["cwd"]


def test_check_detects_a_stale_file(tmp_path: Path) -> None:
    for name in DOCUMENTS:
        shutil.copy(DEFAULT_DIR / name, tmp_path / name)
    assert stale_files(tmp_path) == []
    state = tmp_path / "state-schema.json"
    doc = json.loads(state.read_text())
    doc["properties"]["status"]["enum"].append("paused")
    state.write_text(json.dumps(doc, indent=2) + "\n")
    (tmp_path / "features-schema.json").unlink()

    cmd = [sys.executable, "-m", "pyrunc.spec.schema_export", "--dir", str(tmp_path)]
    check = subprocess.run(cmd + ["--check"], cwd=REPO, capture_output=True, text=True)
    assert check.returncode == 1
    assert str(state) in check.stderr and "features-schema.json" in check.stderr
    assert "config-schema.json" not in check.stderr

    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    assert stale_files(tmp_path) == []
    again = subprocess.run(cmd + ["--check"], cwd=REPO, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
