"""A colocation watching several rooms pages each room's own people on its own channels: the room's id is the
subject of its silence (and ``<room>/<service>`` of the outages the colocation takes over), and the
escalation policy that names it is chosen before any catch-all (first match wins)."""

from __future__ import annotations

import datetime as dt
import textwrap

from siaga.alerts.model import Alert, AlertState, Severity, SubjectKind
from siaga.config import parse_config
from siaga.i18n.messages import Message
from siaga.notify.policy import select_policy
from siaga.peers.watch import SILENT_RULE

COLO = textwrap.dedent("""\
    site: {name: Kolokasi Kaltim, timezone: Asia/Makassar}
    people:
      - {id: andi, name: Andi, contacts: {tg-bontang: "1"}}
      - {id: sari, name: Sari, contacts: {wa-samarinda: "+62811"}}
      - {id: noc, name: NOC Kolokasi, contacts: {mail: noc@colo.example}}
    notification:
      channels:
        tg-bontang: {type: webhook, url: "https://hooks.example/bontang"}
        wa-samarinda: {type: webhook, url: "https://hooks.example/samarinda"}
        mail: {type: webhook, url: "https://hooks.example/noc"}
    escalation:
      - {id: bontang, match: {severity_at_least: info, subjects: [bontang, "bontang/*"]},
         steps: [{people: [andi], channels: [tg-bontang]}]}
      - {id: samarinda, match: {severity_at_least: info, subjects: [samarinda, "samarinda/*"]},
         steps: [{people: [sari], channels: [wa-samarinda]}]}
      - {id: colo, match: {severity_at_least: info}, steps: [{people: [noc], channels: [mail]}]}
    peers:
      site_id: colo
      sites:
        - {id: bontang, name: Ruang Server Diskominfo Bontang, role: watches, url: "https://bontang.example",
           secret: "${PEER_BONTANG}"}
        - {id: samarinda, name: Ruang Server Samarinda, role: watches, url: "https://samarinda.example",
           secret: "${PEER_SAMARINDA}"}
    """)


def alert(rule: str, subject: str) -> Alert:
    return Alert(1, rule, subject, SubjectKind.system, AlertState.firing, Severity.critical, Message(rule, {}),
                 dt.datetime(2026, 12, 6, 2, 2, tzinfo=dt.UTC), params={"peer": subject.split("/")[0]})


def test_each_rooms_silence_and_outages_page_its_own_people_on_its_own_channels() -> None:
    cfg = parse_config(COLO, "siaga.yaml")
    for room, person, channel in (("bontang", "andi", "tg-bontang"), ("samarinda", "sari", "wa-samarinda")):
        for a in (alert(SILENT_RULE, room), alert("peer.service.down", f"{room}/portal")):
            policy = select_policy(cfg.escalation, a)
            assert policy is not None and policy.id == room
            assert (policy.steps[0].people, policy.steps[0].channels) == ([person], [channel])
    own = select_policy(cfg.escalation, alert("system.down", "mqtt"))
    assert own is not None and own.id == "colo"  # the colocation's own alerts go to its own people
