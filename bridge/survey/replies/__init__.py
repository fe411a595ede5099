"""What people answer: a click or a typed score (`answers`, `typed`), the follow-up question and
its answer (`followup`, `followup_comment`), a change of mind (`changes`), a text that is no
answer (`unanswerable`), and how many typed replies are checked with the portal (`checks`).

Part of the survey room: imports what `bridge.survey` may.
"""

__all__ = ["answers", "changes", "followup", "typed"]
