"""In loopback-only mode nothing leaves the machine; loopback still works."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from siaga import netguard


def test_the_suite_runs_in_loopback_only_mode() -> None:
    assert netguard.enabled()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "::1", "localhost", "0.0.0.0", "[::1]"])
def test_loopback_hosts_are_allowed(host: str) -> None:
    assert netguard.is_loopback_host(host)


@pytest.mark.parametrize("host", ["10.10.1.53", "192.0.2.10", "8.8.8.8", "bontangkota.go.id", "::ffff:10.0.0.1"])
def test_other_hosts_are_not(host: str) -> None:
    assert not netguard.is_loopback_host(host)


def test_a_lookup_of_a_real_name_is_refused() -> None:
    with pytest.raises(socket.gaierror, match="loopback-only"):
        socket.getaddrinfo("bontangkota.go.id", 443)


def test_a_tcp_connect_off_the_machine_is_refused() -> None:
    with socket.socket() as s, pytest.raises(ConnectionRefusedError, match=r"10\.10\.1\.53"):
        s.connect(("10.10.1.53", 53))


def test_a_datagram_off_the_machine_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(ConnectionRefusedError):
        s.sendto(b"x", ("192.0.2.10", 161))


def test_loopback_traffic_still_flows() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            conn, _ = server.accept()
            conn.close()


def test_a_siaga_process_inherits_the_mode() -> None:
    code = "import socket, siaga.netguard as g; g.install(); socket.getaddrinfo('example.org', 80)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode != 0
    assert "loopback-only" in proc.stderr


def test_a_test_may_allow_the_networks_it_made_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not netguard.is_loopback_host("10.79.3.2")
    monkeypatch.setenv(netguard.ALSO_ENV, "10.79.0.0/16, not-a-network")
    assert netguard.is_loopback_host("10.79.3.2")
    assert not netguard.is_loopback_host("10.80.0.1")
