"""Manifests: what a backup read, recorded at backup time, so a drill can prove the restored copy is it.

- Paths: every regular file with its size, mtime and SHA-256 (unchanged files reuse the previous manifest's
  hash, as restic reuses its parent snapshot), computed alongside restic. Stored either whole or, when few
  files changed, as the difference against the last whole manifest of the job (one hop, never a chain), so an
  incremental backup writes what changed, not the list of every file again.
- Database dumps: the tables and their row counts, read from the dump stream itself as it passes into restic
  (so the counts are those of the dump's own snapshot), and the SHA-256 of the whole dump.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import stat as statmod
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from siaga.i18n.messages import Message, note_of

CHUNK = 1 << 20
DELTA_MAX_SHARE = 0.25
"""A file manifest is stored as a difference while at most this share of its files differ from its base."""

FILES, FILES_DELTA, DATABASE = "files", "files-delta", "database"


@dataclass(frozen=True)
class FileEntry:
    size: int
    mtime_ns: int
    sha256: str | None  # None: changed while being read, not verifiable


@dataclass
class FileManifest:
    files: dict[str, FileEntry] = field(default_factory=dict)  # absolute path -> entry

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.files.values())

    def to_bytes(self) -> bytes:
        """The whole manifest: compressed JSON."""
        return _pack({"kind": FILES, "files": _rows(self.files)})

    @classmethod
    def from_data(cls, data: Mapping[str, object]) -> FileManifest:
        return cls(_entries(data.get("files", {})))


def _rows(files: Mapping[str, FileEntry]) -> dict[str, list[object]]:
    return {p: [e.size, e.mtime_ns, e.sha256] for p, e in files.items()}


def _entries(raw: object) -> dict[str, FileEntry]:
    assert isinstance(raw, dict)
    return {p: FileEntry(int(v[0]), int(v[1]), v[2]) for p, v in raw.items()}


def _pack(body: Mapping[str, object]) -> bytes:
    return zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 1)


@dataclass
class DatabaseManifest:
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows in the dump
    sha256: str = ""
    size: int = 0
    filename: str = ""
    dbtype: str = ""

    def to_bytes(self) -> bytes:
        body = {
            "kind": DATABASE,
            "tables": self.tables,
            "sha256": self.sha256,
            "bytes": self.size,
            "filename": self.filename,
            "dbtype": self.dbtype,
        }
        return zlib.compress(json.dumps(body).encode(), 3)

    @classmethod
    def from_data(cls, data: Mapping[str, object]) -> DatabaseManifest:
        tables = data.get("tables", {})
        assert isinstance(tables, dict)
        return cls(
            {str(k): int(v) for k, v in tables.items()},
            str(data.get("sha256", "")),
            int(str(data.get("bytes", 0))),
            str(data.get("filename", "")),
            str(data.get("dbtype", "")),
        )


@dataclass(frozen=True)
class StoredManifest:
    """A manifest as the store keeps it: ``kind`` files (whole), files-delta (against the whole manifest of
    run ``base``) or database."""

    kind: str
    data: bytes
    base: str | None = None


@dataclass(frozen=True)
class LastManifest:
    """The newest file manifest of a job (its hashes are reused for unchanged files) and the whole manifest
    the next one may be stored against (``base``, of run ``base_tag``)."""

    latest: FileManifest
    base_tag: str
    base: FileManifest

    def after(self, run_tag: str, manifest: FileManifest, stored: StoredManifest) -> LastManifest:
        """What it becomes once ``manifest`` of ``run_tag`` is stored as ``stored``."""
        if stored.kind == FILES_DELTA and stored.base == self.base_tag:
            return LastManifest(manifest, self.base_tag, self.base)
        return LastManifest(manifest, run_tag, manifest)


def file_delta(base: FileManifest, current: FileManifest) -> tuple[dict[str, FileEntry], list[str]]:
    """What differs in ``current`` from ``base``: the entries added or changed, and the paths gone."""
    old = base.files
    changed = {p: e for p, e in current.files.items() if (b := old.get(p)) is not e and b != e}
    removed = [p for p in old if p not in current.files]
    return changed, removed


def store_form(
    manifest: FileManifest | DatabaseManifest,
    last: LastManifest | None = None,
    *,
    max_share: float = DELTA_MAX_SHARE,
) -> StoredManifest:
    """How to store ``manifest``: as its difference against the whole manifest of ``last`` when that is small
    (at most ``max_share`` of its files), else whole."""
    if isinstance(manifest, DatabaseManifest):
        return StoredManifest(DATABASE, manifest.to_bytes())
    if last is not None:
        changed, removed = file_delta(last.base, manifest)
        if len(changed) + len(removed) <= max_share * max(len(manifest.files), 1):
            body = {"kind": FILES_DELTA, "base": last.base_tag, "files": _rows(changed), "removed": removed}
            return StoredManifest(FILES_DELTA, _pack(body), last.base_tag)
    return StoredManifest(FILES, manifest.to_bytes())


def load_manifest(blob: bytes, base: FileManifest | None = None) -> FileManifest | DatabaseManifest:
    """A stored manifest; a difference needs the whole manifest it was taken against (``base``)."""
    data = json.loads(zlib.decompress(blob))
    kind = data.get("kind")
    if kind == FILES:
        return FileManifest.from_data(data)
    if kind == FILES_DELTA:
        if base is None:
            raise ValueError(f"a manifest difference needs its base manifest (run {data.get('base')})")
        files = dict(base.files)
        for path in data.get("removed", []):
            files.pop(path, None)
        files.update(_entries(data.get("files", {})))
        return FileManifest(files)
    return DatabaseManifest.from_data(data)


# --- excludes, the way restic reads them -------------------------------------------------------------


def _compile(pattern: str) -> list[str]:
    parts = [p for p in pattern.split("/") if p]
    if not pattern.startswith("/"):
        parts = ["**", *parts]
    return parts


def _match(parts: Sequence[str], path: Sequence[str]) -> bool:
    """Does the pattern match a prefix of ``path`` (so an excluded folder excludes what is in it)?"""
    if not parts:
        return True
    head, rest = parts[0], parts[1:]
    if head == "**":
        return any(_match(rest, path[i:]) for i in range(len(path) + 1))
    return bool(path) and fnmatch.fnmatchcase(path[0], head) and _match(rest, path[1:])


class Excludes:
    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = [_compile(p) for p in patterns]

    def excluded(self, path: str) -> bool:
        parts = [p for p in path.split("/") if p]
        return any(_match(p, parts) for p in self.patterns)


# --- building a file manifest -----------------------------------------------------------------------


def _walk(root: str, excludes: Excludes) -> Iterator[tuple[str, os.stat_result]]:
    if excludes.excluded(root):
        return
    try:
        st = os.lstat(root)
    except OSError:
        return
    if statmod.S_ISREG(st.st_mode):
        yield root, st
        return
    if not statmod.S_ISDIR(st.st_mode):
        return
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if excludes.patterns and excludes.excluded(entry.path):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    yield entry.path, entry.stat(follow_symlinks=False)
            except OSError:
                continue


def hash_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def scan_files(
    paths: Sequence[str], excludes: Iterable[str] = (), previous: FileManifest | None = None
) -> tuple[dict[str, FileEntry], list[tuple[str, os.stat_result]]]:
    """Stat every file under ``paths`` (absolute): the entries of unchanged files (same size and mtime as in
    ``previous``, whose hash they keep), and the files still to hash. Reads no file content."""
    rules = Excludes(excludes)
    old = previous.files if previous is not None else {}
    known: dict[str, FileEntry] = {}
    todo: list[tuple[str, os.stat_result]] = []
    for root in paths:
        for path, st in _walk(os.path.abspath(root), rules):
            before = old.get(path)
            if before is not None and before.size == st.st_size and before.mtime_ns == st.st_mtime_ns and before.sha256:
                known[path] = before
            else:
                todo.append((path, st))
    return known, todo


def hash_files(todo: Iterable[tuple[str, os.stat_result]]) -> dict[str, FileEntry]:
    """Entries for files that are new or changed: their SHA-256, None when they changed while being read."""
    out: dict[str, FileEntry] = {}
    for path, st in todo:
        try:
            digest: str | None = hash_file(path)
            after = os.stat(path)
            if after.st_size != st.st_size or after.st_mtime_ns != st.st_mtime_ns:
                digest = None  # written while we read it
        except OSError:
            continue
        out[path] = FileEntry(st.st_size, st.st_mtime_ns, digest)
    return out


def build_file_manifest(
    paths: Sequence[str], excludes: Iterable[str] = (), previous: FileManifest | None = None
) -> FileManifest:
    """Hash every file under ``paths`` (absolute), reusing ``previous`` hashes of unchanged files."""
    known, todo = scan_files(paths, excludes, previous)
    known.update(hash_files(todo))
    return FileManifest(known)


@dataclass(frozen=True)
class Verification:
    checked: int
    problems: list[str]  # each a message behind the note mark (worded per reader by note_text)
    bytes: int

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_restored_files(manifest: FileManifest, restored_root: Path, *, max_problems: int = 50) -> Verification:
    """Compare a restored tree (restic restore --target ROOT puts /a/b at ROOT/a/b) with the manifest."""
    problems: list[str] = []
    checked = 0
    total = 0
    seen: set[str] = set()
    for path, entry in sorted(manifest.files.items()):
        restored = restored_root / path.lstrip("/")
        seen.add(str(restored))
        try:
            st = restored.stat()
        except OSError:
            problems.append(note_of(Message("backup.problem.missing", {"path": path})))
            continue
        checked += 1
        total += st.st_size
        if st.st_size != entry.size:
            problems.append(note_of(Message("backup.problem.size", {"path": path, "size": st.st_size,
                                                                    "expected": entry.size})))
            continue
        if entry.sha256 is None:
            continue
        if hash_file(restored) != entry.sha256:
            problems.append(note_of(Message("backup.problem.content", {"path": path})))
    for dirpath, _dirs, files in os.walk(restored_root):
        for name in files:
            full = os.path.join(dirpath, name)
            if full not in seen:
                extra = f"/{os.path.relpath(full, restored_root)}"
                problems.append(note_of(Message("backup.problem.extra", {"path": extra})))
    if len(problems) > max_problems:
        more = len(problems) - max_problems
        problems = [*problems[:max_problems], note_of(Message("backup.problem.more", {"count": more}))]
    return Verification(checked, problems, total)


# --- counting rows in a dump stream -----------------------------------------------------------------

_COPY = re.compile(rb"^COPY\s+(.+?)\s*(?:\(|FROM\s)")
_INSERT = re.compile(rb"^INSERT INTO `((?:[^`]|``)+)` (?:\([^)]*\) )?VALUES ?")
_SQL_STRING = re.compile(rb"'(?:[^'\\]|\\.|'')*'")


def _tuples(values: bytes) -> int:
    """How many row tuples ``(..),(..)`` a piece of an INSERT holds (strings masked first)."""
    text = _SQL_STRING.sub(b"''", values).strip()
    if not text.startswith(b"("):
        return 0
    return text.count(b"),(") + 1


class DumpCounter:
    """Feeds on a dump stream; knows the tables and rows it carried (pg_dump plain, mysqldump)."""

    def __init__(self, dbtype: str) -> None:
        self.dbtype = dbtype
        self.tables: dict[str, int] = {}
        self.sha = hashlib.sha256()
        self.bytes = 0
        self._tail = b""
        self._copy: str | None = None

    def feed(self, chunk: bytes) -> None:
        self.sha.update(chunk)
        self.bytes += len(chunk)
        data = self._tail + chunk if self._tail else chunk
        end = data.rfind(b"\n")
        if end < 0:
            self._tail = data
            return
        self._tail = data[end + 1 :]
        block = data[: end + 1]
        if self.dbtype == "postgresql":
            self._pg(block)
        else:
            self._mysql(block)

    def finish(self) -> None:
        if self._tail:
            block, self._tail = self._tail + b"\n", b""
            if self.dbtype == "postgresql":
                self._pg(block)
            else:
                self._mysql(block)

    def _pg(self, block: bytes) -> None:
        pos = 0
        size = len(block)
        while pos < size:
            if self._copy is None:
                if block.startswith(b"COPY ", pos):
                    idx = pos
                else:
                    idx = block.find(b"\nCOPY ", pos)
                    if idx < 0:
                        return
                    idx += 1
                eol = block.find(b"\n", idx)
                match = _COPY.match(block[idx:eol])
                if match:
                    name = match.group(1).decode("utf-8", "replace").replace('"', "")
                    self._copy = name
                    self.tables.setdefault(name, 0)
                pos = eol + 1
            else:
                if block.startswith(b"\\.\n", pos):
                    self._copy = None
                    pos += 3
                    continue
                idx = block.find(b"\n\\.\n", pos)
                if idx < 0:
                    self.tables[self._copy] += block.count(b"\n", pos)
                    return
                self.tables[self._copy] += block.count(b"\n", pos, idx + 1)
                self._copy = None
                pos = idx + 4

    def _mysql(self, block: bytes) -> None:
        # MySQL writes one INSERT per line; MariaDB >= 10.9 writes "INSERT ... VALUES" then one row per line.
        for line in block.split(b"\n"):
            if self._copy is not None:
                self.tables[self._copy] += _tuples(line)
                if line.rstrip().endswith(b";"):
                    self._copy = None
                continue
            if not line.startswith(b"INSERT INTO `"):
                if line.startswith(b"CREATE TABLE `"):
                    name = line[len(b"CREATE TABLE `") :].split(b"`", 1)[0].decode("utf-8", "replace")
                    self.tables.setdefault(name, 0)
                continue
            match = _INSERT.match(line)
            if not match:
                continue
            name = match.group(1).decode("utf-8", "replace").replace("``", "`")
            self.tables[name] = self.tables.get(name, 0) + _tuples(line[match.end() :])
            if not line.rstrip().endswith(b";"):
                self._copy = name

    def manifest(self, filename: str) -> DatabaseManifest:
        return DatabaseManifest(dict(self.tables), self.sha.hexdigest(), self.bytes, filename, self.dbtype)
