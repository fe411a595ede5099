"""A small set of surveys written straight into the database, and its figures worked out by
hand (the comments say how), for the report's tests and its browser test.

The period is 2026-03-02 (a Monday) to 2026-03-15: ISO weeks 10 and 11.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from storage.db import transaction
from storage.tables import Job, JobKind, JobState, RatingChange, Survey, SurveyState

QUERY = "from=2026-03-02&to=2026-03-15"
IVAN, ANNA = "Иван Петров", "Anna <b>Smith</b>"
FIRST, SECOND = "Первая линия", "Вторая линия"
HOSTILE = "Не решили <script>alert(1)</script> пишите на boss@acme.example"

# People's ratings in the period: 5, 4, 2 (Ivan), 5, 1, 3 (Anna), 4 (purged, first line).
# 7 ratings, 4 of them 4-5: CSAT 4/7 = 57%; mean 24/7 = 3.43.
# Delivered (a message_id): the 7, the 2 automatic ones, the 2 awaiting: 11.
# Response rate 7/11 = 64%.
EXPECTED: dict[str, Any] = {
    "csat": "57%",
    "response": "64%",
    "mean_ru": "3,43",
    "mean_en": "3.43",
    "human": 7,
    "automatic": 2,
    "delivered": 11,
    "surveys": 14,
    "distribution": {1: 1, 2: 1, 3: 1, 4: 2, 5: 2},
    # name: (ratings, CSAT, mean)
    "engineers": {IVAN: (3, "67%", "3.67"), ANNA: (3, "33%", "3.00"), None: (1, "100%", "4.00")},
    "groups": {FIRST: (4, "75%", "3.75"), SECOND: (3, "33%", "3.00")},
    # week 10 holds Ivan's three and Anna's 5 (3 good of 4), week 11 the rest (1 of 3).
    "weeks": {"02.03–08.03.2026": (4, 0.75), "09.03–15.03.2026": (3, 1 / 3)},
    "inviting": 0,
    "awaiting": 2,
    "undeliverable": 1,
    "failed": 1,
}

DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FOLLOWUP = "Инженер так и не перезвонил"
# Reasons as the service records them (bridge.survey.invitations, bridge.okdesk.client).
NOBODY = "no active Bitrix24 user has the contact's e-mail address"
OKDESK_500 = "Okdesk rate: HTTP 500"
# Ticket 1002: a 2, changed to a 4 on 2026-03-03 at 12:30 UTC.
CHANGED = (2, 4, datetime(2026, 3, 3, 12, 30, tzinfo=UTC))


def _survey(n: int, day: int, **fields: Any) -> Survey:
    created = DAY + timedelta(days=day)
    values: dict[str, Any] = {
        "token": f"tok{n:06d}",
        "issue_id": 1000 + n,
        "current_issue_id": 1000 + n,
        "state": SurveyState.RATED,
        "language": "ru",
        "engineer": IVAN,
        "engineer_group": FIRST,
        "company_name": "ООО Ромашка",
        "message_id": 500 + n,
        "created_at": created,
        "updated_at": created + timedelta(hours=2),
    }
    values.update(fields)
    if values.get("score") is not None:
        values.setdefault("answered_at", created + timedelta(hours=1))
        values.setdefault(
            "okdesk_rate", {1: "bad", 2: "bad", 3: "normal"}.get(values["score"], "good")
        )
        values.setdefault("rating_sent_at", created + timedelta(hours=1, minutes=1))
    return Survey(**values)


def _rated() -> list[Survey]:
    anna = {"engineer": ANNA, "engineer_group": SECOND}
    return [
        _survey(1, 0, score=5, reply_text="Спасибо, всё быстро"),
        # A bare typed «4» is no comment; this person first gave a 2 (CHANGED).
        _survey(2, 1, score=4, reply_text="4"),
        _survey(3, 2, score=2, reply_text="Долго ждал ответа", followup_text=FOLLOWUP),
        # Only an answer to the follow-up question, no typed reply.
        _survey(4, 3, score=5, followup_text="Анна всё объяснила", **anna),
        _survey(5, 8, score=1, reply_text=HOSTILE, **anna),
        _survey(6, 9, score=3, reply_text="=cmd|' /C calc'!A0", **anna),
        # Purged: the engineer and the comment are gone; the score and group stay.
        _survey(7, 10, score=4, engineer=None, reply_text=None, personal_data_purged=True),
    ]


def _others() -> list[Survey]:
    automatic = {"state": SurveyState.DEFAULTED, "score": 5, "automatic": True}
    return [
        _survey(8, 4, **automatic),
        _survey(9, 11, **automatic, reply_text="автоматическая не считается"),
        _survey(10, 12, state=SurveyState.AWAITING),
        _survey(11, 13, state=SurveyState.AWAITING),
        _survey(12, 5, state=SurveyState.UNDELIVERABLE, message_id=None, reason=NOBODY),
        _survey(13, 6, state=SurveyState.FAILED, message_id=None, reason=OKDESK_500),
        # Left out: a test invitation, and a rating before the period.
        _survey(14, 3, score=1, is_test=True, reply_text="test"),
        _survey(15, -1, score=1, reply_text="before the period"),
        # 14 surveys in the period: 7 rated, 2 automatic, 2 awaiting, 1 undeliverable,
        # 1 failed and this cancelled one.
        _survey(16, 7, state=SurveyState.CANCELLED, message_id=None),
    ]


def seed(engine: Engine) -> None:
    """Write the data set, and a failed invitation job for the failed survey."""
    surveys = [*_rated(), *_others()]
    failed = next(s for s in surveys if s.state == SurveyState.FAILED)
    with transaction(engine) as session:
        session.add_all(surveys)
        session.flush()
        changed = next(s for s in surveys if s.issue_id == 1002)
        assert changed.id is not None
        session.add(
            RatingChange(
                survey_id=changed.id,
                from_score=CHANGED[0],
                to_score=CHANGED[1],
                changed_at=CHANGED[2],
                changed_by=77,
                source="button",
            )
        )
        session.add(
            Job(
                kind=JobKind.INVITE,
                survey_id=failed.id,
                state=JobState.FAILED,
                available_at=DAY,
                attempts=9,
                last_error=OKDESK_500,
                created_at=DAY,
                finished_at=DAY,
            )
        )
