"""The room readiness audit: pure scoring of the site, rendered as text, HTML or PDF."""

from siaga.audit.scoring import AuditFacts, AuditResult, DrillFact, Finding, Status, audit

__all__ = ["AuditFacts", "AuditResult", "DrillFact", "Finding", "Status", "audit"]
