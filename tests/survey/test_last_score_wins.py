"""The last score wins in Okdesk (issue 22, point 7): one rating write per ticket runs at a
time; a change of mind during a write is written after it, never beside it."""

from __future__ import annotations

import pytest
from sqlmodel import select

from storage.db import transaction
from storage.tables import Job, JobKind, JobState, SurveyState
from tests.fast.fakes import MemoryHelpdesk
from tests.fast.harness import ISSUE_ID, Service
from tests.survey.steps import configure, press_change_button

pytestmark = pytest.mark.anyio


class ChangeOfMindDuringTheWrite(MemoryHelpdesk):
    """Okdesk, while the first rating is being written, sees the person change their mind."""

    def __init__(self, service: Service) -> None:
        super().__init__()
        self.__dict__.update(service.helpdesk.__dict__)
        self.service = service
        self.rating_writes_pending: list[int] = []

    async def rate_issue(self, issue_id: int, rate: str) -> None:
        await super().rate_issue(issue_id, rate)
        if len(self.rated) == 1:
            assert press_change_button(self.service) == "change_offered"
            assert self.service.click(5) == "changed"
            self.rating_writes_pending.append(_pending_rating_writes(self.service))


def _pending_rating_writes(service: Service) -> int:
    with transaction(service.engine) as session:
        jobs = session.exec(
            select(Job).where(Job.kind == JobKind.SEND_RATING, Job.state == JobState.PENDING)
        ).all()
        return len(jobs)


async def test_a_change_of_mind_during_the_first_write_is_written_after_it(
    service: Service,
) -> None:
    configure(service, followup_max_score="off")
    okdesk = ChangeOfMindDuringTheWrite(service)
    service.helpdesk = okdesk
    service.close()
    await service.drain()
    assert service.click(2) == "rated"
    await service.drain()

    # While the first write ran, no second one was queued beside it.
    assert okdesk.rating_writes_pending == [1]
    assert [rate for issue, rate in okdesk.rated if issue == ISSUE_ID] == ["bad", "good"]
    assert okdesk.tickets[ISSUE_ID].rate == "good"  # Okdesk ends with the last score
    survey = service.survey()
    assert survey.state == SurveyState.RATED and survey.score == 5
    assert survey.okdesk_rate == "good" and survey.rating_sent_at is not None
    assert _pending_rating_writes(service) == 0
