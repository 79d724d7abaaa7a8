"""The colocation target over SFTP: a real sshd on loopback with generated host and user keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from siaga.backup.site import in_english

if TYPE_CHECKING:
    from conftest import SftpServer, Site

pytestmark = pytest.mark.integration


def _colo(site: Site, sshd: SftpServer, port: int | None = None) -> dict[str, object]:
    return {
        "id": "colo-kaltim",
        "type": "sftp",
        "host": "127.0.0.1",
        "port": port or sshd.port,
        "user": sshd.user,
        "path": str(sshd.root / site.tmp.name),
        "identity_file": sshd.identity_file,
        "known_hosts_file": sshd.known_hosts_file,
        "password_file": site.password(),
        "key_kept_at": "Brankas Kabid Infrastruktur",
    }


async def test_backup_to_the_colocation_over_sftp_and_drill_from_it(site: Site, sshd: SftpServer) -> None:
    src = site.tmp / "www"
    src.mkdir()
    for i in range(5):
        (src / f"halaman{i}.html").write_text(f"<p>{i}</p>" * 100)
    mgr = site.manager(
        [_colo(site, sshd)],
        [{"id": "portal-berkas", "target": "colo-kaltim", "paths": [str(src)], "services": ["portal"]}],
    )
    assert "sftp:root@127.0.0.1:" in await mgr.init_target("colo-kaltim")
    result = await mgr.run_job("portal-berkas")
    assert result.ok, result.error
    assert (sshd.root / site.tmp.name / "config").exists()
    drill = await mgr.drill("portal-berkas")
    assert drill.ok and drill.checked == 5 and drill.target == "colo-kaltim"


async def test_an_unreachable_colocation_is_a_clear_error_and_an_alert(site: Site, sshd: SftpServer) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    mgr = site.manager(
        [_colo(site, sshd, port=closed_port)],
        [{"id": "portal-berkas", "target": "colo-kaltim", "paths": [str(site.tmp)]}],
    )
    result = await mgr.run_job("portal-berkas")
    assert not result.ok and result.error_kind == "unreachable"
    assert result.error is not None and "cannot reach repository colo-kaltim" in in_english(result.error)
    # ssh's own reason follows; usually "Connection refused", but under load another process may take the
    # freed port and ssh then reports an EOF: either way one line, classified as unreachable.
    assert "\n" not in result.error
    assert any(reason in in_english(result.error) for reason in ("Connection refused", "EOF", "closed", "reset"))
    assert "backup.failed" in site.sink.active("portal-berkas")
