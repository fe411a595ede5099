"""The workflow's plain decisions (bridge/rules/decisions.py): webhooks, answers, timeouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.okdesk.data import Ticket
from bridge.rules.decisions import (
    AnswerFacts,
    AnswerOutcome,
    ClosureDecision,
    RatingWrite,
    decide_answer,
    decide_rating_write,
    decide_status_change,
    default_applies,
    may_answer,
    why_not_asked,
)
from bridge.rules.workflow import WAITING
from storage.tables import Survey, SurveyState

S = SurveyState


def survey(state: SurveyState, user_id: int | None = 27) -> Survey:
    now = datetime.now(UTC)
    return Survey(
        token="t",
        issue_id=1,
        state=state,
        language="ru",
        created_at=now,
        updated_at=now,
        bitrix_user_id=user_id,
    )


# --- a ticket's status changes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("new_status", "statuses", "current", "expected"),
    [
        ("closed", ["closed"], None, ClosureDecision.OPEN),
        ("completed", ["closed", "completed"], None, ClosureDecision.OPEN),
        *[("closed", ["closed"], state, ClosureDecision.DUPLICATE) for state in SurveyState],
        *[("opened", ["closed"], state, ClosureDecision.CANCEL) for state in sorted(WAITING)],
        *[
            ("opened", ["closed"], state, ClosureDecision.RELEASE)
            for state in SurveyState
            if state not in WAITING
        ],
        ("injob", ["closed"], S.AWAITING, ClosureDecision.CANCEL),
        ("opened", ["closed"], None, ClosureDecision.IGNORE),
        ("delayed", ["closed", "completed"], None, ClosureDecision.IGNORE),
        (None, ["closed"], None, ClosureDecision.IGNORE),
        # Codes are matched exactly: a status *name* is not a code.
        ("Закрыта", ["closed"], None, ClosureDecision.IGNORE),
    ],
)
def test_status_change_decision(
    new_status: str | None,
    statuses: list[str],
    current: SurveyState | None,
    expected: ClosureDecision,
) -> None:
    now_current = survey(current) if current is not None else None

    assert decide_status_change(new_status, now_current, trigger_statuses=statuses) is expected


# --- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "owner", "user_id", "expected"),
    [
        (S.AWAITING, 27, 27, AnswerOutcome.RATED),
        # The user is recorded before the invitation goes out: a click that beats the record
        # of the sent invitation is theirs.
        (S.INVITING, 27, 27, AnswerOutcome.RATED),
        (S.INVITING, None, 27, AnswerOutcome.NOT_YOURS),
        (S.AWAITING, 27, 28, AnswerOutcome.NOT_YOURS),
        (S.AWAITING, None, 27, AnswerOutcome.NOT_YOURS),
        (S.AWAITING, 27, 0, AnswerOutcome.NOT_YOURS),
        # Someone else is told "not yours" whatever the state.
        (S.RATED, 27, 28, AnswerOutcome.NOT_YOURS),
        *[
            (state, 27, 27, AnswerOutcome.ALREADY_DONE)
            for state in SurveyState
            if state not in (S.AWAITING, S.INVITING)
        ],
    ],
)
def test_a_button_press_rates_only_the_owners_waiting_survey(
    state: SurveyState, owner: int | None, user_id: int, expected: AnswerOutcome
) -> None:
    click = AnswerFacts(user_id=user_id, score=4, by_button=True)

    assert decide_answer(survey(state, owner), click) is expected
    assert may_answer(survey(state, owner), user_id) is (expected is AnswerOutcome.RATED)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (
            AnswerFacts(user_id=27, score=4, by_button=False, verifiable=True),
            AnswerOutcome.VERIFYING,
        ),
        (AnswerFacts(user_id=27, score=4, by_button=False), AnswerOutcome.ASKED_BACK),
        # A webhook bot's event carries no token: the authenticated channel proves it.
        (
            AnswerFacts(user_id=27, score=4, by_button=False, channel_proven=True),
            AnswerOutcome.RATED,
        ),
        # A token, when the event carries one, is still checked by `profile`.
        (
            AnswerFacts(user_id=27, score=4, by_button=False, verifiable=True, channel_proven=True),
            AnswerOutcome.VERIFYING,
        ),
        (
            AnswerFacts(user_id=27, score=4, by_button=False, doubtful=True, channel_proven=True),
            AnswerOutcome.ASKED_BACK,
        ),
        (
            AnswerFacts(user_id=28, score=4, by_button=False, channel_proven=True),
            AnswerOutcome.NOT_YOURS,
        ),
        (
            AnswerFacts(user_id=27, score=4, by_button=False, doubtful=True, verifiable=True),
            AnswerOutcome.ASKED_BACK,
        ),
        (AnswerFacts(user_id=27, score=None, by_button=False), AnswerOutcome.NOT_A_RATING),
        (
            AnswerFacts(user_id=28, score=4, by_button=False, verifiable=True),
            AnswerOutcome.NOT_YOURS,
        ),
    ],
)
def test_a_typed_score_is_verified_or_asked_back_never_taken_on_its_word(
    facts: AnswerFacts, expected: AnswerOutcome
) -> None:
    assert decide_answer(survey(S.AWAITING), facts) is expected


def test_an_answer_with_no_survey_waiting_finds_none() -> None:
    facts = AnswerFacts(user_id=27, score=4, by_button=False, verifiable=True)

    assert decide_answer(None, facts) is AnswerOutcome.NO_SURVEY


# --- the default rating ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "default", "when_undeliverable", "expected"),
    [
        (S.AWAITING, 5, True, True),
        (S.INVITING, 3, False, True),
        (S.AWAITING, None, True, False),
        (S.UNDELIVERABLE, None, True, False),
        (S.UNDELIVERABLE, 5, True, True),
        (S.UNDELIVERABLE, 5, False, False),
        *[(state, 5, True, False) for state in (S.RATED, S.DEFAULTED, S.CANCELLED, S.FAILED)],
    ],
)
def test_default_applies(
    state: SurveyState, default: int | None, when_undeliverable: bool, expected: bool
) -> None:
    assert (
        default_applies(
            survey(state), default_rating=default, when_undeliverable=when_undeliverable
        )
        is expected
    )


# --- writing the rating to Okdesk ------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "shown", "automatic", "expected"),
    [
        ("good", "good", False, RatingWrite(post=False)),
        ("good", "good", True, RatingWrite(post=False)),
        ("good", None, False, RatingWrite(post=True)),
        ("good", None, True, RatingWrite(post=True)),
        ("good", "bad", False, RatingWrite(post=True)),
        ("bad", "normal", False, RatingWrite(post=True)),
        (
            "good",
            "bad",
            True,
            RatingWrite(post=False, note="the ticket was already rated 'bad' in Okdesk"),
        ),
    ],
)
def test_rating_write_decision(
    wanted: str, shown: str | None, automatic: bool, expected: RatingWrite
) -> None:
    assert decide_rating_write(wanted, shown, automatic=automatic) == expected


_NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rate", "ours", "completed_days_ago", "asked"),
    [
        (None, None, 0, True),
        ("good", None, 0, False),  # rated before this closure, by someone: keep it
        ("good", "good", 0, True),  # the rating our own earlier survey left: ask again
        ("bad", "good", 0, False),  # changed in Okdesk since our survey: keep it
        (None, None, 30, False),  # an old ticket
    ],
)
def test_who_is_not_asked_follows_okdesks_ticket(
    rate: str | None, ours: str | None, completed_days_ago: int, asked: bool
) -> None:
    completed = _NOW - timedelta(days=completed_days_ago, hours=1)
    ticket = Ticket(
        id=7,
        status="closed",
        contact_id=1,
        title="t",
        engineer=None,
        rate=rate,
        completed_at=completed,
    )
    said = why_not_asked(ticket, _NOW, timedelta(days=3), ours)
    assert (said is None) is asked
