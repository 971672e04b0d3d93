"""Fuzzed config.json documents.

In process (fast): FUZZ_DOCS (default 10,000; PYRUNC_FULL=1: 100,000)
generated and mutated documents (each hypothesis example is a generated
document plus DERIVED cheap mutants of it) go through what `create` does before any
process exists: pyrunc.spec.load.load_config (read, JSON, schema,
create-time checks) and pyrunc.linux.plan.build_plan, plus the plan's
encoding.  Every outcome is either a plan or a PyruncError whose message is
one non-empty line; anything else (a traceback reaching the user) fails.

Through the CLI: a sample (default 50) is really created with `pyrunc
create`: exit 0 and a deletable container, or exit 1 with exactly one
`pyrunc: ...` line on stderr; either way nothing is left behind."""
from __future__ import annotations

import collections
import json
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrunc.errors import PyruncError
from tests.conftest import new_id
from tests.fuzz.strategies import base_config, config_texts, derive, mutated_configs
from tests.hardening.helpers import assert_nothing_left, full_or

FUZZ_DOCS = int(os.environ.get("PYRUNC_FUZZ_DOCS", full_or(10_000, 100_000)))
DERIVED = 4  # cheap extra mutants per hypothesis example (generation is the slow part)
CLI_EXAMPLES = int(os.environ.get("PYRUNC_FUZZ_CLI_EXAMPLES", full_or(50, 300)))
FAST = settings(deadline=None, database=None, derandomize=False, print_blob=True,
                suppress_health_check=list(HealthCheck))


def assert_one_line(msg: str) -> None:
    assert msg.strip(), "empty error message"
    assert "\n" not in msg and "\r" not in msg, f"multi-line error: {msg!r}"
    assert "Traceback" not in msg


def pipeline(bundle: str) -> str:
    """load + validate + plan: 'accepted' or 'rejected' (a clean error)."""
    from pyrunc.linux.plan import PlanContext, build_plan
    from pyrunc.spec.load import load_config

    try:
        config = load_config(bundle)
        plan = build_plan(PlanContext(config=config, bundle=bundle, container_id="fuzz", warn=lambda m: None))
        plan.encode()
    except PyruncError as e:
        assert_one_line(str(e))
        return "rejected"
    return "accepted"


def test_fuzzed_configs_in_process(tmp_path_factory):
    bundle = tmp_path_factory.mktemp("fuzz-bundle")
    (bundle / "rootfs").mkdir()
    (bundle / "rootfs" / "bin").mkdir()
    stats: collections.Counter = collections.Counter()

    @settings(FAST, max_examples=FUZZ_DOCS // (1 + DERIVED))
    @given(config_texts(), st.randoms(use_true_random=False))
    def check(text: bytes, rng) -> None:
        (bundle / "config.json").write_bytes(text)
        stats[pipeline(str(bundle))] += 1
        try:
            doc = json.loads(text)
        except ValueError:
            doc = base_config()
        for _ in range(DERIVED):
            (bundle / "config.json").write_text(json.dumps(derive(doc, rng)))
            stats[pipeline(str(bundle))] += 1

    check()
    total = sum(stats.values())
    print(f"fuzzed config documents: {dict(stats)}")
    assert total >= FUZZ_DOCS * 0.9, stats
    # the generator reaches the plan builder, not only the schema
    assert stats["accepted"] >= total * 0.02, stats
    assert stats["rejected"] >= total * 0.2, stats


def sanitize(doc):
    """A fuzzed document made safe to really create on this host: the rootfs
    is the bundle's, no host hooks run, no cgroup outside pyrunc's own, no
    host sysctl, no joined namespaces (their paths could name the host's)."""
    if not isinstance(doc, dict):
        return doc
    doc.pop("hooks", None)
    root = doc.get("root")
    if isinstance(root, dict):
        root["path"] = "rootfs"
    linux = doc.get("linux")
    if isinstance(linux, dict):
        for k in ("cgroupsPath", "sysctl", "rootfsPropagation"):
            linux.pop(k, None)
        nss = linux.get("namespaces")
        if isinstance(nss, list):
            for ns in nss:
                if isinstance(ns, dict):
                    ns.pop("path", None)
        seccomp = linux.get("seccomp")
        if isinstance(seccomp, dict):
            seccomp.pop("listenerPath", None)
    mounts = doc.get("mounts")
    if isinstance(mounts, list):
        for m in mounts:
            # bind sources stay inside the bundle
            if not isinstance(m, dict) or not isinstance(m.get("source"), str):
                continue
            opts = m.get("options") if isinstance(m.get("options"), list) else []
            if m.get("type") == "bind" or "bind" in opts or "rbind" in opts:
                m["source"] = "rootfs/" + m["source"].lstrip("/")
    return doc


def test_fuzzed_configs_through_the_cli(pyrunc, tmp_path, rootfs_template):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copytree(rootfs_template, bundle / "rootfs", symlinks=True)
    stats: collections.Counter = collections.Counter()

    @settings(FAST, max_examples=CLI_EXAMPLES, derandomize=True)
    @given(mutated_configs())
    def check(doc) -> None:
        (bundle / "config.json").write_text(json.dumps(sanitize(doc)))
        cid = new_id("fz")
        with tempfile.TemporaryFile() as err:
            p = pyrunc("create", "-b", str(bundle), cid, stdin=open(os.devnull), stdout=err, stderr=err)
            err.seek(0)
            text = err.read().decode(errors="replace")
        try:
            if p.returncode == 0:
                stats["created"] += 1
                assert pyrunc.state(cid)["status"] == "created"
            else:
                stats["rejected"] += 1
                lines = [l for l in text.splitlines() if l.strip()]
                assert len(lines) == 1 and lines[0].startswith("pyrunc: "), text
                assert_one_line(lines[0])
        finally:
            d = pyrunc("delete", "--force", cid)
        assert d.returncode == 0, d.stderr
        assert_nothing_left(pyrunc, cid, bundle)

    check()
    print(f"fuzzed configs created through the CLI: {dict(stats)}")
    assert stats["created"] and stats["rejected"], stats
