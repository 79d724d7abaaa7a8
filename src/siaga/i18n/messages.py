"""What siaga says about an alert or an incident, as a key and parameters, worded for each reader.

Observers (rules, checks, backups, siaga itself) do not write sentences: they name a message of
:data:`MESSAGES` and give its parameters (JSON values: ids, numbers, ISO times). The store keeps the
key and the parameters; every surface (dashboard, API ``summary``, CLI, notifications, reports) words
them with :func:`render` in the reader's language, with local times in the site's zone and Babel's
number and duration formats::

    msg = Message("sensor.stale", {"sensor": "leak-r1-floor", "rack": "R1", "zone": "floor",
                                   "last_seen": "2026-12-06T01:02:00+00:00"})
    render(msg, "id", ZoneInfo("Asia/Makassar"))
    # 'tidak ada pembacaan dari leak-r1-floor (R1, lantai) sejak 6 Des 2026 09:02 WITA'

How a parameter is shown follows from its name (:func:`field_kind`): ``*_s`` is a duration in seconds,
``value``/``threshold`` a measure in ``params["unit"]``, the names of :data:`TIMES` an ISO time,
``what``/``cause``/``cause_rule`` words of a table here; anything else is shown as it is (ids, names,
the error line of a probe). ``{where}`` is computed: `` (R1, lantai)`` from ``rack``/``zone``/``room``, or
nothing. A row written before keys existed carries its sentence in ``text`` and is shown as it is.
"""

from __future__ import annotations

import datetime as dt
import functools
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from siaga.i18n.catalogs import N_, translator
from siaga.i18n.formats import duration, local_time, measure, number
from siaga.i18n.labels import REFUSAL_REASON, SENSOR_KIND, ZONE


@dataclass(frozen=True)
class Message:
    """A message key of :data:`MESSAGES` and its parameters (JSON values); ``text``: a sentence stored before keys."""

    key: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""

    def __bool__(self) -> bool:
        return bool(self.key or self.text)

    def english(self) -> str:
        """The message in English with UTC times (for logs)."""
        return render(self, "en", ZoneInfo("UTC"))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "params": dict(self.params)}
        if self.text:
            out["text"] = self.text
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Message:
        if not data:
            return cls()
        return cls(str(data.get("key") or ""), dict(data.get("params") or {}), str(data.get("text") or ""))

    @classmethod
    def stored(cls, key: str | None, params: Mapping[str, Any] | None, text: str | None) -> Message:
        """From the store's columns: the key when the row has one, else the legacy sentence."""
        if key:
            return cls(key, dict(params or {}))
        return cls(text=text or "")


MESSAGES: dict[str, str] = {
    # sensors (siaga.rules)
    "sensor.leak.on": N_("water detected by {sensor}{where}"),
    "sensor.leak.off": N_("{sensor} is dry again"),
    "sensor.smoke.on": N_("smoke detected by {sensor}{where}"),
    "sensor.smoke.off": N_("{sensor} is clear again"),
    "sensor.ups_on_battery.on": N_("UPS on battery ({sensor}){where}"),
    "sensor.ups_on_battery.off": N_("UPS back on mains ({sensor})"),
    "sensor.above": N_("{what} {value} above {threshold} on {sensor}{where}"),
    "sensor.below": N_("{what} {value} below {threshold} on {sensor}{where}"),
    "sensor.battery_low": N_("battery low on {sensor}{where}: {value}"),
    "sensor.normal": N_("{what} back within limits on {sensor}"),
    "sensor.stale": N_("no reading from {sensor}{where} since {last_seen}"),
    "sensor.reports": N_("{sensor} reports again"),
    # services (siaga.checks)
    "service.down": N_("{name} is down: {detail}"),
    "service.down.cause": N_("{name} is down: {detail} (probable cause: {cause_rule} at {cause_place} since "
                             "{cause_since})"),
    "service.up": N_("{name} is up again"),
    "tls.expiry": N_("{check}: certificate expires in {days_left} days"),
    "tls.renewed": N_("{check}: certificate renewed"),
    # why a service check failed (siaga.checks probes): the raw line of the OS or a library only as {error}
    "check.refused": N_("cannot connect to {target}: connection refused"),
    "check.connect_timeout": N_("cannot connect to {target}: no answer"),
    "check.unresolved": N_("cannot connect to {target}: the name does not resolve ({error})"),
    "check.connect": N_("cannot connect to {target}: {error}"),
    "check.timeout": N_("no answer within {seconds} s"),
    "check.error": N_("the check failed: {error}"),
    "check.header": N_("header setting: {error}"),
    "check.tls_untrusted": N_("TLS certificate not trusted: {error}"),
    "check.redirects": N_("too many redirects"),
    "check.status": N_("HTTP {status} (expected {expected})"),
    "check.slow": N_("slow: {latency_ms} ms (limit {limit_ms} ms)"),
    "check.keyword_missing": N_("keyword \"{keyword}\" not found"),
    "check.keyword_found": N_("unwanted text \"{keyword}\" found"),
    "check.json_invalid": N_("the body is not valid JSON"),
    "check.json_missing": N_("nothing at {path}"),
    "check.json_value": N_("{path} is {got}, expected {expected}"),
    "check.tls_invalid": N_("certificate of {name} not accepted: {error}"),
    "check.tls_connect": N_("cannot open TLS to {target}: {error}"),
    "check.tls_none": N_("the server sent no certificate"),
    "check.tls_expired": N_("certificate expired on {date}"),
    "check.dns_nxdomain": N_("{query}: no such name (NXDOMAIN)"),
    "check.dns_no_answer": N_("{query}: no {record_type} record"),
    "check.dns_no_server": N_("{query}: no resolver answered well ({error})"),
    "check.dns_timeout": N_("{query}: the resolver did not answer within {seconds} s"),
    "check.dns_error": N_("{query}: DNS error: {error}"),
    "check.dns_mismatch": N_("{query} {record_type}: expected {expected}, got {got}"),
    "check.dns_mismatch.none": N_("{query} {record_type}: expected {expected}, got nothing"),
    "check.db_password": N_("database password: {error}"),
    "check.db_result": N_("query returned {got}, expected {expected}"),
    "check.db_login": N_("cannot log in to {engine} at {target}: {error}"),
    "check.db_query": N_("query failed: {error}"),
    "check.heartbeat_failed": N_("the job reported a failure at {at}"),
    "check.heartbeat_none": N_("no ping yet; expected one every {period_s} (+{grace_s} grace)"),
    "check.heartbeat_late": N_("last ping {ago_s} ago; expected every {period_s} (+{grace_s} grace)"),
    "check.standin": N_("demo: the stand-in plays this service down"),
    # what a check saw when the service is well (siaga.checks probes), and a warning while it is
    "check.ok.http": N_("HTTP {status} in {latency_ms} ms"),
    "check.ok.tcp": N_("port {port} open in {latency_ms} ms"),
    "check.ok.dns": N_("{record_type} record: {answers}"),
    "check.ok.tls": N_("certificate valid {days_left} more days"),
    "check.ok.db": N_("query ok in {latency_ms} ms ({result})"),
    "check.ok.heartbeat": N_("last ping at {at}"),
    "check.ok.waiting": N_("waiting for the first ping"),
    "check.ok.standin": N_("demo: the stand-in plays this service up (not checked for real)"),
    "check.tls_expiring": N_("certificate expires in {days_left} days ({date})"),
    # backups (siaga.backup.freshness)
    "backup.failed": N_("backup {job} failed: {error}"),
    "backup.missed": N_("backup {job} did not run at its scheduled time {slot}"),
    "backup.rpo.none": N_("backup {job} has no good snapshot yet (RPO {rpo_s})"),
    "backup.rpo.old": N_("newest good snapshot of {job} is {age_s} old, over its RPO of {rpo_s} ({cause})"),
    "backup.drill": N_("restore drill of {job} failed: {error}"),
    "backup.rto": N_("restore drill of {job} took {took_s}, over its RTO of {rto_s}"),
    # why restic failed (siaga.backup.restic.errors): restic's own line only as {error}
    "restic.wrong_password": N_("wrong password for repository {repository}: check the password_file or the "
                                "password variable of the target"),
    "restic.no_repository": N_("no restic repository at {repository}: create it with `siaga backup init TARGET`"),
    "restic.already_exists": N_("a restic repository already exists at {repository}"),
    "restic.locked": N_("repository {repository} is locked by another restic run; siaga unlocks stale locks, try "
                        "again later"),
    "restic.unreachable": N_("cannot reach repository {repository}"),
    "restic.unreachable.why": N_("cannot reach repository {repository}: {error}"),
    "restic.incomplete": N_("backup to {repository} is incomplete: some files could not be read ({error})"),
    "restic.interrupted": N_("restic on {repository} was interrupted"),
    "restic.no_space": N_("no space left while writing to {repository}"),
    "restic.failed": N_("restic failed on {repository}: {error}"),
    "restic.missing": N_("restic not found ({program}): install it with `apt-get install restic` (Debian/Ubuntu) "
                         "or from https://restic.net"),
    "restic.cannot_run": N_("cannot run {program} ({error}): install restic with `apt-get install restic` "
                            "(Debian/Ubuntu) or from https://restic.net"),
    "restic.not_restic": N_("{program} does not look like restic: {error}"),
    # why a backup step failed (siaga.backup)
    "backup.unknown_job": N_("unknown backup job {job} (known: {known})"),
    "backup.unknown_job.none": N_("unknown backup job {job}: no backup job is configured"),
    "backup.unknown_target": N_("unknown backup target {target} (known: {known})"),
    "backup.unknown_target.none": N_("unknown backup target {target}: no backup target is configured"),
    "backup.target_secret": N_("the secret of target {target} cannot be read: {error}"),
    "backup.no_snapshot": N_("no snapshot of job {job} on {repository}"),
    "backup.no_such_snapshot": N_("no snapshot {snapshot} of job {job} on {repository}"),
    "backup.no_snapshot_written": N_("restic wrote no snapshot for job {job} on {repository}"),
    "backup.path_missing": N_("job {job}: path {path} does not exist"),
    "backup.dump_secret": N_("job {job}: the secret of its database cannot be read: {error}"),
    "backup.dump_start": N_("job {job}: cannot run {program}: {error}"),
    "backup.dump_failed": N_("database dump of job {job} failed ({error}); no snapshot was kept"),
    "backup.copy_none": N_("copy of {snapshot} to {repository} wrote no snapshot"),
    "backup.hook.start": N_("hook {hook} of job {job} cannot start: {error}"),
    "backup.hook.timeout": N_("hook {hook} of job {job} ran over {limit_s}"),
    "backup.hook.failed": N_("hook {hook} of job {job} failed (exit code {code}): {output}"),
    "backup.restore.where": N_("say where to restore: --to PATH or --to-database URL"),
    "backup.restore.files_job": N_("job {job} backs up files: restore it with --to PATH"),
    "backup.restore.not_empty": N_("{path} is not empty: siaga never overwrites (choose an empty folder or "
                                   "--overwrite)"),
    "backup.restore.database_url": N_("the URL of --to-database cannot be used: {error}"),
    "backup.restore.database_name": N_("--to-database: name the database in the URL (…/dbname)"),
    "backup.restore.database_full": N_("database {database} on {server} already has {count} tables: siaga never "
                                       "overwrites (choose a new database name or --overwrite)"),
    "backup.load.start": N_("cannot load the dump into {server}: {error}"),
    "backup.load.failed": N_("loading the dump into {server} failed: {error}"),
    "backup.drill.no_snapshot": N_("no snapshot of job {job} on {repository} to drill"),
    "backup.drill.no_manifest": N_("snapshot {snapshot} of job {job} has no manifest recorded by siaga: cannot "
                                   "verify it"),
    "backup.drill.problems": N_("{count} problems found; the first: {problem}"),
    "backup.drill.no_scratch": N_("job {job}: set drill.scratch_database_url to drill a database dump"),
    "backup.drill.scratch_url": N_("job {job}: drill.scratch_database_url cannot be used: {error}"),
    # what a restore drill found wrong in the restored copy (siaga.backup.manifest, .actions.drill)
    "backup.problem.missing": N_("missing from the restored copy: {path}"),
    "backup.problem.size": N_("size differs: {path} ({size} bytes, manifest {expected})"),
    "backup.problem.content": N_("content differs: {path}"),
    "backup.problem.extra": N_("not in the manifest: {path}"),
    "backup.problem.more": N_("... and {count} more"),
    "backup.problem.dump": N_("the dump differs from what was backed up (sha256 {digest})"),
    "backup.problem.table_missing": N_("table missing after the load: {table}"),
    "backup.problem.rows": N_("row count differs: {table} has {got}, the dump had {expected}"),
    # why a warm standby could not be refreshed or started (siaga.standby.actions)
    "standby.unknown": N_("no standby for service {service} (standbys: {known})"),
    "standby.unknown.none": N_("no standby for service {service}: no standby is configured"),
    "standby.unverified": N_("no verified snapshot of job {job} on {repository} ({count} unverified): a standby only "
                             "restores what a drill or a check verified (siaga backup drill {job})"),
    "standby.paths": N_("snapshot {snapshot} holds {paths}, not {wanted}"),
    "standby.real_folder": N_("{path} is a real folder: siaga keeps a standby web root as a symlink (move it away)"),
    "standby.no_folder": N_("snapshot {snapshot} restored no folder {path}"),
    "standby.database_url": N_("standby {service}: database_url cannot be used: {error}"),
    "standby.database_name": N_("standby {service}: name the database in database_url (…/dbname)"),
    "standby.command.start": N_("standby {service}: its command cannot start: {error}"),
    "standby.command.timeout": N_("standby {service}: its command ran over {limit_s}"),
    "standby.command.exit": N_("standby {service}: its command ended with exit code {code}: {output}"),
    "standby.no_files_job": N_("no backup job with paths protects service {service}"),
    "standby.no_database_job": N_("no backup job with a database protects service {service}"),
    # warm standbys (siaga.standby.freshness)
    "standby.stale": N_("the standby of {service} serves data {age_s} old, over its RPO of {rpo_s}"),
    "standby.stale.none": N_("the standby of {service} has not been restored yet (RPO {rpo_s})"),
    "standby.failed": N_("refreshing the standby of {service} failed: {error}"),
    "standby.check": N_("the standby of {service} does not answer its checks: {error}"),
    # why an alert or incident action a person asked for cannot be done (siaga.alerts.store, .lifecycle, AlertError)
    "alert.no_such": N_("no alert #{alert}"),
    "alert.no_such_incident": N_("no incident #{incident}"),
    "alert.resolved_already": N_("alert #{alert} is already resolved"),
    "alert.acknowledged_already": N_("alert #{alert} was already acknowledged by {by}"),
    "alert.not_open_here": N_("alert #{alert} is not open here"),
    "alert.action_failed": N_("alert #{alert} cannot be changed now: the log of siaga says why"),
    # the same of a watched room's alert, acknowledged at the colocation (siaga.peers.acks)
    "alert.remote.no_such": N_("no alert #{alert} in the record of {site}"),
    "alert.remote.resolved_already": N_("alert #{alert} of {site} is already resolved"),
    "alert.remote.acknowledged_already": N_("alert #{alert} of {site} was already acknowledged by {by}"),
    "alert.remote.on_its_way": N_("alert #{alert} of {site} was already acknowledged here by {by}; on its way to "
                                  "the room"),
    # why a one-tap acknowledgement link did nothing (siaga.notify.service), after "This link cannot be used:"
    "ack_link.not_running": N_("the alert manager is not running"),
    "ack_link.unknown_message": N_("unknown message"),
    "ack_link.used": N_("link already used"),
    "ack_link.notify_not_running": N_("notifications are not running here (no channels configured)"),
    # why a signed link (a one-tap acknowledgement, a runbook's approval) cannot be used (siaga.notify.ack
    # TokenError), after "This link cannot be used:" or "This approval cannot be used:"
    "link.malformed": N_("malformed link"),
    "link.not_signed": N_("link not signed by this siaga"),
    "link.expired": N_("link expired"),
    # why a runbook's approval counts for nothing (siaga.runbooks.approval Approval.refused), after the same
    "approval.no_such_runbook": N_("no such runbook"),
    "approval.group_link": N_("this link was sent to a group: approve with your own link or on Telegram"),
    "approval.no_such_person": N_("no such person"),
    "approval.used": N_("used already"),
    # why a page of the dashboard refused a request (siaga.web: an ApiError's why; the API says it in English)
    "web.csrf.login": N_("the login form is stale or was not sent by this site: reload it"),
    "web.csrf.form": N_("the form is missing its CSRF token or it is stale: reload the page"),
    "web.forbidden.role": N_("role {role} may not do this (needs {scope})"),
    "web.forbidden.token": N_("this token may not do this (needs {scope})"),
    "web.language": N_("language must be id or en"),
    "web.role": N_("role must be viewer, operator or admin"),
    "web.scope": N_("unknown scope {scope}: choose from {scopes}"),
    "web.note_empty": N_("write a note first"),
    "web.manager_not_running": N_("the alert manager is not running: alerts cannot be changed now"),
    "web.no_sensor": N_("sensor {sensor} not found"),
    "web.no_room": N_("room {room} not found"),
    "web.no_rack": N_("rack {rack} not found"),
    "web.not_watched": N_("{site} is not a room this siaga watches"),
    "web.no_page": N_("there is no page at this address"),
    "web.method": N_("this address does not take this kind of request"),
    "web.invalid": N_("{field}: this value cannot be used"),
    "web.invalid.request": N_("the request cannot be used"),
    "web.internal": N_("internal error; the server log has the details"),
    # the title of an error page of the dashboard, after its status number (siaga.web.errors STATUS_TITLES)
    "web.status.400": N_("Bad request"),
    "web.status.401": N_("Not logged in"),
    "web.status.403": N_("Forbidden"),
    "web.status.404": N_("Not found"),
    "web.status.405": N_("Method not allowed"),
    "web.status.409": N_("Conflict"),
    "web.status.410": N_("Gone"),
    "web.status.422": N_("Cannot be processed"),
    "web.status.429": N_("Too many requests"),
    "web.status.500": N_("Internal error"),
    "web.status.503": N_("Unavailable"),
    # what the admin's accounts page says was done (siaga.web.pages)
    "web.done.user_added": N_("account {name} added"),
    "web.done.role": N_("{name} is now {role}"),
    "web.done.disabled": N_("{name} disabled"),
    "web.done.enabled": N_("{name} enabled"),
    "web.done.token_created": N_("token created"),
    "web.done.token_revoked": N_("token {token} revoked"),
    # why an account or token request cannot be done (siaga.web.auth AccountError, WeakPassword)
    "account.bad_name": N_("invalid account name '{name}': use letters, digits, '.', '-' or '_' (at most 64)"),
    "account.unknown_role": N_("unknown role '{role}': choose viewer, operator or admin"),
    "account.unknown_language": N_("unknown language '{language}': choose id or en"),
    "account.exists": N_("an account named '{name}' exists already"),
    "account.no_such": N_("no account named '{name}'"),
    "account.last_admin_role": N_("the last admin cannot lose the admin role"),
    "account.last_admin_disabled": N_("the last admin cannot be disabled"),
    "account.password_short": N_("the password must have at least {characters} characters"),
    "account.password_is_name": N_("the password must not be the account name"),
    "account.token_no_scope": N_("a token needs at least one scope: read, ack, admin or ingest"),
    "account.token_name": N_("a token needs a name of 1 to 100 characters"),
    "account.no_such_token": N_("no token with id {token}"),
    # what siaga writes on an alert's timeline (notes of siaga itself, never a person's words)
    "note.stored_late": N_("stored late"),
    "note.witness_joined": N_("also seen by siaga process {process}: one alert for all of them"),
    "note.still_seen": N_("siaga process {process} no longer sees it; other processes still do: {others}"),
    "note.witnesses_ended": N_("resolved: every siaga process that saw it has ended"),
    "note.merged_duplicate": N_("resolved at the upgrade: a second open alert of the same rule and subject"),
    "note.no_address": N_("no address on {channels}"),
    "note.folded": N_("folded into the incident of alert #{cause_alert} (its probable cause, already paged to "
                      "{told}): a follow-up to them instead of pages of its own"),
    "note.silenced": N_("maintenance window {window}: nobody is paged while it lasts"),
    "note.resumed.window": N_("pages on its own again: the maintenance window ended"),
    "note.resumed.cause": N_("pages on its own again: its probable cause is over"),
    "note.paged_by_peer": N_("{peer} senses this too and pages it: not paged here while {peer} is heard"),
    "note.resumed.peer": N_("pages here again: {peer} is no longer heard"),
    "note.withheld": N_("withheld: the alert was {alert_state} before this {msg_kind} left"),
    "note.sent": N_("{msg_kind} to {address}: sent in {latency_ms} ms"),
    "note.failed": N_("{msg_kind} to {address}: failed after {latency_ms} ms ({error})"),
    "note.demo": N_("{msg_kind} to {address}: not sent (siaga demo)"),
    "note.possibly_sent": N_("{msg_kind} to {address}: possibly sent (its sender stopped before recording it); "
                             "sent again"),
    "note.fallback": N_("fallback from {channel}"),
    "note.from_memory": N_("sent from memory: the store could not write"),
    # siaga itself
    "system.down": N_("{component} is not working"),
    "system.up": N_("{component} works again"),
    "mqtt.unreachable": N_("MQTT broker {host}:{port} unreachable for {down_s}"),
    "mqtt.reachable": N_("MQTT broker {host}:{port} reachable again"),
    "siaga.degraded": N_("siaga degraded: {component}, since {since}"),
    "siaga.recovered": N_("siaga works again: {component}"),
    "sensor.faulty.on": N_("sensor {sensor} looks faulty: {count} readings in a row refused ({reason}: {detail})"),
    "sensor.faulty.off": N_("sensor {sensor} sends valid readings again"),
    "store.unavailable": N_("siaga cannot write to its store since {since}: {error}"),
    "store.available": N_("siaga writes to its store again"),
    "peer.silent": N_("siaga at {name} silent since {since}; last known: {alert_count} open alerts ({alerts}), "
                      "{services_down} services down"),
    "peer.silent.back": N_("siaga at {name} is heard again"),
    "peer.unreachable": N_("the watching siaga {name} unreachable since {since}: backups and the public status "
                           "page are at risk"),
    "peer.unreachable.back": N_("the watching siaga {name} is reachable again"),
    "peer.uplink_down": N_("the uplink of {name} looks down since {since}: its checks fail from the room ({checks}) "
                           "but pass from here, so no service is down for the public"),
    "peer.uplink_down.back": N_("the uplink of {name} works again: its checks pass from the room"),
    "peer.service.down": N_("{service} of {name} is down since {since}, confirmed from here while siaga at {name} "
                            "is not heard: {detail}"),
    "peer.service.down.back": N_("{service} of {name} answers again from here"),
    "runbook.failed": N_("runbook {runbook} stopped: step {number} ({kind} {subject}) failed: {output}"),
    # what a runbook's steps say (siaga.runbooks.steps), kept as keys in the timeline and the audit log
    "runbook.step.timeout": N_("no result within {timeout} s"),
    "runbook.step.ssh.timeout": N_("ssh {address}: no answer within {timeout} s"),
    "runbook.step.dns.error": N_("DNS {server} could not be asked: {error}"),
    "runbook.step.dns.refused": N_("DNS {server}: update refused: {rcode}"),
    "runbook.step.dns.pointed": N_("{name} now points at {address} (was {old})"),
    "runbook.step.dns.pointed_ttl": N_("{name} now points at {address} (was {old}); clients may still use the "
                                       "old address for up to {ttl} s"),
    "runbook.step.wait.open": N_("{address}:{port} answers after {seconds} s"),
    "runbook.step.wait.closed": N_("{address}:{port} is closed after {seconds} s"),
    "runbook.step.wait.not_open": N_("{address}:{port} still does not answer after {timeout} s"),
    "runbook.step.wait.not_closed": N_("{address}:{port} still answers after {timeout} s"),
    "runbook.step.standby.none": N_("no standby can be activated here for {service} (standbys: in siaga.yaml)"),
    "runbook.step.standby.timeout": N_("the standby of {service} did not answer within {timeout} s"),
    "runbook.step.power.done": N_("{device}: {check} after {seconds} s"),
    "runbook.step.power.timeout": N_("{device}: not {check} after {timeout} s"),
    "runbook.step.power.timeout_last": N_("{device}: not {check} after {timeout} s (last: {error})"),
    "runbook.check.power.off": N_("power off (BMC)"),
    "runbook.check.power.on": N_("power on (BMC)"),
    "runbook.check.ping.off": N_("{address} silent to ping"),
    "runbook.check.ping.on": N_("{address} answering ping"),
    "runbook.check.port.off": N_("{address}:{port} closed"),
    "runbook.check.port.on": N_("{address}:{port} open"),
    "runbook.step.redfish.sent": N_("Redfish {url}{path}: GracefulShutdown sent (it was {state})"),
    "runbook.step.redfish.off": N_("Redfish {url}{path}: already off"),
    "runbook.step.redfish.powering_off": N_("Redfish {url}{path}: already powering off"),
    "runbook.step.ipmi.sent": N_("IPMI {address}:{port}: soft power off sent (it was {state})"),
    "runbook.step.ipmi.off": N_("IPMI {address}:{port}: already off"),
    "runbook.bmc.redfish.refused": N_("Redfish {url}: refused: wrong user or password, or {user} may not do this"),
    "runbook.bmc.redfish.no_system": N_("Redfish {url}: no system {path} (set bmc.system)"),
    "runbook.bmc.redfish.systems": N_("Redfish {url}: {count} systems ({systems}): set bmc.system to one"),
    "runbook.bmc.ipmi.timeout": N_("IPMI {address}:{port}: no answer within {timeout} s"),
    "runbook.bmc.ipmi.exit": N_("IPMI {address}:{port}: ipmitool ended with exit code {code}"),
    "runbook.bmc.missing": N_("{error}: install {program} (Debian: {hint})"),
    "standby.step.answers": N_("the standby of {service} answers its checks after {seconds} s (files {files}, "
                               "database {database})"),
    "standby.step.failed": N_("the standby of {service} failed: {error}"),
    "standby.step.no_checks": N_("the standby of {service} has no check to ask (checks: with service {service})"),
    "standby.step.check_fails": N_("check {check} fails: {detail}"),
    "standby.step.checks_pass": N_("the standby of {service}: {count} checks pass"),
    "runbook.drill.step_failed": N_("step {number} ({kind} {subject}): {output}"),
    "runbook.drill.answer_failed": N_("{what} failed: {output}"),
    "runbook.drill.name_error": N_("{name} could not be asked: {error}"),
    "runbook.drill.name_answers": N_("{name} answers {found}"),
    "runbook.drill.name_wrong": N_("{name} answers {found}, not {address}"),
    "runbook.proposed": N_("runbook {runbook} waits for approval ({approvals} needed) after {rule} on {subject}: "
                           "approve at {url}"),
    # what `siaga config check` says of a config file (siaga.config), after file:line: field:
    "config.yaml": N_("not valid YAML: {error}"),
    "config.empty": N_("the file is empty: start from `siaga init`"),
    "config.top_level": N_("the top level must be a mapping of sections"),
    "config.no_file": N_("no such file: create one with `siaga init`"),
    "config.unreadable": N_("cannot read the file: {error}"),
    "config.duplicate": N_("key {key} appears twice (first on line {first})"),
    "config.alias_loop": N_("a YAML alias refers to the node that holds it (a loop)"),
    "config.alias_bomb": N_("YAML aliases (*name) repeat more than {count} values: refused (a \"billion laughs\" "
                            "file?); write the repeated parts out or use fewer aliases"),
    "config.inline_secret": N_("inline secret: move it to a file ({file}) or an environment variable ({env})"),
    "config.inline_url_password": N_("inline password in a URL: put the whole URL in an environment variable, "
                                     "e.g. {env}"),
    "config.missing": N_("required but missing"),
    "config.unknown_key": N_("unknown key {key}"),
    "config.unknown_key.close": N_("unknown key {key}; did you mean {close}?"),
    "config.unknown_key.known": N_("unknown key {key}; known keys: {known}"),
    "config.duplicate_id": N_("duplicate id {id}: already used by {other}"),
    "config.ref.room": N_("unknown room {value}"),
    "config.ref.room.close": N_("unknown room {value}; did you mean {close}?"),
    "config.ref.rack": N_("unknown rack {value}"),
    "config.ref.rack.close": N_("unknown rack {value}; did you mean {close}?"),
    "config.ref.device": N_("unknown device {value}"),
    "config.ref.device.close": N_("unknown device {value}; did you mean {close}?"),
    "config.ref.service": N_("unknown service {value}"),
    "config.ref.service.close": N_("unknown service {value}; did you mean {close}?"),
    "config.ref.target": N_("unknown target {value}"),
    "config.ref.target.close": N_("unknown target {value}; did you mean {close}?"),
    "config.target.path": N_("a {type} target needs a path"),
    "config.target.host": N_("an sftp target needs a host"),
    "config.target.url": N_("a {type} target needs a url"),
    "config.target.scheme": N_("a {type} url starts with {scheme}"),
    "config.job.what": N_("say what to back up: paths, or a database"),
    "config.job.both": N_("a job backs up paths or a database, not both: make two jobs"),
    "config.job.copy_to_self": N_("copy_to repeats the job's own target"),
    "config.standby.what": N_("say what to keep warm: web_root, database_url or both"),
    "config.standby.twice": N_("service {service} already has a standby: {other}"),
    "config.standby.files_path": N_("{path} is not a path of job {job}: {paths}"),
    "config.standby.none": N_("service {service} has no standby (standbys: in siaga.yaml)"),
    "config.duration": N_("not a duration: {value} (write 90s, 5m, 1h30m, 2d or 1w, or a number of seconds)"),
    "config.duration.negative": N_("a duration cannot be negative"),
    "config.duration.order": N_("not a duration: {value} (units from the largest down, each once: 1h30m)"),
    "config.secret.env_only": N_("{name} holds a secret: write it as an environment variable reference ({env}) or "
                                 "put it in a file ({file})"),
    "config.secret.both": N_("set {name} or {file}, not both"),
    "config.secret.none": N_("{file} (a file holding it) or {env} is required"),
    "config.check.url": N_("not an http(s) URL: {value}"),
    "config.check.status": N_("{code} is not an HTTP status code (100-599)"),
    "config.check.json_path": N_("not a JSONPath expression: {value} ({error})"),
    "config.check.address": N_("not an address[:port]: {value}"),
    "config.check.port": N_("port {port} out of range"),
    "config.check.record_type": N_("unknown record type {value}; choose one of {known}"),
    "config.check.resolver": N_("resolver must be an IP address[:port], got {value}"),
    "config.check.days_order": N_("critical_days must not exceed warning_days"),
    "config.check.duplicate_id": N_("duplicate check id {id}: already used by {other} (give one of them an id)"),
    "config.check.ping_id": N_("ping id {id} already used by {other}"),
    "config.maintenance.order": N_("ends_at must be after starts_at"),
    "config.peer.url": N_("the peer's URL must start with http:// or https://"),
    "config.peer.status_host": N_("status_host is a host name only (status.example.go.id), without scheme, port or "
                                  "path"),
    "config.peer.window": N_("silence_window must be longer than heartbeat_interval"),
    "config.peer.heartbeat": N_("heartbeat_interval must be at least 100ms"),
    "config.peer.probes_role": N_("probes and agree belong to the watching siaga's entry for the room (role: "
                                  "watches)"),
    "config.peer.probe_ids": N_("duplicate probe ids: {ids}"),
    "config.peer.status_host_role": N_("status_host is for a room this siaga watches (role: watches)"),
    "config.peer.site_id": N_("site_id is required when peers are listed (how the peers name this siaga)"),
    "config.peer.duplicate": N_("duplicate peer id {id}"),
    "config.peer.own_id": N_("peer id {id} is this siaga's own site_id"),
    "config.peer.same_status_host": N_("two rooms have the same status_host"),
    "config.source.mqtt_where": N_("say where its readings arrive: set topic, or gateway (an id of mqtt.gateways)"),
    "config.source.mqtt_both": N_("set topic or gateway, not both"),
    "config.source.http_one": N_("set only one of token, token_file, token_sha256 or gateway (got {given})"),
    "config.source.snmp_metric": N_("set either metric (of a profile) or oid"),
    "config.source.snmp_auth": N_("auth_protocol and auth_password_file go together (or auth_password: {env})"),
    "config.source.snmp_priv": N_("priv_protocol and priv_password_file go together (or priv_password: {env})"),
    "config.source.snmp_priv_auth": N_("privacy needs authentication: set auth_protocol and auth_password_file too"),
    "config.source.snmp_v3_block": N_("version v3 needs a v3: block (user, auth_protocol, ...)"),
    "config.source.snmp_v3_version": N_("a v3: block needs version: v3"),
    "config.source.gateway_token": N_("set exactly one of token_file or token_sha256 (or token: {env})"),
    "config.source.type_missing": N_("say which source: type is one of {known}"),
    "config.source.type_unknown": N_("unknown source type {type}; choose one of {known}"),
    "config.source.type_unknown.close": N_("unknown source type {type}; did you mean {close}?"),
    "config.source.not_built.modbus": N_("source type {type} is not built yet: bridge the device to MQTT (e.g. with "
                                         "modbus2mqtt) and use type: mqtt"),
    "config.topic.invalid": N_("not a valid MQTT topic"),
    "config.topic.wildcards": N_("a sensor's topic cannot hold the wildcards + or # (use a gateway)"),
    "config.topic.hash": N_("'#' must be a whole last level of the topic"),
    "config.topic.plus": N_("'+' must be a whole level of the topic"),
    "config.ref.channel": N_("unknown channel {value}"),
    "config.ref.channel.close": N_("unknown channel {value}; did you mean {close}?"),
    "config.ref.person": N_("unknown person {value}"),
    "config.ref.person.close": N_("unknown person {value}; did you mean {close}?"),
    "config.ref.group": N_("unknown group {value}"),
    "config.ref.group.close": N_("unknown group {value}; did you mean {close}?"),
    "config.ref.window": N_("unknown time window {value}"),
    "config.ref.window.close": N_("unknown time window {value}; did you mean {close}?"),
    "config.ref.place": N_("unknown room, rack or device {value}"),
    "config.ref.place.close": N_("unknown room, rack or device {value}; did you mean {close}?"),
    "config.ref.kind.close": N_("unknown sensor kind {value}; did you mean {close}?"),
    "config.ref.kind.choose": N_("unknown sensor kind {value}; choose one of {known}"),
    "config.ref.zone.close": N_("unknown zone {value}; did you mean {close}?"),
    "config.ref.zone.choose": N_("unknown zone {value}; choose one of {known}"),
    "config.not_telegram": N_("channel {channel} is not a telegram channel"),
    "config.repeat_short": N_("repeat_every {every} is shorter than notification.storm.group_window {window}: "
                              "reminders of one incident cannot leave more often than the window; make repeat_every "
                              "at least {window} or shorten the window"),
    "config.time_zone": N_("unknown time zone {value} (use an IANA name such as Asia/Makassar)"),
    "config.check_in.periodic": N_("check_in is for sensors that report on change: add reports: on_change to sensor "
                                   "{sensor}, or drop check_in (a periodic sensor is judged by interval_s)"),
    "config.check_in.short": N_("check_in {check_in} of sensor {sensor} is shorter than its reporting interval "
                                "({interval}): a device that reports on change checks in less often, not more"),
    "config.ref.sensor": N_("unknown sensor {value}"),
    "config.ref.sensor.close": N_("unknown sensor {value}; did you mean {close}?"),
    "config.ref.dns_server": N_("unknown DNS server {value}"),
    "config.ref.dns_server.close": N_("unknown DNS server {value}; did you mean {close}?"),
    "config.rules.clear_above": N_("clear_above ({clear}) must not be above `above` ({limit})"),
    "config.rules.clear_below": N_("clear_below ({clear}) must not be below `below` ({limit})"),
    "config.rules.on_off": N_("{kind} is an on/off kind: it has no thresholds"),
    "config.rules.override_one": N_("an override names exactly one of room, rack or sensor"),
    "config.bmc.redfish_url": N_("a Redfish BMC's address is its URL: https://..."),
    "config.bmc.ipmi_address": N_("an IPMI BMC's address is a name or IP address, not a URL"),
    "config.host.how": N_("set key_file and known_hosts_file (SSH) or bmc (Redfish or IPMI)"),
    "config.host.ssh": N_("a shutdown over SSH needs address, key_file and known_hosts_file"),
    "config.host.via": N_("via: {via} needs a bmc with protocol: {via}"),
    "config.host.power_check": N_("off_check: power needs a bmc"),
    "config.host.address_check": N_("off_check: {check} needs the host's address"),
    "config.host.twice": N_("device {device} is listed twice"),
    "config.host.missing": N_("device {device} is not in runbooks.hosts"),
    "config.host.no_ssh": N_("host {device} has no address, key_file and known_hosts_file: siaga cannot ssh to it"),
    "config.notify.meta": N_("provider meta needs phone_number_id"),
    "config.notify.gateway": N_("provider gateway needs url"),
    "config.notify.url": N_("must be an http:// or https:// URL"),
    "config.notify.time_of_day": N_("not a time of day: {value} (write HH:MM, e.g. 07:30)"),
    "config.notify.step_who": N_("a step tells someone: give people or groups"),
    "config.tile_outside": N_("tile {tile} is outside room {room}'s grid of {columns} columns and {rows} rows"),
    "config.tile_taken": N_("rack {rack} already stands on this tile"),
    "config.u_without_rack": N_("a rack unit needs a rack: set rack or remove u"),
    "config.rack_elsewhere": N_("rack {rack} stands in room {room}, not {written}"),
    "config.units_overflow": N_("units {units} do not fit in rack {rack} of {height}"),
    "config.unit_taken": N_("{unit} of rack {rack} is already taken by {device}"),
    "config.depends_on_itself": N_("a service cannot depend on itself"),
    "config.dependency_cycle": N_("dependency cycle: {cycle}"),
    "config.sensor_nowhere": N_("say where it hangs: room, rack (with zone) or device"),
    "config.zone_without_rack": N_("a zone is a place on a rack: set rack too"),
    "config.cron": N_("not a cron expression: {value} (five fields: minute hour day month weekday)"),
    "config.secret.env_unset": N_("environment variable {name} is not set"),
    "config.secret.no_file": N_("file {path} does not exist on this machine"),
    "config.secret.not_file": N_("{path} is not a file"),
    "config.secret.unreadable": N_("file {path} cannot be read by this user"),
    "config.value.greater_than": N_("must be greater than {limit}"),
    "config.value.greater_than.got": N_("must be greater than {limit} (got {got})"),
    "config.value.greater_than_equal": N_("must be at least {limit}"),
    "config.value.greater_than_equal.got": N_("must be at least {limit} (got {got})"),
    "config.value.less_than": N_("must be less than {limit}"),
    "config.value.less_than.got": N_("must be less than {limit} (got {got})"),
    "config.value.less_than_equal": N_("must be at most {limit}"),
    "config.value.less_than_equal.got": N_("must be at most {limit} (got {got})"),
    "config.value.string_too_short": N_("must have at least {limit} characters"),
    "config.value.string_too_short.got": N_("must have at least {limit} characters (got {got})"),
    "config.value.string_too_long": N_("must have at most {limit} characters"),
    "config.value.string_too_long.got": N_("must have at most {limit} characters (got {got})"),
    "config.value.too_short": N_("must have at least {limit} items"),
    "config.value.too_short.got": N_("must have at least {limit} items (got {got})"),
    "config.value.too_long": N_("must have at most {limit} items"),
    "config.value.too_long.got": N_("must have at most {limit} items (got {got})"),
    "config.value.literal_error": N_("must be {limit}"),
    "config.value.literal_error.got": N_("must be {limit} (got {got})"),
    "config.value.enum": N_("must be {limit}"),
    "config.value.enum.got": N_("must be {limit} (got {got})"),
    "config.value.string_pattern_mismatch": N_("must match the pattern {limit}"),
    "config.value.string_pattern_mismatch.got": N_("must match the pattern {limit} (got {got})"),
    "config.value.int_parsing": N_("must be a whole number"),
    "config.value.int_parsing.got": N_("must be a whole number (got {got})"),
    "config.value.int_type": N_("must be a whole number"),
    "config.value.int_type.got": N_("must be a whole number (got {got})"),
    "config.value.int_from_float": N_("must be a whole number, without a fraction"),
    "config.value.int_from_float.got": N_("must be a whole number, without a fraction (got {got})"),
    "config.value.float_parsing": N_("must be a number"),
    "config.value.float_parsing.got": N_("must be a number (got {got})"),
    "config.value.float_type": N_("must be a number"),
    "config.value.float_type.got": N_("must be a number (got {got})"),
    "config.value.bool_parsing": N_("must be true or false"),
    "config.value.bool_parsing.got": N_("must be true or false (got {got})"),
    "config.value.bool_type": N_("must be true or false"),
    "config.value.bool_type.got": N_("must be true or false (got {got})"),
    "config.value.string_type": N_("must be text"),
    "config.value.string_type.got": N_("must be text (got {got})"),
    "config.value.list_type": N_("must be a list"),
    "config.value.list_type.got": N_("must be a list (got {got})"),
    "config.value.dict_type": N_("must be a mapping (key: value)"),
    "config.value.dict_type.got": N_("must be a mapping (key: value) (got {got})"),
    "config.value.model_type": N_("must be a mapping (key: value)"),
    "config.value.model_type.got": N_("must be a mapping (key: value) (got {got})"),
    "config.value.model_attributes_type": N_("must be a mapping (key: value)"),
    "config.value.model_attributes_type.got": N_("must be a mapping (key: value) (got {got})"),
    "alert.generic": N_("{rule} on {subject}"),
}
"""Every message an alert or incident can carry: key -> English text with ``{fields}`` (translated by the catalogs)."""

RULE_TITLES: dict[str, str] = {
    "leak": N_("Water leak"),
    "smoke": N_("Smoke detected"),
    "door": N_("Door open"),
    "door.open": N_("Door open"),
    "temperature.high": N_("High temperature"),
    "temperature.low": N_("Low temperature"),
    "temperature.rate": N_("Temperature changing fast"),
    "humidity.high": N_("High humidity"),
    "humidity.low": N_("Low humidity"),
    "humidity.rate": N_("Humidity changing fast"),
    "dewpoint": N_("Condensation risk"),
    "sensor.stale": N_("Sensor silent"),
    "sensor.offline": N_("Sensor silent"),
    "sensor.faulty": N_("Sensor faulty"),
    "ups.on_battery": N_("UPS on battery"),
    "ups_on_battery": N_("UPS on battery"),
    "ups.battery_low": N_("UPS battery low"),
    "ups.runtime_low": N_("UPS runtime low"),
    "service.down": N_("Service down"),
    "service.slow": N_("Service slow"),
    "tls.expiry": N_("Certificate about to expire"),
    "backup.rpo": N_("Backup too old"),
    "backup.failed": N_("Backup failed"),
    "backup.missed": N_("Backup did not run"),
    "backup.drill": N_("Restore drill failed"),
    "backup.rto": N_("Restore too slow"),
    "system.down": N_("siaga component down"),
    "siaga.degraded": N_("siaga degraded"),  # a component of siaga keeps failing (siaga.runtime.degraded)
    "store.unavailable": N_("siaga cannot write to its store"),  # pages go on from memory (alerts.manager)
    "mqtt.unreachable": N_("MQTT broker unreachable"),
    "peer.silent": N_("Watched siaga silent"),
    "peer.unreachable": N_("Watching siaga unreachable"),
    "peer.uplink_down": N_("Room uplink down"),
    "peer.service.down": N_("Service down (seen from the colocation)"),
    "runbook.proposed": N_("Runbook awaiting approval"),  # an approve runbook was triggered
    "runbook.failed": N_("Runbook failed"),  # a step of a protective runbook failed (siaga.runbooks.engine)
    "test": N_("Test message"),
}
"""A rule's short title ("Water leak"); a rule not listed falls back to its family (``leak.x`` -> ``leak``)."""

EXTRA_KINDS: dict[str, str] = {"dewpoint": N_("dew point")}

BACKUP_CAUSES: dict[str, str] = {
    "failed": N_("the last run failed"),
    "missed": N_("a scheduled run did not start"),
    "late": N_("no newer good run"),
}

ALERT_STATE_WORDS: dict[str, str] = {
    "acknowledged": N_("acknowledged"),
    "resolved": N_("resolved"),
    "silenced": N_("silenced"),
    "firing": N_("firing"),
}

MESSAGE_KIND_WORDS: dict[str, str] = {
    "page": N_("page"),
    "repeat": N_("reminder"),
    "repage": N_("repeated page"),
    "acknowledged": N_("acknowledgement notice"),
    "resolved": N_("all-clear notice"),
    "followup": N_("follow-up"),
    "test": N_("test message"),
}

OUTCOME_WORDS: dict[str, str] = {
    "ok": N_("sent"),
    "error": N_("failed"),
    "demo": N_("not sent (siaga demo)"),
    "possibly_sent": N_("possibly sent"),
}

WORDS: dict[str, dict[str, str]] = {
    "what": {**SENSOR_KIND, **EXTRA_KINDS},
    "alert_state": ALERT_STATE_WORDS,
    "msg_kind": MESSAGE_KIND_WORDS,
    "reason": REFUSAL_REASON,
    "cause": BACKUP_CAUSES,
    "cause_rule": RULE_TITLES,
}
"""Parameters whose value is a word of a table (translated), by parameter name."""

TIMES = frozenset({"last_seen", "slot", "cause_since", "since", "at"})
MEASURES = frozenset({"value", "threshold"})
NUMBERS = frozenset({"days_left", "count", "alert_count", "services_down", "latency_ms", "limit_ms", "seconds",
                     "timeout", "ttl"})
COMPUTED = frozenset({"where"})


def field_kind(name: str) -> str:
    """How the parameter ``name`` is shown: time, duration, measure, number, word, computed or text."""
    if name in COMPUTED:
        return "computed"
    if name in TIMES:
        return "time"
    if name.endswith("_s"):
        return "duration"
    if name in MEASURES:
        return "measure"
    if name in NUMBERS:
        return "number"
    if name in WORDS:
        return "word"
    return "text"


def word(table: Mapping[str, str], value: str | None, lang: str) -> str:
    """``value`` looked up in a table of words (:data:`MESSAGE_KIND_WORDS`...) and translated; as it is when
    the table has no such word."""
    if not value:
        return ""
    label = table.get(value)
    return translator(lang).gettext(label) if label else value


@functools.lru_cache(maxsize=1024)
def fields_of(template: str) -> tuple[str, ...]:
    return tuple(name for _lit, name, _spec, _conv in string.Formatter().parse(template) if name)


def rule_title(rule: str, lang: str) -> str:
    """``leak`` -> "Kebocoran air" / "Water leak"; an unknown rule comes back as it is."""
    label = RULE_TITLES.get(rule) or RULE_TITLES.get(rule.split(".")[0])
    return translator(lang).gettext(label) if label else rule


def where(params: Mapping[str, Any], g: Callable[[str], str]) -> str:
    """`` (R1, lantai)``: the rack and zone, else the room, in parentheses; empty when none is known."""
    rack, zone, room = params.get("rack"), params.get("zone"), params.get("room")
    parts: list[str] = []
    if rack:
        parts.append(str(rack))
        if zone:
            parts.append(g(ZONE.get(str(zone), str(zone))))
    elif room:
        parts.append(str(room))
    return f" ({', '.join(parts)})" if parts else ""


def _time(value: Any, zone: ZoneInfo, lang: str) -> str:
    try:
        at = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return local_time(at, zone, lang)


def _field(name: str, params: Mapping[str, Any], lang: str, zone: ZoneInfo, g: Callable[[str], str]) -> str:
    kind = field_kind(name)
    if kind == "computed":
        return where(params, g)
    value = params.get(name)
    if value is None or value == "":
        return "?"
    if isinstance(value, str) and NOTE_MARK in value:  # a message inside (a check's failure in {detail})
        return note_text(value, lang, zone) or ""
    if kind == "time":
        return _time(value, zone, lang)
    if kind == "word":
        label = WORDS[name].get(str(value))
        if name == "cause_rule" and label is None:
            return rule_title(str(value), lang)
        return g(label) if label else str(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if kind == "duration":
        return duration(float(value), lang)
    if kind == "measure":
        return measure(float(value), str(params.get("unit") or ""), lang)
    if kind == "number":
        return number(float(value), lang)
    return str(value)


def render(message: Message, lang: str, zone: ZoneInfo) -> str:
    """``message`` worded for a reader of ``lang`` (times in ``zone``). Never raises: an unknown key (written by
    a newer siaga) shows the key and its parameters, a missing parameter shows as ``?``."""
    if not message.key:
        return message.text
    template = MESSAGES.get(message.key)
    if template is None:
        shown = ", ".join(f"{k}={v}" for k, v in message.params.items())
        return f"{message.key} ({shown})" if shown else message.key
    g = translator(lang).gettext
    text = g(template)
    values = {name: _field(name, message.params, lang, zone, g) for name in fields_of(template)}
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):  # a translation naming a field the English does not have
        return template.format(**values)


# Notes on a timeline: a person's words are stored as they were written; siaga's own notes are stored as a
# message (key and parameters) behind NOTE_MARK, a control character no person types (person_note strips it),
# so every surface words them for its reader and the stored row needs no column of its own.
NOTE_MARK = "\x1e"


def note_of(message: Message) -> str:
    """``message`` as it is stored in a timeline's ``note`` column."""
    import json

    return NOTE_MARK + json.dumps(message.to_json(), ensure_ascii=False, separators=(",", ":"))


def note_message(note: str | None) -> Message | None:
    """The message a stored note carries, or None for a person's words (or no note)."""
    import json

    if not note or not note.startswith(NOTE_MARK):
        return None
    try:
        return Message.from_json(json.loads(note[len(NOTE_MARK):]))
    except (ValueError, TypeError, AttributeError):
        return Message(text=note[len(NOTE_MARK):])


def note_text(note: str | None, lang: str, zone: ZoneInfo) -> str | None:
    """A stored note worded for a reader of ``lang``: siaga's own notes rendered, a person's as written.
    Lines of several notes (a runbook step's output: what was sent, then how long the host took to be off),
    or of notes among a program's own lines, are rendered line by line."""
    if note and "\n" in note and NOTE_MARK in note:
        return "\n".join(note_text(line, lang, zone) or "" for line in note.split("\n"))
    message = note_message(note)
    return render(message, lang, zone) if message is not None else note


def person_note(text: str | None) -> str | None:
    """What a person wrote, made safe to store: control characters (the note mark among them) removed."""
    if text is None:
        return None
    return "".join(ch for ch in text if ch in "\n\t" or ch >= " ")
