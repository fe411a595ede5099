"""The service's tables: surveys, the queue of outgoing work, and small bookkeeping rows.

Table models are never used as vendor payload schemas: Okdesk and Bitrix24 payloads have their
own pydantic models in `bridge.okdesk` and `bot.events`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text
from sqlmodel import Column, Field, SQLModel

from storage.columns import ROW_ID, where
from storage.columns import UTCDateTime as UTCDateTime  # re-exported: migrations use it
from storage.team.tables import TeamMessage as TeamMessage  # registered with the others


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def _when() -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


# Words: a typed reply or a follow-up answer (queries say it so, so SQLite reads the index).
WORDS = "(reply_text <> '' OR followup_text <> '')"
# Set only while due: the sweeps read due rows, and the index holds no row as NULL.
_WHILE_DUE = ("deadline_at", "remind_at", "change_until")
COMPANY = "company_name IS NOT NULL"  # the report filtered by a company, counted directly


class SurveyState(StrEnum):
    """Where a survey stands; see the state diagram in `bridge.rules.workflow`."""

    INVITING = "inviting"
    AWAITING = "awaiting"
    UNDELIVERABLE = "undeliverable"
    RATED = "rated"
    DEFAULTED = "defaulted"
    CANCELLED = "cancelled"
    FAILED = "failed"
    SKIPPED = "skipped"  # a closure nobody is asked about (`reason` says why)


class JobKind(StrEnum):
    """What a queued job does."""

    INVITE = "invite"
    SEND_RATING = "send_rating"
    CLOSE_INVITATION = "close_invitation"
    REPLY = "reply"
    VERIFY_REPLY = "verify_reply"  # a typed score whose sender is being checked
    # The one reminder, its buttons taken when it lost a race, the automatic rating's comment.
    REMIND = "remind"
    CLOSE_REMINDER = "close_reminder"
    AUTO_COMMENT = "auto_comment"
    # A follow-up (the answer to "what went wrong?"): its sender checked, then the comment.
    VERIFY_FOLLOWUP = "verify_followup"
    POST_FOLLOWUP = "post_followup"
    CHECK_BOT_DELETED = "check_bot_deleted"  # an ONIMBOTDELETE, believed once the portal agrees
    ALERT = "alert"  # the team's chat (bridge.team): a low rating's alert; the week's digest
    DIGEST = "digest"


class JobState(StrEnum):
    """A job is pending (queued or leased), done, or failed for good."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class Survey(SQLModel, table=True):
    """One request to rate one closure of one Okdesk ticket."""

    __tablename__ = "survey"
    __table_args__ = (
        Index("ix_survey_purge", "personal_data_purged", "finished_at"),
        Index("ix_survey_state_updated", "state", "updated_at"),
        # The report page's period when a filter is not counted by day (storage.reading.report).
        Index("ix_survey_report", "created_at", "is_test", "automatic", "score"),
        Index("ix_survey_company", "company_name", "created_at", **where(COMPANY)),
        Index("ix_survey_portal", "portal", "created_at", **where("portal IS NOT NULL")),
        Index("ix_survey_awaiting", "portal", **where("state = 'awaiting'")),  # for /metrics
        # People's words, newest first per score (storage.reading.report_words.written).
        Index("ix_survey_comments", "score", "id", **where(WORDS)),
        Index("ix_survey_state_test", "state", "is_test"),
        *(Index(f"ix_survey_{c}", c, **where(f"{c} IS NOT NULL")) for c in _WHILE_DUE),
    )

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=32, unique=True)
    issue_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    # issue_id while this is the ticket's current survey, NULL once it is reopened: unique.
    current_issue_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True, unique=True)
    )
    state: SurveyState = Field(sa_column=Column(String(16), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    language: str = Field(max_length=2)
    issue_title: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    engineer: str | None = Field(default=None, max_length=300)
    # What reports group by, as the closure webhook named them, and the portal the person was
    # asked in (kept after the purge: the support team, the client company, not the person).
    engineer_group: str | None = Field(default=None, max_length=300)
    portal: int | None = None
    company_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    company_name: str | None = Field(default=None, max_length=300)
    type_code: str | None = Field(default=None, max_length=64)
    priority_code: str | None = Field(default=None, max_length=64)
    # A test invitation (`bridge.admin send-test`): thanked, never written to Okdesk, unreported.
    is_test: bool = False
    contact_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    bitrix_user_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True, index=True)
    )
    message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    score: int | None = None
    automatic: bool = False
    rated_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    reply_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    okdesk_rate: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Set only while the survey waits for an answer, so the timeout sweep reads due rows only.
    deadline_at: datetime | None = _when()
    answered_at: datetime | None = _when()
    rating_sent_at: datetime | None = _when()
    finished_at: datetime | None = _when()
    personal_data_purged: bool = False
    # When the one reminder is due (until the sweep looked at it), when queued: at most once.
    remind_at: datetime | None = _when()
    reminded_at: datetime | None = _when()
    # The engineer's Okdesk id (the automatic comment's author, or OKDESK_COMMENT_AUTHOR_ID).
    engineer_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # --- follow-up and change of mind (bridge.survey.replies: followup, changes) ---
    # The question after a rating ("what went wrong?") was asked, and is open until then.
    followup_asked_at: datetime | None = _when()
    followup_until: datetime | None = _when()
    # The person's answer to it, kept with the survey, and when Okdesk got it as a comment.
    followup_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    followup_at: datetime | None = _when()
    followup_posted_at: datetime | None = _when()
    followup_answers: int = 0  # answers kept: the question stays open (issue 23, point 10)
    # While set, the thank-you carries «Изменить оценку»; the housekeeping chore removes the
    # button when it passes. `changing`: the person pressed it and sees the five buttons.
    change_until: datetime | None = _when()
    changing: bool = False
    # A low rating someone on the team has handled («Разобрано» on /admin): who and when.
    handled_at: datetime | None = _when()
    handled_by: str | None = Field(default=None, max_length=100)
    changes_made: int = 0  # «Изменить оценку» carries it: a press counts once (23, point 10)


class SurveyDay(SQLModel, table=True):
    """Surveys of a UTC day (`created_at`) by engineer, group, score, automatic, and how many were
    delivered: +1/-1 rows triggers on `survey` append, summed by `storage.reading.daily.fold`."""

    __tablename__ = "survey_day"
    __table_args__ = (
        Index("ix_survey_day_day", "day"),
        Index("ix_survey_day_unfolded", "day", **where("NOT folded")),
    )

    id: int | None = Field(default=None, sa_column=Column(ROW_ID, primary_key=True))
    day: date
    engineer: str | None = Field(default=None, max_length=300)
    engineer_group: str | None = Field(default=None, max_length=300)
    score: int | None = None
    automatic: bool
    surveys: int
    delivered: int
    folded: bool = False


class RatingChange(SQLModel, table=True):
    """A person's change of their score: from, to, when, by whom, and by a click or text."""

    __tablename__ = "rating_change"

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True)
    from_score: int
    to_score: int
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    changed_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    source: str = Field(max_length=8)


class Job(SQLModel, table=True):
    """A unit of outgoing work (a call to Okdesk or Bitrix24), claimed by one worker at a time.

    A pending job is free when `available_at` has passed: for a queued job that is its next try,
    for a leased one the end of its lease, so one index serves both claiming and rescue.
    """

    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_due", "state", "available_at"),
        Index("ix_job_finished", "state", "finished_at"),
        # /metrics counts pending jobs by kind from this alone (`storage.queue.PENDING`).
        Index("ix_job_pending", "state", "kind", **where("state = 'pending'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: JobKind = Field(sa_column=Column(String(24), nullable=False))
    survey_id: int | None = Field(default=None, foreign_key="survey.id", index=True)
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    state: JobState = Field(default=JobState.PENDING, sa_column=Column(String(8), nullable=False))
    available_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    lease_token: str | None = Field(default=None, max_length=32)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # When the current run of failures began: the give-up time counts from here.
    failing_since: datetime | None = _when()
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = _when()


class RequestBudget(SQLModel, table=True):
    """A leaky bucket of outgoing requests shared by every replica (Bitrix24 counts per portal)."""

    __tablename__ = "request_budget"

    name: str = Field(primary_key=True, max_length=200)
    tokens: float
    refilled_at: float


class UnusedMessage(SQLModel, table=True):
    """A person's text the bot could not use, for /admin (`storage.survey.unused`)."""

    __tablename__ = "unused_message"

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int | None = Field(default=None, foreign_key="survey.id")
    bitrix_user_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class SeenEvent(SQLModel, table=True):
    """An inbound event already handled, so that a replay changes nothing."""

    __tablename__ = "seen_event"

    key: str = Field(primary_key=True, max_length=200)
    seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class ServiceStatus(SQLModel, table=True):
    """Small named facts about the running service (worker heartbeat, bot deleted, watermarks)."""

    __tablename__ = "service_status"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ChatPerson(SQLModel, table=True):
    """What Bitrix24's events told about a person: their language (issue 10)."""

    __tablename__ = "chat_person"

    bitrix_user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    language: str = Field(max_length=2)
    seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class EventPoll(SQLModel, table=True):
    """Fetching one imbot.v2 bot's events: the replica that may (a lease), and the offset that
    acknowledges what is committed here (`storage.polling`)."""

    __tablename__ = "event_poll"

    bot_id: int = Field(sa_column=Column(BigInteger(), primary_key=True, autoincrement=False))
    # Passed to Bitrix24 on the next Event.get; it covers only events committed here.
    next_offset: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    holder: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = _when()
    # When Event.get last answered (the poll lag is measured from it).
    polled_at: datetime | None = _when()


class SurveyMessage(SQLModel, table=True):
    """A bot message that carries a survey's buttons (the invitation, the reminder, «which
    ticket?», an ask-back): all of them lose the buttons when the survey ends."""

    __tablename__ = "survey_message"

    id: int | None = Field(default=None, primary_key=True)
    survey_id: int = Field(foreign_key="survey.id", index=True)
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    sent_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
