"""The rating workflow's state machine and its plain decisions (bridge/workflow.py)."""

from __future__ import annotations

import itertools
import random
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge import workflow
from bridge.workflow import (
    FINAL,
    TRANSITIONS,
    WAITING,
    AnswerDecision,
    ClosureDecision,
    RatingWrite,
    Trigger,
    backoff_seconds,
    decide_answer,
    decide_rating_write,
    decide_status_change,
    default_applies,
    sources,
    state_after_retry,
    target,
)
from storage.tables import Survey, SurveyState

S = SurveyState
T = Trigger
ALL_PAIRS = list(itertools.product(SurveyState, Trigger))

# The state diagram in the module docstring, read from the drawing itself: an edge is
# `state --> state: what happens`; the administrator's retries (`failed --> ...`) are not
# triggers and are read separately.
_EDGE = re.compile(r"^\s*(\w+) --> (\w+): (.+)$", re.MULTILINE)
DRAWN = [
    (SurveyState(a), SurveyState(b), label)
    for a, b, label in _EDGE.findall(workflow.__doc__ or "")
    if a != "[*]"
]
RETRIES = {(a, b) for a, b, label in DRAWN if "administrator" in label}
# Which trigger each drawn edge is, by the words of its label.
_LABELS = {
    "invitation sent": T.INVITED,
    "no contact": T.NOT_DELIVERABLE,
    "answers": T.ANSWERED,
    "clicks or replies": T.ANSWERED,
    "timeout": T.TIMED_OUT,
    "reopened": T.REOPENED,
    "invitation was refused": T.INVITATION_FAILED,
    "refused the rating": T.RATING_FAILED,
}


def _trigger(label: str) -> Trigger:
    (found,) = {t for words, t in _LABELS.items() if words in label}
    return found


DIAGRAM: dict[tuple[SurveyState, Trigger], SurveyState] = {
    (a, _trigger(label)): b for a, b, label in DRAWN if (a, b) not in RETRIES
}


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


# --- the transition table --------------------------------------------------------------------


def test_transition_table_is_the_documented_diagram() -> None:
    assert len(DIAGRAM) == len(DRAWN) - len(RETRIES)
    assert TRANSITIONS == DIAGRAM


def test_the_drawn_retries_are_where_a_retry_puts_a_failed_survey() -> None:
    assert {(S.FAILED, S.INVITING), (S.FAILED, S.RATED), (S.FAILED, S.DEFAULTED)} == RETRIES
    rated, defaulted = survey(S.FAILED), survey(S.FAILED)
    defaulted.automatic = True
    assert state_after_retry(rated, retried_invitation=True) == S.INVITING
    assert state_after_retry(rated, retried_invitation=False) == S.RATED
    assert state_after_retry(defaulted, retried_invitation=False) == S.DEFAULTED


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
    ],
)
def test_sources_and_target_of_each_trigger(
    trigger: Trigger, from_states: set[SurveyState], to_state: SurveyState
) -> None:
    assert sources(trigger) == frozenset(from_states)
    assert target(trigger) == to_state


@pytest.mark.parametrize("state", sorted(FINAL))
def test_final_states_are_left_by_no_trigger(state: SurveyState) -> None:
    assert [t for t in Trigger if state in sources(t)] == []


def test_reopening_cancels_exactly_the_waiting_states() -> None:
    assert sources(T.REOPENED) == WAITING


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

    assert decide_status_change(new_status, statuses, now_current) is expected


# --- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "owner", "user_id", "expected"),
    [
        (S.AWAITING, 27, 27, AnswerDecision.ACCEPT),
        # The user is recorded before the invitation goes out: a click that beats the record
        # of the sent invitation is theirs.
        (S.INVITING, 27, 27, AnswerDecision.ACCEPT),
        (S.INVITING, None, 27, AnswerDecision.NOT_YOURS),
        (S.AWAITING, 27, 28, AnswerDecision.NOT_YOURS),
        (S.AWAITING, None, 27, AnswerDecision.NOT_YOURS),
        (S.AWAITING, 27, 0, AnswerDecision.NOT_YOURS),
        # Someone else is told "not yours" whatever the state.
        (S.RATED, 27, 28, AnswerDecision.NOT_YOURS),
        *[
            (state, 27, 27, AnswerDecision.NOT_WAITING)
            for state in SurveyState
            if state not in (S.AWAITING, S.INVITING)
        ],
    ],
)
def test_answer_decision(
    state: SurveyState, owner: int | None, user_id: int, expected: AnswerDecision
) -> None:
    assert decide_answer(survey(state, owner), user_id) is expected


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
    assert default_applies(survey(state), default, when_undeliverable) is expected


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
    assert decide_rating_write(wanted, shown, automatic) == expected


# --- backoff ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_backoff_grows_with_attempts_within_the_full_jitter_window(seed: int) -> None:
    rng = random.Random(seed)
    base, cap = 2.0, 1000.0
    largest = []
    for attempt in range(1, 9):
        ceiling = min(cap, base * 2 ** (attempt - 1))
        waits = [backoff_seconds(attempt, base, cap, rng=rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits), attempt
        largest.append(max(waits))
    # Full jitter: 200 draws come close to each window's top, and the windows double.
    assert largest == sorted(largest)
    assert largest[-1] > 0.9 * min(cap, base * 2**7)


@pytest.mark.parametrize("attempt", [0, -3])
def test_attempts_before_the_first_use_the_base_window(attempt: int) -> None:
    rng = random.Random(7)

    waits = [backoff_seconds(attempt, 5.0, 100.0, rng=rng) for _ in range(100)]

    assert all(0 <= w <= 5.0 for w in waits)


@pytest.mark.parametrize("attempt", [10, 30, 200, 1000])
def test_backoff_never_exceeds_the_cap(attempt: int) -> None:
    rng = random.Random(attempt)

    waits = [backoff_seconds(attempt, 2.0, 900.0, rng=rng) for _ in range(100)]

    assert all(0 <= w <= 900.0 for w in waits)
    assert max(waits) > 800.0


@pytest.mark.parametrize(
    ("retry_after", "cap", "at_least"),
    [(7.0, 900.0, 7.0), (0.0, 900.0, 0.0), (3600.0, 900.0, 900.0), (30.0, 30.0, 30.0)],
)
def test_backoff_honours_retry_after_up_to_the_cap(
    retry_after: float, cap: float, at_least: float
) -> None:
    rng = random.Random(3)

    waits = [backoff_seconds(1, 0.5, cap, retry_after, rng) for _ in range(50)]

    assert all(at_least <= w <= cap for w in waits)


def test_same_seed_gives_the_same_waits() -> None:
    first = [backoff_seconds(n, 1.0, 60.0, rng=random.Random(9)) for n in range(1, 10)]
    second = [backoff_seconds(n, 1.0, 60.0, rng=random.Random(9)) for n in range(1, 10)]

    assert first == second


def test_backoff_survives_very_many_attempts() -> None:
    wait = backoff_seconds(1025, 2.0, 60.0, rng=random.Random(0))

    assert 0 <= wait <= 60.0


@given(
    attempt=st.integers(min_value=-5, max_value=1000),
    base=st.floats(min_value=0, max_value=3600),
    cap=st.floats(min_value=0, max_value=86400),
    retry_after=st.none() | st.floats(min_value=0, max_value=10**9),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_is_between_zero_and_the_cap(
    attempt: int, base: float, cap: float, retry_after: float | None, seed: int
) -> None:
    wait = backoff_seconds(attempt, base, cap, retry_after, random.Random(seed))

    assert 0 <= wait <= cap
    if retry_after is not None:
        assert wait >= min(retry_after, cap)
