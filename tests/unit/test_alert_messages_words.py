"""Backups, warm standbys and checks say what they saw as message keys, worded for each reader.

Fails when restic's classified failures, a backup or standby failure, a drill's problem or a check's line (up,
down or warning) is a sentence of its own instead of a key of MESSAGES; when a stored failure is not worded in
the reader's language; when a row stored before keys is not shown as it was written.
"""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import siaga
from siaga.backup.manifest import build_file_manifest, verify_restored_files
from siaga.backup.restic.errors import ResticFailure, classify, describe
from siaga.backup.site import BackupError, failure_note, in_english
from siaga.checks.base import ProbeContext, run_once, stored_reason
from siaga.checks.heartbeat import HeartbeatBook, HeartbeatProbe
from siaga.checks.tcp import TcpProbe
from siaga.config.checks import HeartbeatCheck, TcpCheck
from siaga.i18n.messages import MESSAGES, NOTE_MARK, Message, note_of, note_text, render

WITA = ZoneInfo("Asia/Makassar")
UTC = ZoneInfo("UTC")
AT = dt.datetime(2026, 12, 6, 1, 2, 3, tzinfo=dt.UTC)
PACKAGE = Path(siaga.__file__).parent


@pytest.mark.parametrize("kind", list(ResticFailure))
def test_every_restic_failure_is_a_message_worded_in_both_languages(kind: ResticFailure) -> None:
    msg = describe(kind, "colo-kaltim", "Fatal: unable to open config file: dial tcp: connection refused\n")
    assert msg.key in MESSAGES, msg
    en, id_ = render(msg, "en", WITA), render(msg, "id", WITA)
    assert "colo-kaltim" in en and "colo-kaltim" in id_ and en != id_


def test_restics_own_line_is_a_parameter_and_the_sentence_around_it_is_ours() -> None:
    err = classify(1, "Fatal: unable to open repository: dial tcp 10.0.0.1:22: connect: connection refused\n",
                   repository="colo")
    assert err.why.key == "restic.unreachable.why" and "connection refused" in err.why.params["error"]
    assert str(err) == err.message == render(err.why, "en", UTC)
    assert render(err.why, "id", WITA).startswith("repositori colo tidak dapat dijangkau: ")


def test_a_failure_is_stored_as_a_key_and_worded_for_each_reader() -> None:
    exc = BackupError(Message("backup.path_missing", {"job": "portal-berkas", "path": "/srv/www"}), "source_failed")
    note = failure_note(exc)
    assert note.startswith(NOTE_MARK) and "does not exist" not in note
    assert note_text(note, "id", WITA) == "tugas portal-berkas: path /srv/www tidak ada"
    assert in_english(note) == str(exc) == "job portal-berkas: path /srv/www does not exist"
    # the OS or a database driver: its own line, no sentence of ours
    assert failure_note(FileNotFoundError(2, "No such file or directory")) == (
        "FileNotFoundError: [Errno 2] No such file or directory")
    # a row stored before keys is shown as it was written, in every language
    assert note_text("restic failed on colo: an old line", "id", WITA) == "restic failed on colo: an old line"


def test_a_failed_backup_pages_with_its_reason_in_the_readers_language() -> None:
    why = note_of(describe(ResticFailure.wrong_password, "colo-kaltim"))
    page = Message("backup.failed", {"job": "db-utama", "error": why})  # siaga.backup.freshness
    assert render(page, "id", WITA) == (
        "pencadangan db-utama gagal: kata sandi repositori colo-kaltim salah: periksa password_file atau variabel "
        "kata sandi target")
    assert render(page, "en", WITA).startswith("backup db-utama failed: wrong password for repository colo-kaltim")
    standby = Message("standby.failed", {"service": "portal", "error": failure_note(BackupError(Message(
        "standby.unverified", {"job": "portal-berkas", "repository": "colo", "count": 2})))})
    assert "belum ada snapshot terverifikasi tugas portal-berkas" in render(standby, "id", WITA)


def test_what_a_drill_finds_wrong_is_worded_for_the_reader(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("one")
    (src / "b").write_text("two")
    manifest = build_file_manifest([str(src)])
    restored = tmp_path / "restored"
    copy = restored / str(src).lstrip("/")
    copy.mkdir(parents=True)
    (copy / "a").write_text("onE")
    found = verify_restored_files(manifest, restored)
    words = sorted(note_text(p, "id", WITA) or "" for p in found.problems)
    assert words == [f"isinya berbeda: {src}/a", f"tidak ada di salinan yang dipulihkan: {src}/b"]
    summary = note_of(Message("backup.drill.problems", {"count": 2, "problem": found.problems[0]}))
    assert note_text(summary, "id", WITA).startswith("ditemukan 2 masalah; yang pertama: ")  # type: ignore[union-attr]


def test_a_check_that_passes_says_so_in_the_readers_language() -> None:
    async def go() -> None:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            up = await run_once(TcpProbe(TcpCheck(id="ssh", service="portal", type="tcp", host="127.0.0.1",
                                                  port=port)), ProbeContext())
        finally:
            server.close()
            await server.wait_closed()
        assert up.ok and up.why is not None and up.why.key == "check.ok.tcp"
        assert up.message.startswith(f"port {port} open in ")
        assert note_text(stored_reason(up), "id", WITA).startswith(f"port {port} terbuka dalam ")  # type: ignore[union-attr]

        book = HeartbeatBook(AT)
        check = HeartbeatCheck(id="backup-db", service="db-utama", type="heartbeat", period_s=3600)
        book.known.add(check.ping_key)
        ctx = ProbeContext(heartbeats=book, clock=lambda: AT)
        waiting = await run_once(HeartbeatProbe(check), ctx)
        assert note_text(stored_reason(waiting), "id", WITA) == "menunggu ping pertama"
        book.ping(check.ping_key, AT)
        pinged = await run_once(HeartbeatProbe(check), ctx)
        assert note_text(stored_reason(pinged), "id", WITA) == "ping terakhir pada 6 Des 2026 09:02 WITA"
        assert note_text(stored_reason(pinged), "en", WITA) == "last ping at 6 Dec 2026 09:02 WITA"

    asyncio.run(go())


def test_a_certificate_about_to_expire_warns_in_the_readers_language() -> None:
    warned = Message("check.tls_expiring", {"days_left": 2.5, "date": "2026-12-09"})
    assert render(warned, "id", WITA) == "sertifikat kedaluwarsa dalam 2,5 hari (2026-12-09)"
    assert render(warned, "en", WITA) == "certificate expires in 2.5 days (2026-12-09)"


# --- the scan: no sentence of their own reaches a reader --------------------------------------------------

SCANNED = [
    *sorted((PACKAGE / "backup").rglob("*.py")),
    *sorted((PACKAGE / "standby").rglob("*.py")),
    *(PACKAGE / "checks" / f"{name}.py"
      for name in ("base", "http", "tcp", "dns", "tls", "database", "heartbeat", "standin")),
]
"""The modules whose failures and findings people read (backup pages, alerts, status page, CLI)."""

SAYS: dict[str, tuple[int | None, tuple[str, ...]]] = {
    # callable: (position of the message argument, its keyword names)
    "BackupError": (0, ("message",)),
    "ResticError": (1, ("message",)),
    "CheckFailed": (0, ("reason",)),
    "Observation": (None, ("message", "warning")),
}


def _is_sentence(node: ast.expr | None) -> bool:
    """A string written here (a literal or an f-string with words), not a key or a value passed on."""
    if isinstance(node, ast.JoinedStr):
        return True
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and " " in node.value.strip()


def _offences(source: str, where: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else (
                node.func.attr if isinstance(node.func, ast.Attribute) else "")
            if name in SAYS:
                position, keywords = SAYS[name]
                said = [node.args[position]] if position is not None and len(node.args) > position else []
                said += [k.value for k in node.keywords if k.arg in keywords]
                found += [f"{where}:{node.lineno}: {name}(...) with a sentence" for s in said if _is_sentence(s)]
            receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
            if (name == "append" and isinstance(receiver, ast.Name) and receiver.id == "problems" and node.args
                    and _is_sentence(node.args[0])):
                found.append(f"{where}:{node.lineno}: a finding appended as a sentence")
        if isinstance(node, ast.Assign) and _is_sentence(node.value):
            for target in node.targets:
                if (isinstance(target, ast.Attribute) and target.attr == "error") or (
                        isinstance(target, ast.Name) and target.id == "error"):
                    found.append(f"{where}:{node.lineno}: an error stored as a sentence")
    return found


def test_no_backup_standby_or_check_module_stores_a_sentence_of_its_own() -> None:
    assert len(SCANNED) > 20 and all(p.exists() for p in SCANNED)
    offences = [line for path in SCANNED
                for line in _offences(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))]
    assert offences == [], "\n".join(offences)


def test_the_scan_sees_a_sentence_when_there_is_one() -> None:
    bad = ast.parse(  # as the modules read before their texts became keys
        'raise BackupError(f"job {job.id}: path {p} does not exist", "source_failed")\n'
                    'result.error = f"check {bad.check_id}: {bad.message}"\n'
                    'return Observation(latency_ms=1.0, message=f"HTTP {status} in {ms} ms")\n'
                    'problems.append(f"missing: {path}")\n')
    assert len(_offences(ast.unparse(bad), "probe.py")) == 4
