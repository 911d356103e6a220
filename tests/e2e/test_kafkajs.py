"""kafkajs (a pure JavaScript Kafka client, from npm) against Strait: topic
creation, an idempotent producer with acks=all, a consumer group that reads
everything in order and commits, and the committed offsets read back. The
client lives in tests/e2e/js (scripts/test-all runs `npm ci` there)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent / "js"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (JS / "node_modules" / "kafkajs").is_dir(),
    reason="node or kafkajs is not installed (scripts/test-all installs them)")


def test_kafkajs_admin_idempotent_producer_and_consumer_group(broker):
    count = 60
    res = subprocess.run(["node", str(JS / "roundtrip.js"), broker.bootstrap, "kjs-topic",
                          "kjs-group", str(count)], capture_output=True, text=True, timeout=90)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["created"] is True and out["partitions"] == 2
    # Each send of 10 went to two partitions; offsets advance with no gap.
    by_partition = {0: [], 1: []}
    for row in out["consumed"]:
        by_partition[row["partition"]].append(row)
    for p, rows in by_partition.items():
        assert [r["offset"] for r in rows] == list(range(count // 2)), p
        assert [r["value"] for r in rows] == [f"v{j}" for j in range(p, count, 2)], p
        assert all(r["key"] == "k" + r["value"][1:] for r in rows)
    bases = sorted({(m["partition"], m["baseOffset"]) for m in out["produced"]})
    assert bases == sorted((p, 5 * i) for p in (0, 1) for i in range(count // 10))
    assert sorted((c["partition"], c["offset"]) for c in out["committed"]) == \
        [(0, count // 2), (1, count // 2)]
