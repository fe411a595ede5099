"""The rating workflow: what a survey's state may become, and what each change writes.

Plain decisions, no I/O and no clock of their own. Each edge is labelled with its trigger; the
test reads this drawing and checks it against `TRANSITIONS`, so the drawing is the spec.

```mermaid
stateDiagram-v2
    [*] --> inviting: ticket closed (Okdesk webhook)
    inviting --> awaiting: invited (the invitation was sent)
    inviting --> undeliverable: not_deliverable (no contact, e-mail or user, or several users)
    inviting --> rated: answered (before the invitation was recorded)
    awaiting --> rated: answered (the survey's user clicks or replies 1-5)
    inviting --> defaulted: timed_out
    awaiting --> defaulted: timed_out
    undeliverable --> defaulted: timed_out (unless disabled for undeliverable)
    inviting --> cancelled: reopened (or Okdesk does not show the ticket done)
    awaiting --> cancelled: reopened
    undeliverable --> cancelled: reopened
    inviting --> failed: invitation_failed (refused, or failing past the give-up time)
    rated --> failed: rating_failed (Okdesk refused the rating, or kept failing)
    defaulted --> failed: rating_failed
    failed --> inviting: invitation_retried (by the administrator)
    failed --> rated: rating_retried (by the administrator)
    failed --> defaulted: default_retried (by the administrator)
    awaiting --> inviting: resent (by the administrator: the invitation again)
    undeliverable --> inviting: resent
    inviting --> cancelled: withdrawn (by the administrator, without a rating)
    awaiting --> cancelled: withdrawn
    undeliverable --> cancelled: withdrawn
    [*] --> skipped: ticket closed, not surveyed (sample, company, type or priority)
    inviting --> skipped: skipped (the person was asked within SURVEY_COOLDOWN)
    awaiting --> awaiting: reminded (once, REMINDER_AFTER after the closure)
    rated --> rated: changed (the person changes their score within CHANGE_WINDOW)
```

A rated or defaulted survey is finished once Okdesk shows its rating (`rating_sent_at`).
Every change is a `Change` built here (the rating's write-back in `bridge.rules.write_back`) and
applied by `storage.survey.surveys.apply_change` under its state guard: of two racing changes,
exactly one applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bridge.okdesk.data import Ticket
from storage.survey.fields import SurveyFields
from storage.tables import JobKind, SurveyState

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
    INVITATION_RETRIED = "invitation_retried"
    RATING_RETRIED = "rating_retried"
    DEFAULT_RETRIED = "default_retried"
    RESENT = "resent"
    WITHDRAWN = "withdrawn"
    SKIPPED = "skipped"
    REMINDED = "reminded"
    CHANGED = "changed"


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
    (S.FAILED, Trigger.INVITATION_RETRIED): S.INVITING,
    (S.FAILED, Trigger.RATING_RETRIED): S.RATED,
    (S.FAILED, Trigger.DEFAULT_RETRIED): S.DEFAULTED,
    (S.AWAITING, Trigger.RESENT): S.INVITING,
    (S.UNDELIVERABLE, Trigger.RESENT): S.INVITING,
    (S.INVITING, Trigger.WITHDRAWN): S.CANCELLED,
    (S.AWAITING, Trigger.WITHDRAWN): S.CANCELLED,
    (S.UNDELIVERABLE, Trigger.WITHDRAWN): S.CANCELLED,
    (S.INVITING, Trigger.SKIPPED): S.SKIPPED,
    (S.AWAITING, Trigger.REMINDED): S.AWAITING,
    (S.RATED, Trigger.CHANGED): S.RATED,
}

WAITING = frozenset({S.INVITING, S.AWAITING, S.UNDELIVERABLE})
FINAL = frozenset({S.CANCELLED, S.FAILED})
ANY = frozenset(SurveyState)
# The reasons of the administrator's acts: a withdrawal (its closing message says so), and
# an invitation sent (again), which no cooldown holds back (`bridge.survey.asking`).
WITHDRAWN_REASON = "withdrawn by the administrator"
SENT_BY_ADMINISTRATOR = "sent by the administrator"
# A job that fails for good fails its survey with this trigger.
GIVE_UP = {JobKind.INVITE: Trigger.INVITATION_FAILED, JobKind.SEND_RATING: Trigger.RATING_FAILED}


def sources(trigger: Trigger) -> frozenset[SurveyState]:
    """The states in which `trigger` changes a survey."""
    return frozenset(state for state, t in TRANSITIONS if t == trigger)


def target(trigger: Trigger) -> SurveyState:
    """The state `trigger` leads to (each trigger has one)."""
    (state,) = {after for (_, t), after in TRANSITIONS.items() if t == trigger}
    return state


class SurveyView(Protocol):
    """What the decisions read of a survey (the stored row is one)."""

    @property
    def id(self) -> int | None: ...

    @property
    def state(self) -> SurveyState: ...

    @property
    def bitrix_user_id(self) -> int | None: ...

    @property
    def automatic(self) -> bool: ...


@dataclass(frozen=True)
class Change:
    """One change of one survey: applied only from `from_states`, with the jobs it queues."""

    survey_id: int
    trigger: Trigger | None
    from_states: frozenset[SurveyState]
    fields: SurveyFields
    jobs: tuple[JobKind, ...] = field(default=())


def _moved(survey_id: int, trigger: Trigger, fields: SurveyFields, *jobs: JobKind) -> Change:
    return Change(
        survey_id, trigger, sources(trigger), {"state": target(trigger), **fields}, tuple(jobs)
    )


def _ended(survey_id: int, trigger: Trigger, now: datetime, fields: SurveyFields) -> Change:
    """A move that stops the survey's clock (and, unless a rating is still to go, ends it)."""
    stopped: SurveyFields = {"deadline_at": None, "finished_at": now}
    return _moved(survey_id, trigger, {**stopped, **fields})


def invited(survey_id: int, *, user_id: int, message_id: int, shown: Ticket | None) -> Change:
    """The invitation was posted to `user_id` as message `message_id`; no reason remains
    (`shown`: the ticket as Okdesk showed it then, None for a test)."""
    fields = _invitation_fields(user_id, message_id, shown)
    return _moved(survey_id, Trigger.INVITED, {**fields, "reason": None})


def invited_too_late(
    survey_id: int, *, user_id: int, message_id: int, shown: Ticket | None
) -> Change:
    """The invitation was posted after the survey ended: record it, take the buttons away."""
    fields = _invitation_fields(user_id, message_id, shown)
    return Change(survey_id, None, ANY, fields, (JobKind.CLOSE_INVITATION,))


def _invitation_fields(user_id: int, message_id: int, shown: Ticket | None) -> SurveyFields:
    return {"message_id": message_id, "bitrix_user_id": user_id, **_as_shown(shown)}


def _as_shown(shown: Ticket | None) -> SurveyFields:
    """What the survey records of its ticket as Okdesk shows it, over the webhook's word."""
    if shown is None:
        return {}
    fields: SurveyFields = {"issue_title": shown.title, "engineer": shown.engineer}
    fields["engineer_id"] = shown.context.engineer_id
    return {**fields, "contact_id": shown.contact_id} if shown.contact_id else fields


def undeliverable(survey_id: int, *, reason: str, shown: Ticket | None = None) -> Change:
    """Nobody can be asked: no contact, no e-mail, no Bitrix24 user, or several."""
    return _moved(survey_id, Trigger.NOT_DELIVERABLE, {"reason": reason, **_as_shown(shown)})


def reopened(survey_id: int, *, now: datetime) -> Change:
    """The ticket went back to work: cancel, let a new closure survey, remove the buttons."""
    change = _ended(survey_id, Trigger.REOPENED, now, {"current_issue_id": None})
    return replace(change, jobs=(JobKind.CLOSE_INVITATION,))


def resent(survey_id: int) -> Change:
    """The administrator sends it again: the deadline stays, the purge will come again."""
    fields: SurveyFields = {"reason": SENT_BY_ADMINISTRATOR, "personal_data_purged": False}
    return _moved(survey_id, Trigger.RESENT, fields, JobKind.INVITE)


def withdrawn(survey_id: int, *, now: datetime, reason: str = WITHDRAWN_REASON) -> Change:
    """The administrator cancels a waiting survey unrated: remove the buttons, release the
    ticket so that its next closure gets a new survey."""
    fields: SurveyFields = {"current_issue_id": None, "reason": reason}
    change = _ended(survey_id, Trigger.WITHDRAWN, now, fields)
    return replace(change, jobs=(JobKind.CLOSE_INVITATION,))


def released(survey_id: int) -> Change:
    """The ticket went back to work after its survey ended: a new closure gets a new survey."""
    return Change(survey_id, None, ANY, {"current_issue_id": None})


def not_surveyed(survey_id: int, *, reason: str, now: datetime) -> Change:
    """Okdesk does not show the ticket done (or at all): nobody is asked."""
    change = _ended(survey_id, Trigger.REOPENED, now, {"reason": reason, "current_issue_id": None})
    return replace(change, from_states=frozenset({S.INVITING}))


def skipped(survey_id: int, *, reason: str, now: datetime) -> Change:
    """Nobody is asked, no default rating, no reminder: the person was asked lately, or Okdesk
    shows the ticket rated before this closure, or completed long before it."""
    fields: SurveyFields = {"reason": reason, "deadline_at": None, "remind_at": None}
    return _moved(survey_id, Trigger.SKIPPED, {**fields, "finished_at": now})


def answered(
    survey_id: int, *, score: int, user_id: int, reply_text: str | None, now: datetime
) -> Change:
    """The survey's person rated it: remove the buttons, send the rating to Okdesk."""
    fields: SurveyFields = {
        "score": score,
        "rated_by": user_id,
        "reply_text": (reply_text or None) and reply_text[:1000],
        "answered_at": now,
        "deadline_at": None,
    }
    return _moved(
        survey_id, Trigger.ANSWERED, fields, JobKind.CLOSE_INVITATION, JobKind.SEND_RATING
    )


def changed(survey_id: int, *, score: int) -> Change:
    """The person changed their score: the thank-you is redrawn, the new score goes to Okdesk
    (the survey is unfinished until Okdesk shows it). Applied by `storage.survey.changes`."""
    fields: SurveyFields = {
        "score": score,
        "changing": False,
        "rating_sent_at": None,
        "finished_at": None,
    }
    return _moved(survey_id, Trigger.CHANGED, fields, JobKind.CLOSE_INVITATION, JobKind.SEND_RATING)


def timed_out(survey_id: int, *, default_rating: int, now: datetime) -> Change:
    """Nobody answered in time: the default rating, marked automatic, goes to Okdesk."""
    fields: SurveyFields = {
        "score": default_rating,
        "automatic": True,
        "answered_at": now,
        "deadline_at": None,
    }
    return _moved(
        survey_id, Trigger.TIMED_OUT, fields, JobKind.CLOSE_INVITATION, JobKind.SEND_RATING
    )


def clock_stopped(survey_id: int) -> Change:
    """The timeout passed but no default applies: stop watching the clock."""
    return Change(survey_id, None, ANY, {"deadline_at": None})


def given_up(survey_id: int, *, job: JobKind, error: str, now: datetime) -> Change | None:
    """A job failed for good: the survey it served fails (only from the state it served)."""
    trigger = GIVE_UP.get(job)
    return None if trigger is None else _ended(survey_id, trigger, now, {"reason": error})


def retried(survey: SurveyView, *, invitation: bool, deadline: datetime | None) -> Change | None:
    """An administrator retries a failed survey's job: back to where it failed."""
    if survey.id is None or survey.state != S.FAILED:
        return None
    if invitation:
        trigger = Trigger.INVITATION_RETRIED
    else:
        trigger = Trigger.DEFAULT_RETRIED if survey.automatic else Trigger.RATING_RETRIED
    reason = SENT_BY_ADMINISTRATOR if invitation else None
    fields: SurveyFields = {"reason": reason, "finished_at": None}
    if invitation and deadline is not None:
        fields["deadline_at"] = deadline
    return _moved(survey.id, trigger, fields)
