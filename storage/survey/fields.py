"""What a survey change is: the fields it may set, and what storage needs of the change the
workflow decided (`bridge.rules.workflow`) to apply it (`storage.survey.surveys.apply_change`)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypedDict

from storage.tables import JobKind, SurveyState


class SurveyFields(TypedDict, total=False):
    """The fields of a survey a change may set (a change never rewrites which ticket it is)."""

    state: SurveyState
    reason: str | None
    # The ticket as Okdesk showed it at the invitation (over what its webhook said).
    issue_title: str | None
    engineer: str | None
    engineer_id: int | None
    contact_id: int | None
    bitrix_user_id: int | None
    message_id: int | None
    score: int | None
    automatic: bool
    rated_by: int | None
    reply_text: str | None
    okdesk_rate: str | None
    deadline_at: datetime | None
    answered_at: datetime | None
    rating_sent_at: datetime | None
    finished_at: datetime | None
    current_issue_id: int | None
    # --- issue 10 ---
    remind_at: datetime | None
    reminded_at: datetime | None
    # Follow-up and change of mind (bridge.survey.replies.followup, bridge.survey.replies.changes).
    followup_asked_at: datetime | None
    followup_until: datetime | None
    followup_text: str | None
    followup_at: datetime | None
    followup_posted_at: datetime | None
    change_until: datetime | None
    changing: bool
    # Issue 22: a survey sent again after the purge holds personal data again.
    personal_data_purged: bool


class SurveyChange(Protocol):
    """What storage needs to apply a change the workflow decided (see `bridge.rules.workflow`)."""

    @property
    def survey_id(self) -> int: ...

    @property
    def from_states(self) -> frozenset[SurveyState]: ...

    @property
    def fields(self) -> SurveyFields: ...

    @property
    def jobs(self) -> tuple[JobKind, ...]: ...
