"""The rating workflow's rules, the pure core: what a survey's state may become (`workflow`),
what a webhook, an answer or a timeout means for it (`decisions`), and what a settled
write-back records (`write_back`).

Plain decisions: no HTTP, no database session, no web framework, no clock of their own. The
services load, decide here, and apply the `Change` this builds.

May import: `bridge.okdesk` (its data only), `storage` (tables and the survey's fields).
"""

__all__ = ["decisions", "workflow", "write_back"]
