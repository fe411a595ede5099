"""The setting of the report's worklist of low ratings (issue 25): `bridge.config.settings.Settings`
inherits it. Documented in example.env and the README's settings table."""

from __future__ import annotations

from pydantic import Field

from bridge.config.survey_settings import SurveyRulesSettings


class AttentionSettings(SurveyRulesSettings):
    """Which ratings need someone's attention."""

    # A person's rating at or below this score is listed under «Needs attention» on /admin
    # until someone marks it handled.
    alert_max_score: int = Field(default=2, ge=1, le=5)
