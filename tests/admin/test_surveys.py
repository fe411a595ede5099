"""`python -m bridge.admin list | show | resend | cancel | export`, and its usage."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from bridge.report import survey_csv
from bridge.rules import workflow
from harness.constants import ROOT
from harness.vendors import make_settings
from storage.tables import JobKind, JobState, SurveyState
from tests.admin.cli import WHEN, admin, seed
from tests.databases import jobs, surveys

S = SurveyState


@pytest.mark.parametrize(
    "argv",
    [[], ["check"], ["send-test"], ["list"], ["show"], ["resend"], ["cancel"], ["export"]],
)
def test_every_command_has_help(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridge.admin", *argv, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "usage: python -m bridge.admin" in done.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        ["show"],
        ["show", "x"],
        ["list", "--state", "nope"],
        ["export", "--from", "30.11"],
    ],
)
def test_bad_usage_exits_2_before_reading_settings(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridge.admin", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2 and "usage:" in done.stderr


def test_list_shows_the_latest_surveys_first_and_filters_by_state(
    database_url: str, engine: Engine
) -> None:
    settings = make_settings(database_url)
    seed(engine, 101, S.AWAITING)
    seed(engine, 102, S.RATED, score=5, updated_at=WHEN + timedelta(hours=1))
    seed(engine, 103, S.DEFAULTED, score=4, automatic=True, updated_at=WHEN + timedelta(hours=2))
    ran = admin(settings, "list")
    assert ran.code == 0
    lines = ran.out.splitlines()
    assert lines[0].split() == ["ticket", "state", "score", "automatic", "updated"]
    assert [line.split()[:4] for line in lines[1:]] == [
        ["103", "defaulted", "4", "yes"],
        ["102", "rated", "5", "no"],
        ["101", "awaiting", "-", "no"],
    ]
    assert admin(settings, "list", "--limit", "1").out.count("\n") == 2
    assert [
        line.split()[0] for line in admin(settings, "list", "--state", "rated").out.splitlines()[1:]
    ] == ["102"]
    nothing = admin(settings, "list", "--state", "failed")
    assert nothing.code == 1 and "no surveys in state failed" in nothing.out


def test_show_lists_every_survey_of_the_ticket_with_its_jobs(
    database_url: str, engine: Engine
) -> None:
    settings = make_settings(database_url)
    seed(engine, 201, S.CANCELLED, current_issue_id=None, reason="reopened")
    seed(engine, 201, S.AWAITING, bitrix_user_id=27, contact_id=11771, engineer="Иван")
    ran = admin(settings, "show", "201")
    assert ran.code == 0
    assert "survey 1 of ticket 201\n" in ran.out and "survey 2 of ticket 201 (current)" in ran.out
    assert "  state: awaiting" in ran.out and "  engineer: Иван" in ran.out
    assert ran.out.count("job ") == 2 and "invite, pending, 0 attempt(s)" in ran.out
    # Nothing that names the person: not their Bitrix24 id, not their Okdesk contact.
    assert "27" not in ran.out.replace("2026", "") and "11771" not in ran.out
    assert (
        "bitrix_user_id" not in ran.out and "contact_id" not in ran.out and "token" not in ran.out
    )
    missing = admin(settings, "show", "999")
    assert missing.code == 1 and "ticket 999 has no survey" in missing.out


@pytest.mark.parametrize("state", [S.AWAITING, S.UNDELIVERABLE])
def test_resend_queues_the_invitation_again(
    database_url: str, engine: Engine, state: SurveyState
) -> None:
    settings = make_settings(database_url)
    seed(engine, 301, state, reason="several users")
    ran = admin(settings, "resend", "301")
    assert ran.code == 0 and f"was {state}, now inviting" in ran.out
    (survey,) = surveys(engine)
    # The old reason goes; the administrator's mark says no cooldown holds it back.
    assert survey.state == S.INVITING and survey.reason == "sent by the administrator"
    assert [job.kind for job in jobs(engine)] == [JobKind.INVITE, JobKind.INVITE]


@pytest.mark.parametrize("state", [S.INVITING, S.RATED, S.DEFAULTED, S.FAILED])
def test_resend_refuses_other_states(database_url: str, engine: Engine, state: SurveyState) -> None:
    settings = make_settings(database_url)
    seed(engine, 302, state)
    ran = admin(settings, "resend", "302")
    assert ran.code == 1
    assert f"is {state}; resend acts only on a survey that is awaiting, undeliverable" in ran.out
    assert surveys(engine)[0].state == state and len(jobs(engine)) == 1
    assert admin(settings, "resend", "999").code == 1


def test_cancel_withdraws_a_waiting_survey_and_releases_the_ticket(
    database_url: str, engine: Engine
) -> None:
    settings = make_settings(database_url)
    seed(engine, 401, S.AWAITING, message_id=84400, bitrix_user_id=27)
    ran = admin(settings, "cancel", "401")
    assert ran.code == 0 and "was awaiting, now cancelled" in ran.out
    (survey,) = surveys(engine)
    assert survey.state == S.CANCELLED and survey.current_issue_id is None
    assert survey.score is None and survey.reason == workflow.WITHDRAWN_REASON
    assert [job.kind for job in jobs(engine)][-1] == JobKind.CLOSE_INVITATION
    again = admin(settings, "cancel", "401")
    assert again.code == 1 and "no current survey: nothing to cancel" in again.out


def test_cancel_refuses_a_survey_that_no_longer_waits(database_url: str, engine: Engine) -> None:
    settings = make_settings(database_url)
    seed(engine, 402, S.RATED, score=3)
    ran = admin(settings, "cancel", "402")
    assert ran.code == 1 and "is rated; cancel acts only on" in ran.out
    assert {job.state for job in jobs(engine)} == {JobState.PENDING}


def test_export_writes_one_row_per_real_survey_within_the_dates(
    database_url: str, engine: Engine
) -> None:
    settings = make_settings(database_url)
    fields = {"engineer": "Иван", "engineer_group": "L1", "company_name": "Ромашка"}
    seed(engine, 501, S.RATED, score=2, reply_text="долго", okdesk_rate="bad", **fields)
    seed(engine, 502, S.AWAITING, created_at=WHEN + timedelta(days=2), contact_id=11771)
    seed(engine, 0, S.RATED, current_issue_id=None, is_test=True, score=5)
    ran = admin(settings, "export")
    assert ran.code == 0
    table = list(csv.reader(io.StringIO(ran.out)))
    assert table[0] == survey_csv.HEADER
    assert table[1] == [
        "501", "rated", "2", "bad", "no", "Иван", "L1", "Ромашка",
        "2026-11-30T12:00:00+00:00", "", "", "", "", "долго", "", "", "", "",
    ]  # fmt: skip
    assert [row[0] for row in table[1:]] == ["501", "502"]
    assert "11771" not in ran.out and "@" not in ran.out
    day = admin(settings, "export", "--from", "2026-11-30", "--to", "2026-11-30")
    assert [row[0] for row in csv.reader(io.StringIO(day.out))][1:] == ["501"]
    later = admin(settings, "export", "--from", "2026-12-01")
    assert [row[0] for row in csv.reader(io.StringIO(later.out))][1:] == ["502"]


def test_export_reads_page_after_page(
    database_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(survey_csv, "PAGE", 2)
    for issue_id in range(601, 606):
        seed(engine, issue_id, S.AWAITING)
    found = [row[0] for row in survey_csv.rows(engine, None, None)]
    assert found == ["601", "602", "603", "604", "605"]
