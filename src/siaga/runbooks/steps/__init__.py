"""The step kinds: one small module each, registered in :data:`STEP_KINDS` (kind -> what it does).

To add a kind (a warm-standby restore): its config model in
``siaga.config.runbooks`` (``STEP_MODELS``), its planning in ``siaga.runbooks.plan``, and one module here
with ``async def run(action, ctx) -> Outcome``, added to the table below.

=========  ==============================================  =====================
kind       what it does                                    module
=========  ==============================================  =====================
shutdown   SSH, Redfish or IPMI; then wait until it is off  ``steps/power.py``
ssh        a command on a host over SSH                    ``steps/ssh.py``
dns        RFC 2136 update signed with TSIG, TTL reported  ``steps/dns.py``
wait       a TCP port open or closed                       ``steps/wait.py``
power      a host off (or on) by its off check             ``steps/power.py``
standby    a service's warm standby takes over, checked    ``steps/standby.py``
=========  ==============================================  =====================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from siaga.runbooks.plan import Action
from siaga.runbooks.steps import dns, power, ssh, standby, wait
from siaga.runbooks.steps.base import Outcome, StepContext

StepRun = Callable[[Action, StepContext], Awaitable[Outcome]]

STEP_KINDS: dict[str, StepRun] = {
    "shutdown": power.run_shutdown,
    "ssh": ssh.run,
    "dns": dns.run,
    "wait": wait.run,
    "power": power.run_wait,
    "standby": standby.run,
}

__all__ = ["STEP_KINDS", "Outcome", "StepContext", "StepRun"]
