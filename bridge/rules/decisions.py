"""The workflow's plain decisions: what a webhook, an answer, a timeout or Okdesk's current
rating means for a survey. No I/O; the services load, decide here, and apply a `Change`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bridge.okdesk.data import Ticket
from bridge.rules.workflow import WAITING, SurveyView, Trigger, sources
from storage.tables import SurveyState


class ClosureDecision(StrEnum):
    """What a ticket status webhook means for its surveys."""

    OPEN = "accepted"
    DUPLICATE = "duplicate"
    CANCEL = "cancelled"
    RELEASE = "released"
    IGNORE = "ignored"


def decide_status_change(
    new_status: str | None,
    current: SurveyView | None,
    *,
    trigger_statuses: list[str],
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


class AnswerOutcome(StrEnum):
    """What became of an answer (a click or a typed reply)."""

    RATED = "rated"
    NOT_YOURS = "not_yours"
    ALREADY_DONE = "already_done"
    NO_SURVEY = "no_survey"
    NOT_A_RATING = "not_a_rating"
    ASKED_BACK = "asked_back"
    VERIFYING = "verifying"
    REPLAYED = "replayed"
    # --- follow-up, change of mind, several tickets waiting (issue 10, points 1, 2, 6) ---
    CHANGED = "changed"
    FOLLOWED_UP = "followed_up"
    WHICH_TICKET = "which_ticket"


@dataclass(frozen=True)
class AnswerFacts:
    """What an answer says about itself, as far as the decision cares."""

    user_id: int
    score: int | None
    by_button: bool
    doubtful: bool = False
    # A typed reply's sender can be checked (the event carried their access token).
    verifiable: bool = False
    # A typed reply that came, with no token, over the authenticated event channel (our URL
    # secret, application token, domain, member_id) from a private chat: Bitrix24's own word
    # of who wrote it (bitrix24.md §12), as a webhook bot's events carry no user token.
    channel_proven: bool = False


def may_answer(survey: SurveyView, user_id: int) -> bool:
    """Only the survey's own user may rate it, and only while it waits for an answer.

    The user is recorded before the invitation is sent, so a click that arrives before the
    invitation itself is recorded is already the survey's own.
    """
    return survey.bitrix_user_id == user_id and survey.state in sources(Trigger.ANSWERED)


def decide_answer(
    survey: SurveyView | None, answer: AnswerFacts, *, changeable: bool = False
) -> AnswerOutcome:
    """What an answer does to the survey it names (or the person's latest one).

    A button press rates at once (it carries the survey's unguessable token); a clear typed
    score is rated once its sender is verified: by `profile` when the event carries the
    person's token, else by the event channel itself; a doubtful one is asked back.
    A `changeable` survey (its person pressed «Изменить оценку» in time) is rated again so.
    """
    if survey is None:
        return AnswerOutcome.NO_SURVEY
    if answer.score is None:
        return AnswerOutcome.NOT_A_RATING
    if survey.bitrix_user_id != answer.user_id:
        return AnswerOutcome.NOT_YOURS
    if not (changeable or may_answer(survey, answer.user_id)):
        return AnswerOutcome.ALREADY_DONE
    if answer.by_button:
        return AnswerOutcome.RATED
    if answer.doubtful:
        return AnswerOutcome.ASKED_BACK
    if answer.verifiable:
        return AnswerOutcome.VERIFYING
    return AnswerOutcome.RATED if answer.channel_proven else AnswerOutcome.ASKED_BACK


def default_applies(
    survey: SurveyView, *, default_rating: int | None, when_undeliverable: bool
) -> bool:
    """Whether a timed-out survey gets the default rating."""
    if default_rating is None or survey.state not in sources(Trigger.TIMED_OUT):
        return False
    return when_undeliverable or survey.state != SurveyState.UNDELIVERABLE


@dataclass(frozen=True)
class RatingWrite:
    """What to do about the ticket's rating in Okdesk, given what it shows now."""

    post: bool
    note: str | None = None


def decide_rating_write(wanted: str, shown: str | None, *, automatic: bool) -> RatingWrite:
    """Read-before-write: post only when needed; a default never overrides a real rating."""
    if shown == wanted:
        return RatingWrite(post=False)
    if automatic and shown is not None:
        return RatingWrite(post=False, note=f"the ticket was already rated {shown!r} in Okdesk")
    return RatingWrite(post=True)


# Issue 23.9: what the invitation says when Okdesk shows no contact on the ticket.
NO_CONTACT = "Okdesk shows no contact on the ticket"


def why_not_asked(
    ticket: Ticket, opened_at: datetime, max_age: timedelta, ours: str | None = None
) -> str | None:
    """Why a closure, as Okdesk's ticket shows it, is not surveyed; None when it is.

    A ticket Okdesk already shows rated was rated before this closure (the survey has written
    nothing yet): asking would overwrite that rating, unless the rating is the one our own
    earlier survey of the ticket wrote (`ours`): a ticket reopened and closed again is asked
    again. One completed more than RECONCILE_MAX_AGE before its closure webhook arrived is an
    old ticket: nobody is asked weeks later (as reconciliation does not). The webhook's word
    on either is not taken.
    """
    if ticket.rate is not None and ticket.rate != ours:
        return f"not asked: Okdesk already shows the ticket rated {ticket.rate!r}"
    if ticket.completed_at is not None and ticket.completed_at < opened_at - max_age:
        completed = ticket.completed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"not asked: Okdesk shows the ticket completed {completed}, before RECONCILE_MAX_AGE"
    return None
