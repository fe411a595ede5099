"""The rating workflow's state machine and the changes it builds (bridge/rules/workflow.py)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest

from bridge.okdesk.data import Ticket, TicketContext
from bridge.rules import workflow
from bridge.rules.workflow import ANY, FINAL, TRANSITIONS, WAITING, Change, Trigger, sources, target
from bridge.rules.write_back import rating_not_written, rating_written
from storage.tables import JobKind, Survey, SurveyState

S = SurveyState
T = Trigger
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ALL_PAIRS = list(itertools.product(SurveyState, Trigger))

# The state diagram in the module docstring, read from the drawing itself: an edge is
# `state --> state: trigger (what happens)`.
_EDGE = re.compile(r"^\s*(\w+) --> (\w+): (\w+)", re.MULTILINE)
DRAWN = [(S(a), T(trigger), S(b)) for a, b, trigger in _EDGE.findall(workflow.__doc__ or "")]
DIAGRAM = {(a, trigger): b for a, trigger, b in DRAWN}


def test_the_drawing_is_the_transition_table() -> None:
    assert len(DIAGRAM) == len(DRAWN), "an edge is drawn twice"
    assert TRANSITIONS == DIAGRAM


def test_every_trigger_and_state_is_drawn() -> None:
    assert {trigger for _, trigger, _ in DRAWN} == set(Trigger)
    assert {a for a, _, _ in DRAWN} | {b for _, _, b in DRAWN} == set(SurveyState)


@pytest.mark.parametrize(("state", "trigger"), [p for p in ALL_PAIRS if p in TRANSITIONS])
def test_listed_pair_moves_the_survey_to_the_triggers_target(
    state: SurveyState, trigger: Trigger
) -> None:
    assert state in sources(trigger)
    assert target(trigger) == TRANSITIONS[(state, trigger)] == DIAGRAM[(state, trigger)]


@pytest.mark.parametrize(("state", "trigger"), [p for p in ALL_PAIRS if p not in TRANSITIONS])
def test_unlisted_pair_leaves_the_survey_where_it_is(state: SurveyState, trigger: Trigger) -> None:
    assert state not in sources(trigger)
    assert (state, trigger) not in DIAGRAM


@pytest.mark.parametrize(
    ("trigger", "from_states", "to_state"),
    [
        (T.INVITED, {S.INVITING}, S.AWAITING),
        (T.NOT_DELIVERABLE, {S.INVITING}, S.UNDELIVERABLE),
        (T.ANSWERED, {S.INVITING, S.AWAITING}, S.RATED),
        (T.TIMED_OUT, {S.INVITING, S.AWAITING, S.UNDELIVERABLE}, S.DEFAULTED),
        (T.REOPENED, {S.INVITING, S.AWAITING, S.UNDELIVERABLE}, S.CANCELLED),
        (T.INVITATION_FAILED, {S.INVITING}, S.FAILED),
        (T.RATING_FAILED, {S.RATED, S.DEFAULTED}, S.FAILED),
        (T.INVITATION_RETRIED, {S.FAILED}, S.INVITING),
        (T.RATING_RETRIED, {S.FAILED}, S.RATED),
        (T.DEFAULT_RETRIED, {S.FAILED}, S.DEFAULTED),
        (T.RESENT, {S.AWAITING, S.UNDELIVERABLE}, S.INVITING),
        (T.WITHDRAWN, {S.INVITING, S.AWAITING, S.UNDELIVERABLE}, S.CANCELLED),
    ],
)
def test_sources_and_target_of_each_trigger(
    trigger: Trigger, from_states: set[SurveyState], to_state: SurveyState
) -> None:
    assert sources(trigger) == frozenset(from_states)
    assert target(trigger) == to_state


def test_only_an_administrators_retry_leaves_a_failed_survey() -> None:
    leaving = {t for t in Trigger if S.FAILED in sources(t)}
    assert leaving == {T.INVITATION_RETRIED, T.RATING_RETRIED, T.DEFAULT_RETRIED}
    assert [t for t in Trigger if S.CANCELLED in sources(t)] == []
    assert {S.CANCELLED, S.FAILED} == FINAL


def test_reopening_cancels_exactly_the_waiting_states() -> None:
    assert sources(T.REOPENED) == WAITING


# --- the changes -----------------------------------------------------------------------------


def test_an_answer_rates_removes_the_buttons_and_sends_the_rating() -> None:
    change = workflow.answered(7, score=4, user_id=27, reply_text="x" * 2000, now=NOW)

    assert change.from_states == sources(T.ANSWERED)
    assert change.fields["state"] is S.RATED
    assert change.fields["score"] == 4 and change.fields["rated_by"] == 27
    assert change.fields["reply_text"] == "x" * 1000
    assert change.fields["deadline_at"] is None and "finished_at" not in change.fields
    assert change.jobs == (JobKind.CLOSE_INVITATION, JobKind.SEND_RATING)


def test_a_timeout_gives_the_default_marked_automatic() -> None:
    change = workflow.timed_out(7, default_rating=5, now=NOW)

    assert change.fields["state"] is S.DEFAULTED
    assert change.fields["automatic"] is True and change.fields["score"] == 5
    assert change.jobs == (JobKind.CLOSE_INVITATION, JobKind.SEND_RATING)


def test_reopening_cancels_frees_the_ticket_and_takes_the_buttons_away() -> None:
    change = workflow.reopened(7, now=NOW)

    assert change.from_states == WAITING
    assert change.fields == {
        "state": S.CANCELLED,
        "deadline_at": None,
        "finished_at": NOW,
        "current_issue_id": None,
    }
    assert change.jobs == (JobKind.CLOSE_INVITATION,)
    assert workflow.released(7) == Change(7, None, ANY, {"current_issue_id": None})


def test_a_resent_invitation_is_invited_again_and_keeps_its_deadline() -> None:
    change = workflow.resent(7)
    # The administrator's mark: no cooldown holds it back (issue 22, point 6).
    # It holds personal data again once sent: the purge comes again (issue 22, point 8).
    assert change.fields == {
        "state": S.INVITING,
        "reason": workflow.SENT_BY_ADMINISTRATOR,
        "personal_data_purged": False,
    }
    assert change.jobs == (JobKind.INVITE,)


def test_withdrawing_cancels_unrated_frees_the_ticket_and_takes_the_buttons_away() -> None:
    change = workflow.withdrawn(7, now=NOW)
    assert change.from_states == WAITING
    assert change.fields["state"] == S.CANCELLED and change.fields["current_issue_id"] is None
    assert change.fields["reason"] == workflow.WITHDRAWN_REASON
    assert change.fields["finished_at"] == NOW and change.fields["deadline_at"] is None
    assert change.jobs == (JobKind.CLOSE_INVITATION,)


def test_a_ticket_okdesk_does_not_show_done_is_cancelled_only_before_the_invitation() -> None:
    change = workflow.not_surveyed(7, reason="not done", now=NOW)

    assert change.from_states == {S.INVITING}
    assert change.fields["state"] is S.CANCELLED and change.jobs == ()


# The ticket as Okdesk shows it when the invitation goes: the survey records it (issue 23.9).
SHOWN = Ticket(
    1, "closed", 11771, "Printer", "Карпенко Алексей", None, None, TicketContext(engineer_id=52)
)


def test_an_invitation_recorded_too_late_takes_its_buttons_away() -> None:
    sent = workflow.invited(7, user_id=27, message_id=99, shown=SHOWN)
    late = workflow.invited_too_late(7, user_id=27, message_id=99, shown=None)

    assert sent.fields == {
        "state": S.AWAITING,
        "message_id": 99,
        "bitrix_user_id": 27,
        "issue_title": "Printer",
        "reason": None,
        "engineer": "Карпенко Алексей",
        "engineer_id": 52,
        "contact_id": 11771,
    }
    assert late.from_states == ANY and "state" not in late.fields
    assert "issue_title" not in late.fields
    assert late.jobs == (JobKind.CLOSE_INVITATION,)


@pytest.mark.parametrize(
    ("job", "trigger"),
    [(JobKind.INVITE, T.INVITATION_FAILED), (JobKind.SEND_RATING, T.RATING_FAILED)],
)
def test_a_job_given_up_fails_only_the_state_it_served(job: JobKind, trigger: Trigger) -> None:
    change = workflow.given_up(7, job=job, error="refused", now=NOW)

    assert change is not None and change.trigger is trigger
    assert change.from_states == sources(trigger)
    assert change.fields["state"] is S.FAILED and change.fields["reason"] == "refused"


@pytest.mark.parametrize("job", [JobKind.REPLY, JobKind.CLOSE_INVITATION, JobKind.VERIFY_REPLY])
def test_a_failed_chat_job_fails_no_survey(job: JobKind) -> None:
    assert workflow.given_up(7, job=job, error="refused", now=NOW) is None


def _failed(automatic: bool = False) -> Survey:
    return Survey(
        id=7,
        token="t",
        issue_id=1,
        state=S.FAILED,
        language="ru",
        created_at=NOW,
        updated_at=NOW,
        automatic=automatic,
    )


def test_a_retry_puts_a_failed_survey_back_where_it_failed() -> None:
    deadline = NOW + timedelta(hours=24)
    invitation = workflow.retried(_failed(), invitation=True, deadline=deadline)
    rating = workflow.retried(_failed(), invitation=False, deadline=deadline)
    default = workflow.retried(_failed(automatic=True), invitation=False, deadline=deadline)

    assert invitation is not None and invitation.fields["state"] is S.INVITING
    assert invitation.fields["deadline_at"] == deadline
    assert rating is not None and rating.fields["state"] is S.RATED
    assert "deadline_at" not in rating.fields
    assert default is not None and default.fields["state"] is S.DEFAULTED
    assert all(c.from_states == {S.FAILED} for c in (invitation, rating, default))


def test_a_survey_that_did_not_fail_is_not_retried() -> None:
    survey = _failed()
    survey.state = S.RATED

    assert workflow.retried(survey, invitation=False, deadline=None) is None


@pytest.mark.parametrize(
    "change",
    [
        workflow.clock_stopped(7),
        rating_written(7, shown="good", note=None, now=NOW),
        rating_not_written(7, note="reopened", now=NOW),
        workflow.released(7),
    ],
)
def test_bookkeeping_changes_move_no_state(change: Change) -> None:
    assert change.trigger is None and change.from_states == ANY
    assert "state" not in change.fields
