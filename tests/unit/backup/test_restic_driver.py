"""Finding restic, its features by version, masking secrets, classifying failures."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from siaga.backup.restic.binary import Features, find_restic, parse_version
from siaga.backup.restic.errors import ResticError, ResticFailure, classify
from siaga.backup.restic.execute import masked, restic_env
from siaga.backup.restic.repository import Repository, mask_url, repository_for
from siaga.config.backup import Target


def test_version_of_debian_restic() -> None:
    assert parse_version("restic 0.14.0 compiled with go1.19.8 on linux/amd64\n") == (0, 14, 0)
    with pytest.raises(ValueError):
        parse_version("bash: restic: command not found")


def test_restic_014_lacks_the_newer_features() -> None:
    old, new = Features((0, 14, 0)), Features((0, 17, 3))
    assert not old.stdin_from_command and not old.json_restore and not old.json_check and not old.retry_lock
    assert new.stdin_from_command and new.json_restore and new.json_check and new.retry_lock


def test_missing_restic_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ResticError) as err:
        find_restic(str(tmp_path / "no-restic"))
    assert err.value.kind is ResticFailure.missing_binary
    assert "apt-get install restic" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_fake_restic_reports_its_version(tmp_path: Path) -> None:
    fake = tmp_path / "restic"
    fake.write_text("#!/bin/sh\necho 'restic 0.16.4 compiled with go1.21 on linux/amd64'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    found = find_restic(str(fake))
    assert found.version == (0, 16, 4) and found.features.retry_lock


@pytest.mark.parametrize(
    ("code", "stderr", "kind"),
    [
        (1, "Fatal: wrong password or no key found\n", ResticFailure.wrong_password),
        (12, "", ResticFailure.wrong_password),
        (
            1,
            "Fatal: unable to open config file: stat /x/config: no such file or directory\n"
            "Is there a repository at the following location?\n/x\n",
            ResticFailure.no_repository,
        ),
        (
            1,
            "unable to create lock in backend: repository is already locked by PID 77 on host\n",
            ResticFailure.locked,
        ),
        (
            1,
            "subprocess ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused\n"
            "Fatal: unable to open repository at sftp:u@127.0.0.1:/x: unable to start the sftp session, error: EOF\n",
            ResticFailure.unreachable,
        ),
        (3, "Warning: at least one source file could not be read\n", ResticFailure.incomplete),
        (1, "Fatal: something odd\n", ResticFailure.other),
    ],
)
def test_failures_are_classified(code: int, stderr: str, kind: ResticFailure) -> None:
    err = classify(code, stderr, repository="colo (sftp:u@h:/x)")
    assert err.kind is kind
    assert "colo" in err.message and "\n" not in err.message


def test_unreachable_names_the_cause() -> None:
    err = classify(1, "subprocess ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused\n", repository="c")
    assert "Connection refused" in err.message


def test_secrets_are_masked_in_logs() -> None:
    line = masked(["restic", "-r", "rest:https://u:s3cret@h/repo", "snapshots"], secrets=["hunter2"])
    assert "s3cret" not in line and "***" in line
    assert "hunter2" not in masked(["echo", "hunter2"], secrets=["hunter2"])
    assert mask_url("s3:https://k:v@host/b") == "s3:https://k:***@host/b"


def test_restic_always_gets_a_password_file_and_never_an_inherited_password() -> None:
    env = restic_env("/etc/pw", environ={"RESTIC_PASSWORD": "x", "PATH": "/bin"})
    assert env["RESTIC_PASSWORD_FILE"] == "/etc/pw"
    assert "RESTIC_PASSWORD" not in env


def test_env_password_goes_through_a_private_file_that_is_removed() -> None:
    repo = Repository(id="t", location="/r", password_env="PW")
    with repo.password_path({"PW": "geheim"}) as path:
        assert Path(path).read_text() == "geheim"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not Path(path).exists()


def test_sftp_target_becomes_a_pinned_ssh_command() -> None:
    target = Target.model_validate(
        {
            "id": "colo",
            "type": "sftp",
            "host": "colo.example.id",
            "port": 2222,
            "user": "siaga",
            "path": "/srv/restic",
            "identity_file": "/k/id",
            "known_hosts_file": "/k/kh",
            "password_file": "/k/pw",
        }
    )
    repo = repository_for(target)
    assert repo.location == "sftp:siaga@colo.example.id:/srv/restic"
    (option,) = repo.options
    assert option.startswith("sftp.command=ssh -p 2222 ")
    assert "StrictHostKeyChecking=yes" in option and "UserKnownHostsFile=/k/kh" in option
    assert option.endswith("siaga@colo.example.id -s sftp")
    assert repo.offsite
