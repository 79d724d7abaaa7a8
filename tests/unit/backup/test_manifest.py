"""Row counts read from dump streams (whatever the chunking), excludes read the way restic reads them."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from siaga.backup.manifest import DumpCounter, Excludes, build_file_manifest, verify_restored_files

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
    assert check.problems == [f"content differs: {src}/b", f"not in manifest: {src}/c"]
