"""The one error tree of siaga: every error siaga raises on purpose is a :class:`SiagaError`.

``retryable`` is the one answer to "can asking again (soon) help?": a broker or a repository that
did not answer, an HTTP 503, a locked repository may come back; a wrong password, an expired
certificate, a bad config will not. Code that retries reads ``exc.retryable``; code that reports
reads ``str(exc)``, one line a person can act on. Errors that are also a ``ValueError`` or a
``LookupError`` stay so (``except ValueError`` still catches them).

    SiagaError                       retryable=False unless said
     ├── TooDeep                     siaga.jsonsafe    (a ValueError) JSON nested deeper than allowed
     ├── UnknownLanguage             siaga.i18n        (a ValueError) no catalog for that language
     ├── SecretError                 siaga.config      a secret the config points at cannot be had
     ├── ConfigError                 siaga.config      the config cannot be used; ``problems`` says why
     ├── Refusal                     siaga.config      (a ValueError) a validator's reason as a message key
     ├── TargetError                 siaga.inventory   (a LookupError) a target that cannot be found
     │    ├── UnknownTarget                              no such id (``choices``: did you mean)
     │    ├── AmbiguousTarget                            an id used in two sections: say ``kind:id``
     │    └── WrongKind                                  found, but not of the kind asked for
     ├── StoreError                  siaga.store       the database cannot be used
     ├── StoreAway                   siaga.readings    (a RuntimeError) the store failed moments ago:
     │                                                   readings spooled              retryable=True
     ├── AlertError                  siaga.alerts      an alert or incident action that cannot be done
     │    └── NoSuchAlert                                the alert or incident named does not exist (404)
     ├── LifecycleError              siaga.alerts      what was asked cannot be done to this alert
     ├── PayloadError                siaga.sources     (a ValueError) a payload that cannot be read
     ├── PushError                   siaga.sources     an HTTP push refused, with its status
     ├── ScenarioError               siaga.sources     a simulator scenario that cannot be used
     ├── CheckFailed                 siaga.checks      a target is not well       retryable=True unless said
     ├── ResticError                 siaga.backup      restic failed; ``kind`` says how;
     │                                                   retryable when locked, unreachable or interrupted
     ├── BackupError                 siaga.backup      a backup step failed; ``kind``: usage, config, ...
     ├── ProcessStartError           siaga.backup      (an OSError) a program that could not be started
     ├── ChannelError                siaga.notify      a channel that cannot be used as configured
     ├── DeliveryError               siaga.notify      sending failed                retryable=True unless said
     ├── BotApiError                 siaga.notify      the Telegram Bot API refused or did not answer
     ├── TokenError                  siaga.notify      a signed link (acknowledgement, approval) that cannot
     │                                                   be used; ``why`` says why as a message key
     ├── RecordError                 siaga.notify      an unknown or duplicate record id
     ├── ReportError                 siaga.reports     a report that cannot be made
     ├── PdfUnavailable              siaga.reports     WeasyPrint (or Pango) is missing
     ├── BmcError                    siaga.runbooks    a BMC that refused, did not answer (retryable=True)
     │                                                   or cannot be used as configured
     ├── SignatureRefused            siaga.peers       a peer request not signed by a known peer, stale
     │                                                   or replayed; ``reason`` says which
     ├── DrillRefused                siaga.runbooks    a runbook drill that would touch production
     ├── DocumentError               siaga.peers       (a ValueError) a room's status page unreadable
     ├── LeaseLost                   siaga.cluster     a role's write when its lease is no longer held here
     ├── AlreadyServing              siaga.cluster     a second siaga serve on one SQLite file
     ├── ComponentError              siaga.errors      a component cannot start or go on (also
     │                                                   siaga.runtime.ComponentError)
     ├── ApiError                    siaga.web         an API error with its status and code
     ├── AccountError                siaga.web         (a ValueError) an account action that cannot be done;
     │                                                   ``why`` says why as a message key
     ├── UnknownScope                siaga.web         (a ValueError) a token scope siaga does not have
     └── WeakPassword                siaga.web         (a ValueError) a password too short or too plain;
                                                         ``why`` says why as a message key

Ground floor (see docs/architecture.md, "Floors"): every part may import it.
"""

from __future__ import annotations


class SiagaError(Exception):
    """An error siaga raises on purpose; ``retryable``: can asking again (soon) help?"""

    retryable: bool = False

    def __init__(self, *args: object, retryable: bool | None = None) -> None:
        super().__init__(*args)
        if retryable is not None:
            self.retryable = retryable


class ComponentError(SiagaError):
    """A component cannot start or go on: the message is one line a person can act on.

    Here (not in ``siaga.runtime``) so that a part's engine may raise it without importing the runtime;
    ``siaga.runtime.components`` re-exports it."""
