"""Team triage: what a team decided each finding means, and the counts and exports that follow.

``model`` (decisions, audit entries) → ``validate`` (a change's inputs as sentences) → ``store``
(decisions and the audit trail in Redis) → ``apply`` (a report seen through the decisions) →
``vex`` (OpenVEX and ``.trivyignore.yaml`` for Trivy to agree).
"""
