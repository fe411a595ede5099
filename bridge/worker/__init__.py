"""The worker: the loop that claims due jobs from the database queue and runs them
(`loop`, `running`, `scheduling`), settles their outcome (`settle`), the survey's timed jobs
(`survey_jobs`), reconciling with Okdesk (`reconcile`), housekeeping and the purge
(`housekeeping`, which also opens the week's digest), and retrying what failed (`retrying`).
The team's messages are run by `bridge.team`. `python -m bridge.worker` runs it alone.

May import: `bridge.config`, `bridge.rules`, `bridge.okdesk`, `bridge.outside`,
`bridge.survey`, `bridge.team`, `bot`, `storage`, `outbound`.
"""

__all__ = ["housekeeping", "loop", "retrying"]
