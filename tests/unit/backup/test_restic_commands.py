"""The restic command lines siaga builds, as argument lists."""

from __future__ import annotations

import pytest

from siaga.backup.restic.binary import ResticBinary
from siaga.backup.restic.commands import (
    backup_paths_command,
    backup_stdin_command,
    check_command,
    copy_command,
    dump_command,
    forget_ids_command,
    init_command,
    job_tag,
    prune_command,
    restore_command,
    snapshots_command,
    unlock_command,
)
from siaga.backup.restic.repository import Repository

R014 = ResticBinary("/usr/bin/restic", (0, 14, 0))
R017 = ResticBinary("/usr/bin/restic", (0, 17, 3))
LOCAL = Repository(id="nas", location="/mnt/nas/restic", password_file="/etc/pw")
SFTP = Repository(
    id="colo",
    location="sftp:siaga@colo:/srv/restic",
    options=("sftp.command=ssh -p 2222 siaga@colo -s sftp",),
    password_file="/etc/pw",
)


def test_init_names_the_repository() -> None:
    assert init_command(R014, LOCAL) == ("/usr/bin/restic", "-r", "/mnt/nas/restic", "init")


def test_sftp_options_follow_the_repository() -> None:
    assert unlock_command(R014, SFTP) == (
        "/usr/bin/restic",
        "-r",
        "sftp:siaga@colo:/srv/restic",
        "-o",
        "sftp.command=ssh -p 2222 siaga@colo -s sftp",
        "unlock",
    )


def test_backup_paths_with_excludes_tags_and_upload_limit() -> None:
    args = backup_paths_command(
        R014,
        LOCAL,
        ["/var/www", "/etc/nginx"],
        excludes=["*.tmp"],
        tags=[job_tag("portal")],
        limit_upload_kib=4096,
    )
    assert args == (
        "/usr/bin/restic",
        "-r",
        "/mnt/nas/restic",
        "backup",
        "--json",
        "--exclude",
        "*.tmp",
        "--tag",
        "siaga-job=portal",
        "--limit-upload",
        "4096",
        "--",
        "/var/www",
        "/etc/nginx",
    )


def test_backup_paths_needs_a_path() -> None:
    with pytest.raises(ValueError):
        backup_paths_command(R014, LOCAL, [])


def test_backup_stdin_names_the_dump_file() -> None:
    args = backup_stdin_command(R014, LOCAL, "db-utama.sql", tags=["siaga-job=db"])
    assert args[3:] == (
        "backup",
        "--json",
        "--stdin",
        "--stdin-filename",
        "db-utama.sql",
        "--tag",
        "siaga-job=db",
    )


def test_snapshots_filtered_by_tag() -> None:
    assert snapshots_command(R014, LOCAL, tags=["siaga-job=a"])[3:] == (
        "snapshots",
        "--json",
        "--tag",
        "siaga-job=a",
    )


def test_forget_takes_explicit_ids_and_never_prunes() -> None:
    args = forget_ids_command(R014, LOCAL, ["abc", "def"])
    assert args[3:] == ("forget", "--", "abc", "def")
    assert "--prune" not in args
    with pytest.raises(ValueError):
        forget_ids_command(R014, LOCAL, [])


def test_exclusive_steps_retry_the_lock_only_where_restic_can() -> None:
    assert "--retry-lock" not in prune_command(R014, LOCAL)
    assert prune_command(R017, LOCAL)[3:] == ("--retry-lock", "2m", "prune")


def test_check_reads_a_subset_and_asks_json_only_when_supported() -> None:
    assert check_command(R014, LOCAL, subset="3/30")[3:] == ("check", "--read-data-subset=3/30")
    assert check_command(R017, LOCAL, subset="3/30")[-1] == "--json"


def test_restore_and_dump() -> None:
    assert restore_command(R014, LOCAL, "abc123", "/tmp/x")[3:] == ("restore", "abc123", "--target", "/tmp/x")
    assert dump_command(R014, LOCAL, "abc", "/db.sql")[3:] == ("dump", "abc", "/db.sql")


def test_copy_reads_from_the_source_without_its_password_on_the_line() -> None:
    args = copy_command(R014, SFTP, LOCAL, ["abc"])
    assert args == (
        "/usr/bin/restic",
        "-r",
        "/mnt/nas/restic",
        "copy",
        "--from-repo",
        "sftp:siaga@colo:/srv/restic",
        "-o",
        "sftp.command=ssh -p 2222 siaga@colo -s sftp",
        "--",
        "abc",
    )
    assert not any("pw" in a for a in args)
