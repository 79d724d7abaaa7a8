"""Protective runbooks: named, ordered steps (shutdown in dependency order, SSH commands, DNS failover,
waits) planned from the inventory (:mod:`siaga.runbooks.plan`, pure) and run by
:mod:`siaga.runbooks.engine` through the step-kind table (:mod:`siaga.runbooks.steps`). See docs/runbooks.md."""

from siaga.runbooks.plan import Action, Left, Plan, Reason, plan

__all__ = ["Action", "Left", "Plan", "Reason", "plan"]
