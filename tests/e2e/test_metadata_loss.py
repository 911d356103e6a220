"""A missing, emptied or cut-short metadata store (issue 10, item 2) must stop
the broker with one line, never start a new cluster over the old log dirs and
delete their partitions as "deleted topics"."""

from __future__ import annotations

import os

import pytest

confluent_kafka = pytest.importorskip("confluent_kafka")

import kafka_helpers as kh  # noqa: E402
import strait_harness as h  # noqa: E402

STORE = "strait-metadata.redb"


def fill_broker(srv, topic):
    kh.create_topic(srv.bootstrap, topic, 3)
    kh.produce_all(srv.bootstrap, topic, [f"v{i}".encode() for i in range(30)])
    cluster = h.run_cli("kafka-cluster", "cluster-id", "--bootstrap-server",
                        srv.bootstrap).check().stdout.split()[-1]
    srv.stop()
    return cluster


def partition_dirs(srv, topic):
    return sorted(p.name for p in srv.data_dir.iterdir() if p.name.startswith(f"{topic}-"))


def start_expecting_refusal(srv):
    srv.write_config()
    res = h.run([h.binary("strait"), "server", "--config", srv.config_path], timeout=20)
    assert res.rc != 0, f"broker started:\n{res}"
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and "INFO" not in ln]
    assert len(lines) == 1, f"expected one error line:\n{res}"
    return lines[0]


@pytest.mark.parametrize("damage", ["remove", "empty"])
def test_lost_metadata_store_refuses_to_start_and_deletes_nothing(strait_factory, damage):
    srv = strait_factory()
    topic = "precious"
    cluster = fill_broker(srv, topic)
    before = partition_dirs(srv, topic)
    assert len(before) == 3
    store = srv.data_dir / STORE
    if damage == "remove":
        store.unlink()
    else:
        store.write_bytes(b"")
    line = start_expecting_refusal(srv)
    assert str(srv.data_dir) in line and cluster in line, line
    # Nothing was deleted, and a second try is refused the same way.
    assert partition_dirs(srv, topic) == before
    assert start_expecting_refusal(srv) == line
    assert partition_dirs(srv, topic) == before


def test_cut_short_metadata_store_names_the_file(strait_factory):
    srv = strait_factory()
    topic = "precious"
    fill_broker(srv, topic)
    store = srv.data_dir / STORE
    with open(store, "r+b") as f:
        f.truncate(os.path.getsize(store) // 3)
    line = start_expecting_refusal(srv)
    assert str(store) in line, line
    assert len(partition_dirs(srv, topic)) == 3


def test_orphan_partition_directory_is_kept(strait_factory):
    """A partition directory with no topic and no deletion record is left in place."""
    srv = strait_factory()
    kh.create_topic(srv.bootstrap, "kept", 1)
    srv.stop()
    orphan = srv.data_dir / "stray-0"
    orphan.mkdir()
    (orphan / "partition.metadata").write_text(
        "version: 0\ntopic_id: 5e1f4f5e-0c5b-4a42-9a43-0e7d3f1e2a11\n")
    (orphan / "00000000000000000000.log").write_bytes(b"data")
    srv.start()
    assert (orphan / "00000000000000000000.log").read_bytes() == b"data"
    assert "left in place" in open(srv.log_path, errors="replace").read()
    # Deleting a real topic still removes its directories.
    admin = kh.admin(srv.bootstrap)
    admin.delete_topics(["kept"])["kept"].result(15)
    h.wait_until(lambda: not (srv.data_dir / "kept-0").exists() and not any(
        p.name.startswith("kept-0.") for p in srv.data_dir.iterdir()), 15,
        what="kept-0 to be deleted")
    assert orphan.exists()
