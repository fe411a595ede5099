"""The team's messages: what the bot posts to the team's chat (ALERT_DIALOG_ID), each at most
once. `storage.tables` registers this table beside the others."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Column, Field, SQLModel

from storage.columns import UTCDateTime


class TeamMessage(SQLModel, table=True):
    """One message to the team: the alert about a low rating (`alert:<survey id>`) or one
    week's digest (`digest:<day it is due>`), with who took the alert («Беру»)."""

    __tablename__ = "team_message"

    key: str = Field(primary_key=True, max_length=40)
    survey_id: int | None = Field(default=None, foreign_key="survey.id", unique=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # The lease of the job attempt posting it: set before the message is sent, cleared when
    # the outcome is recorded. Found set by a later attempt, it means the poster died between
    # sending and recording: the message is never sent again (`unsure_at` says so).
    sending_lease: str | None = Field(default=None, max_length=32)
    message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    posted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    unsure_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # «Беру»: the Bitrix24 user who took the alert, their name as the portal gave it, when.
    taken_by_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    taken_by: str | None = Field(default=None, max_length=100)
    taken_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
