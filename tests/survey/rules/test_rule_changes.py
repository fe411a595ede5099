"""The changes issue 10 adds to the workflow (pure): skipping and the one reminder."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.rules.workflow import TRANSITIONS, Trigger, skipped, sources
from bridge.survey import reminders
from storage.tables import JobKind, SurveyState

S = SurveyState
NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def test_only_a_survey_still_being_invited_can_be_held_back_by_the_cooldown() -> None:
    change = skipped(7, reason="cooldown", now=NOW)
    assert change.from_states == sources(Trigger.SKIPPED) == {S.INVITING}
    assert change.fields == {
        "state": S.SKIPPED,
        "reason": "cooldown",
        "deadline_at": None,
        "remind_at": None,
        "finished_at": NOW,
    }
    assert change.jobs == ()


def test_only_a_survey_awaiting_an_answer_is_reminded_and_it_stays_awaiting() -> None:
    change = reminders.reminded(7, now=NOW)
    assert change.from_states == sources(Trigger.REMINDED) == {S.AWAITING}
    assert TRANSITIONS[(S.AWAITING, Trigger.REMINDED)] is S.AWAITING
    assert change.fields == {"state": S.AWAITING, "remind_at": None, "reminded_at": NOW}
    assert change.jobs == (JobKind.REMIND,)


def test_a_skipped_survey_is_left_by_nothing() -> None:
    assert [t for t in Trigger if S.SKIPPED in sources(t)] == []
