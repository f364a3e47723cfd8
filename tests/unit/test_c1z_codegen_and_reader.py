"""c1z generated code is fresh; the reader refuses what is not a v1 c1z."""

from __future__ import annotations

import gzip
import shutil
import sqlite3

import pytest
import zstandard

from halo_c1.c1z import codegen
from halo_c1.c1z.errors import C1zFormatError
from halo_c1.c1z.reader import C1zReader, main
from halo_c1.c1z.writer import write_c1z
from halo_c1.lake import Lake
from tests.unit.c1z_curated import SNAPSHOT, curated_rows, write_curated


def test_c1z_committed_generated_code_matches_the_proto_files():
    assert codegen.stale_files() == []


def test_c1z_codegen_check_names_a_stale_file(tmp_path):
    committed = tmp_path / "pb"
    shutil.copytree(codegen.PB_ROOT, committed, ignore=shutil.ignore_patterns("__pycache__"))
    stale = committed / "c1" / "connector" / "v2" / "grant_pb2.py"
    stale.write_text(stale.read_text() + "\n")
    (committed / "c1" / "connector" / "v2" / "asset_pb2.pyi").unlink()
    assert codegen.stale_files(committed) == ["c1/connector/v2/asset_pb2.pyi", "c1/connector/v2/grant_pb2.py"]
    with pytest.raises(codegen.StaleGeneratedCode, match=r"grant_pb2\.py.*python -m halo_c1\.c1z\.codegen"):
        codegen.check(committed)


def test_c1z_generated_modules_import_relatively_under_the_package():
    grant_module = codegen.PB_ROOT / "c1" / "connector" / "v2" / "grant_pb2.py"
    text = grant_module.read_text()
    assert "from . import entitlement_pb2" in text
    assert "from c1." not in text


def test_c1z_reader_refuses_a_wrong_magic(tmp_path):
    path = tmp_path / "bad.c1z"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 20)
    with pytest.raises(C1zFormatError, match="not a c1z file"):
        C1zReader.open(path)


def test_c1z_reader_refuses_a_v3_file(tmp_path):
    path = tmp_path / "v3.c1z"
    path.write_bytes(b"C1Z3\x00" + b"\x00\x00\x00\x02{}")
    with pytest.raises(C1zFormatError, match="v3"):
        C1zReader.open(path)


def test_c1z_reader_refuses_a_gzip_body(tmp_path):
    path = tmp_path / "gzip.c1z"
    path.write_bytes(b"C1ZF\x00" + gzip.compress(b"SQLite format 3\x00"))
    with pytest.raises(C1zFormatError, match="zstd body cannot be decoded"):
        C1zReader.open(path)


def test_c1z_reader_refuses_a_body_over_the_decoded_cap(tmp_path):
    path = tmp_path / "big.c1z"
    path.write_bytes(b"C1ZF\x00" + zstandard.ZstdCompressor().compress(b"\x00" * 100_000))
    with pytest.raises(C1zFormatError, match="exceeds 50000 bytes"):
        C1zReader.open(path, max_decoded_bytes=50_000)


def test_c1z_reader_refuses_a_file_without_finished_sync(tmp_path):
    database = tmp_path / "db.sqlite"
    connection = sqlite3.connect(database)
    connection.execute(
        "CREATE TABLE v1_sync_runs (id integer primary key, sync_id text, ended_at datetime, sync_type text)"
    )
    connection.execute("INSERT INTO v1_sync_runs (sync_id, ended_at, sync_type) VALUES ('x', NULL, 'full')")
    connection.commit()
    connection.close()
    path = tmp_path / "unfinished.c1z"
    path.write_bytes(b"C1ZF\x00" + zstandard.ZstdCompressor().compress(database.read_bytes()))
    with C1zReader.open(path) as c1z, pytest.raises(C1zFormatError, match="no finished full sync"):
        c1z.finished_full_sync()


def test_c1z_reader_cli_prints_sync_and_counts(tmp_path, capsys):
    lake = Lake(str(tmp_path / "lake"))
    write_curated(lake, curated_rows())
    summary = write_c1z(lake, SNAPSHOT)
    assert main([summary["path"]]) == 0
    out = capsys.readouterr().out
    assert summary["sync_id"] in out
    assert '"v1_grants": 9' in out and '"agent": 3' in out
    assert main([str(tmp_path / "missing.c1z")]) == 1
