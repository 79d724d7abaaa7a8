"""Manifests: what a backup read, recorded at backup time, so a drill can prove the restored copy is it.

- Paths: every regular file with its size, mtime and SHA-256 (unchanged files reuse the previous manifest's
  hash, as restic reuses its parent snapshot), computed alongside restic.
- Database dumps: the tables and their row counts, read from the dump stream itself as it passes into restic
  (so the counts are those of the dump's own snapshot), and the SHA-256 of the whole dump.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    size: int
    mtime_ns: int
    sha256: str | None  # None: changed while being read, not verifiable


@dataclass
class FileManifest:
    files: dict[str, FileEntry] = field(default_factory=dict)  # absolute path -> entry
    _blob: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.files.values())

    def to_bytes(self) -> bytes:
        """Compressed JSON, computed once (the backup serialises it while restic runs)."""
        if self._blob is None:
            data = {p: [e.size, e.mtime_ns, e.sha256] for p, e in self.files.items()}
            text = json.dumps({"kind": "files", "files": data}, separators=(",", ":")).encode()
            self._blob = zlib.compress(text, 1)
        return self._blob

    @classmethod
    def from_data(cls, data: Mapping[str, object]) -> FileManifest:
        raw = data.get("files", {})
        assert isinstance(raw, dict)
        return cls({p: FileEntry(int(v[0]), int(v[1]), v[2]) for p, v in raw.items()})


@dataclass
class DatabaseManifest:
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows in the dump
    sha256: str = ""
    size: int = 0
    filename: str = ""
    dbtype: str = ""

    def to_bytes(self) -> bytes:
        body = {
            "kind": "database",
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


def load_manifest(blob: bytes) -> FileManifest | DatabaseManifest:
    data = json.loads(zlib.decompress(blob))
    return FileManifest.from_data(data) if data.get("kind") == "files" else DatabaseManifest.from_data(data)


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
    import stat as statmod

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


def build_file_manifest(
    paths: Sequence[str], excludes: Iterable[str] = (), previous: FileManifest | None = None
) -> FileManifest:
    """Hash every file under ``paths`` (absolute), reusing ``previous`` hashes of unchanged files."""
    rules = Excludes(excludes)
    old = previous.files if previous is not None else {}
    out: dict[str, FileEntry] = {}
    for root in paths:
        for path, st in _walk(os.path.abspath(root), rules):
            before = old.get(path)
            if (
                before is not None
                and before.size == st.st_size
                and before.mtime_ns == st.st_mtime_ns
                and before.sha256
            ):
                out[path] = before
                continue
            try:
                digest: str | None = hash_file(path)
                after = os.stat(path)
                if after.st_size != st.st_size or after.st_mtime_ns != st.st_mtime_ns:
                    digest = None  # written while we read it
            except OSError:
                continue
            out[path] = FileEntry(st.st_size, st.st_mtime_ns, digest)
    return FileManifest(out)


@dataclass(frozen=True)
class Verification:
    checked: int
    problems: list[str]
    bytes: int

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_restored_files(
    manifest: FileManifest, restored_root: Path, *, max_problems: int = 50
) -> Verification:
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
            problems.append(f"missing: {path}")
            continue
        checked += 1
        total += st.st_size
        if st.st_size != entry.size:
            problems.append(f"size differs: {path} ({st.st_size} bytes, manifest {entry.size})")
            continue
        if entry.sha256 is None:
            continue
        if hash_file(restored) != entry.sha256:
            problems.append(f"content differs: {path}")
    for dirpath, _dirs, files in os.walk(restored_root):
        for name in files:
            full = os.path.join(dirpath, name)
            if full not in seen:
                problems.append(f"not in manifest: /{os.path.relpath(full, restored_root)}")
    if len(problems) > max_problems:
        problems = [*problems[:max_problems], f"... and {len(problems) - max_problems} more"]
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
