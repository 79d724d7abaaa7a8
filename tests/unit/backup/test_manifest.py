"""Row counts read from dump streams (whatever the chunking), excludes read the way restic reads them, file
manifests and the form they are stored in."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siaga.backup.manifest import (
    FILES,
    FILES_DELTA,
    DumpCounter,
    Excludes,
    FileManifest,
    LastManifest,
    build_file_manifest,
    load_manifest,
    scan_files,
    store_form,
    verify_restored_files,
)
from siaga.i18n.messages import note_text

PG_DUMP = (
    b"--\n-- PostgreSQL database dump\n--\nSET x = 1;\n"
    b"COPY public.pegawai (id, nama) FROM stdin;\n1\tAndi\n2\tSari\n3\tCOPY public.fake\n\\.\n\n"
    b'COPY public."Kosong" (id) FROM stdin;\n\\.\n\n'
    b"COPY public.absensi (id, hadir) FROM stdin;\n" + b"".join(b"%d\tt\n" % i for i in range(250)) + b"\\.\n"
    b"-- done\n"
)
MARIADB_DUMP = (
    b"CREATE TABLE `pegawai` (\n  `id` int\n);\nINSERT INTO `pegawai` VALUES\n(1,'a'),\n(2,'b\\'c),(x'),\n(3,'d');\n"
    b"CREATE TABLE `kosong` (`id` int);\n"
    b"INSERT INTO `absensi` VALUES (1,'x'),(2,'y;'),(3,'),(');\n"
)


def _count(dump: bytes, kind: str, cuts: list[int]) -> DumpCounter:
    counter = DumpCounter(kind)
    last = 0
    for cut in sorted({c % (len(dump) + 1) for c in cuts}):
        counter.feed(dump[last:cut])
        last = cut
    counter.feed(dump[last:])
    counter.finish()
    return counter


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_pg_dump_rows_are_counted_whatever_the_chunks(cuts: list[int]) -> None:
    counter = _count(PG_DUMP, "postgresql", cuts)
    assert counter.tables == {"public.pegawai": 3, "public.Kosong": 0, "public.absensi": 250}
    assert counter.bytes == len(PG_DUMP)


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_mysql_dump_rows_are_counted_in_both_insert_styles(cuts: list[int]) -> None:
    counter = _count(MARIADB_DUMP, "mysql", cuts)
    assert counter.tables == {"pegawai": 3, "kosong": 0, "absensi": 3}


def test_excludes_follow_restic() -> None:
    rules = Excludes(["*.tmp", "/var/www/*/cache", "node_modules"])
    assert rules.excluded("/var/www/a/b.tmp")
    assert rules.excluded("/var/www/site/cache/x/y.html")
    assert rules.excluded("/srv/app/node_modules/left-pad/index.js")
    assert not rules.excluded("/var/www/site/index.php")
    assert not rules.excluded("/var/www/cache/ok")


def test_manifest_reuses_hashes_of_unchanged_files_and_drill_verification_sees_changes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("one")
    (src / "b").write_text("two")
    first = build_file_manifest([str(src)])
    assert len(first.files) == 2
    second = build_file_manifest([str(src)], previous=first)
    assert second.files == first.files
    restored = tmp_path / "restored"
    copy = restored / str(src).lstrip("/")
    copy.mkdir(parents=True)
    (copy / "a").write_text("one")
    (copy / "b").write_text("twO")
    (copy / "c").write_text("extra")
    check = verify_restored_files(first, restored)
    assert check.checked == 2
    said = [note_text(p, "en", ZoneInfo("UTC")) for p in check.problems]
    assert said == [f"content differs: {src}/b", f"not in the manifest: {src}/c"]
    assert note_text(check.problems[0], "id", ZoneInfo("UTC")) == f"isinya berbeda: {src}/b"


def _tree(root: Path, count: int) -> Path:
    root.mkdir()
    for i in range(count):
        (root / f"f{i:02d}").write_text(f"isi {i}\n")
    return root


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a new mtime even on a coarse clock


def test_scanning_hashes_only_new_and_changed_files(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src", 10)
    first = build_file_manifest([str(src)])
    _touch(src / "f03", "berubah\n")
    (src / "baru").write_text("baru\n")
    known, todo = scan_files([str(src)], previous=first)
    assert sorted(path for path, _st in todo) == [f"{src}/baru", f"{src}/f03"]
    assert len(known) == 9 and all(known[p] is first.files[p] for p in known)


def test_a_few_changed_files_are_stored_as_a_difference_that_rebuilds_the_manifest(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src", 20)
    base = build_file_manifest([str(src)])
    assert store_form(base).kind == FILES
    _touch(src / "f05", "berubah\n")
    (src / "f07").unlink()
    (src / "baru").write_text("baru\n")
    now = build_file_manifest([str(src)], previous=base)
    stored = store_form(now, LastManifest(base, "run-1", base))
    assert (stored.kind, stored.base) == (FILES_DELTA, "run-1")
    assert len(stored.data) < len(base.to_bytes()) / 3
    rebuilt = load_manifest(stored.data, base)
    assert isinstance(rebuilt, FileManifest) and rebuilt.files == now.files
    assert f"{src}/f07" not in rebuilt.files and rebuilt.files[f"{src}/f05"] != base.files[f"{src}/f05"]
    with pytest.raises(ValueError, match="run-1"):
        load_manifest(stored.data)


def test_when_many_files_changed_the_manifest_is_stored_whole(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src", 8)
    base = build_file_manifest([str(src)])
    for name in ("f00", "f01", "f02"):  # 3 of 8: more than a quarter
        _touch(src / name, "lain\n")
    now = build_file_manifest([str(src)], previous=base)
    stored = store_form(now, LastManifest(base, "run-1", base))
    assert (stored.kind, stored.base) == (FILES, None)
    assert load_manifest(stored.data) == now


def test_after_a_difference_the_base_stays_and_after_a_whole_manifest_it_moves(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src", 20)
    base = build_file_manifest([str(src)])
    last = LastManifest(base, "run-1", base)
    _touch(src / "f01", "x\n")
    second = build_file_manifest([str(src)], previous=base)
    moved = last.after("run-2", second, store_form(second, last))
    assert (moved.latest, moved.base_tag, moved.base) == (second, "run-1", base)
    whole = last.after("run-3", second, store_form(second))
    assert (whole.latest, whole.base_tag, whole.base) == (second, "run-3", second)
