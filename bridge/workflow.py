"""The rating workflow as a state machine: plain decisions, no I/O, no clock of their own.

```mermaid
stateDiagram-v2
    [*] --> inviting: ticket closed (Okdesk webhook)
    inviting --> awaiting: invitation sent
    inviting --> undeliverable: no contact, e-mail or Bitrix24 user, or several users
    inviting --> rated: the survey's user answers while the invitation is being recorded
    awaiting --> rated: the survey's user clicks or replies 1-5
    inviting --> defaulted: timeout
    awaiting --> defaulted: timeout
    undeliverable --> defaulted: timeout (unless disabled for undeliverable)
    inviting --> cancelled: ticket reopened
    awaiting --> cancelled: ticket reopened
    undeliverable --> cancelled: ticket reopened
    inviting --> failed: the invitation was refused, or kept failing past the give-up time
    rated --> failed: Okdesk refused the rating, or kept failing
    defaulted --> failed: Okdesk refused the rating, or kept failing
    failed --> inviting: administrator retries
    failed --> rated: administrator retries
    failed --> defaulted: administrator retries
```

A rated or defaulted survey is finished once Okdesk shows its rating (`rating_sent_at`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from storage.tables import Survey, SurveyState

S = SurveyState


class Trigger(StrEnum):
    """What can happen to a survey."""

    INVITED = "invited"
    NOT_DELIVERABLE = "not_deliverable"
    ANSWERED = "answered"
    TIMED_OUT = "timed_out"
    REOPENED = "reopened"
    INVITATION_FAILED = "invitation_failed"
    RATING_FAILED = "rating_failed"


TRANSITIONS: dict[tuple[SurveyState, Trigger], SurveyState] = {
    (S.INVITING, Trigger.INVITED): S.AWAITING,
    (S.INVITING, Trigger.NOT_DELIVERABLE): S.UNDELIVERABLE,
    (S.INVITING, Trigger.ANSWERED): S.RATED,
    (S.AWAITING, Trigger.ANSWERED): S.RATED,
    (S.INVITING, Trigger.TIMED_OUT): S.DEFAULTED,
    (S.AWAITING, Trigger.TIMED_OUT): S.DEFAULTED,
    (S.UNDELIVERABLE, Trigger.TIMED_OUT): S.DEFAULTED,
    (S.INVITING, Trigger.REOPENED): S.CANCELLED,
    (S.AWAITING, Trigger.REOPENED): S.CANCELLED,
    (S.UNDELIVERABLE, Trigger.REOPENED): S.CANCELLED,
    (S.INVITING, Trigger.INVITATION_FAILED): S.FAILED,
    (S.RATED, Trigger.RATING_FAILED): S.FAILED,
    (S.DEFAULTED, Trigger.RATING_FAILED): S.FAILED,
}

WAITING = frozenset({S.INVITING, S.AWAITING, S.UNDELIVERABLE})
FINAL = frozenset({S.CANCELLED, S.FAILED})


def sources(trigger: Trigger) -> frozenset[SurveyState]:
    """The states in which `trigger` changes a survey."""
    return frozenset(state for state, t in TRANSITIONS if t == trigger)


def target(trigger: Trigger) -> SurveyState:
    """The state `trigger` leads to (each trigger has one)."""
    (state,) = {after for (_, t), after in TRANSITIONS.items() if t == trigger}
    return state


class ClosureDecision(StrEnum):
    """What a ticket status webhook means for its surveys."""

    OPEN = "accepted"
    DUPLICATE = "duplicate"
    CANCEL = "cancelled"
    RELEASE = "released"
    IGNORE = "ignored"


def decide_status_change(
    new_status: str | None,
    trigger_statuses: list[str],
    current: Survey | None,
    done_statuses: frozenset[str] = frozenset(),
) -> ClosureDecision:
    """A closure opens a survey unless one is current; a move back to work ends it.

    A move between done statuses (Okdesk closes a `completed` ticket by itself later) is
    not a reopening.
    """
    if new_status is None:
        return ClosureDecision.IGNORE
    if new_status in trigger_statuses:
        return ClosureDecision.OPEN if current is None else ClosureDecision.DUPLICATE
    if current is None or new_status in done_statuses:
        return ClosureDecision.IGNORE
    return ClosureDecision.CANCEL if current.state in WAITING else ClosureDecision.RELEASE


class AnswerDecision(StrEnum):
    """What an answer (click or typed reply) does to a survey."""

    ACCEPT = "accept"
    NOT_YOURS = "not_yours"
    NOT_WAITING = "not_waiting"


def decide_answer(survey: Survey, user_id: int) -> AnswerDecision:
    """Only the survey's own user may rate it, and only while it waits for an answer.

    The user is recorded before the invitation is sent, so a click that arrives before the
    invitation itself is recorded is already the survey's own.
    """
    if survey.bitrix_user_id != user_id:
        return AnswerDecision.NOT_YOURS
    if survey.state not in sources(Trigger.ANSWERED):
        return AnswerDecision.NOT_WAITING
    return AnswerDecision.ACCEPT


def state_after_retry(survey: Survey, retried_invitation: bool) -> SurveyState:
    """Where an administrator's retry puts a failed survey (the `failed -->` edges above)."""
    if retried_invitation:
        return S.INVITING
    return S.DEFAULTED if survey.automatic else S.RATED


def default_applies(survey: Survey, default_rating: int | None, when_undeliverable: bool) -> bool:
    """Whether a timed-out survey gets the default rating."""
    if default_rating is None or survey.state not in sources(Trigger.TIMED_OUT):
        return False
    return when_undeliverable or survey.state != S.UNDELIVERABLE


@dataclass(frozen=True)
class RatingWrite:
    """What to do about the ticket's rating in Okdesk, given what it shows now."""

    post: bool
    note: str | None = None


def decide_rating_write(wanted: str, shown: str | None, automatic: bool) -> RatingWrite:
    """Read-before-write: post only when needed; a default never overrides a real rating."""
    if shown == wanted:
        return RatingWrite(post=False)
    if automatic and shown is not None:
        return RatingWrite(post=False, note=f"the ticket was already rated {shown!r} in Okdesk")
    return RatingWrite(post=True)


def backoff_seconds(
    attempt: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Full-jitter exponential backoff, never sooner than the vendor's Retry-After."""
    # The exponent is bounded so that thousands of tries cannot overflow a float.
    ceiling = min(cap, base * 2 ** min(max(0, attempt - 1), 60))
    wait = (rng or random).uniform(0, ceiling)
    if retry_after is not None:
        wait = max(wait, min(retry_after, cap))
    return wait
