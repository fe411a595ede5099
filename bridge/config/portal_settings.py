"""The key that seals the portals' secrets at rest (`bridge.config.sealed`):
`bridge.config.settings.Settings` inherits it. Documented in example.env and the README.

Without `SECRETS_KEY` the service runs as before, on the one portal of its settings (the
portal `default`, whose secrets stay in the settings and are never stored); only adding a
portal (`python -m bridge.admin portal add`) needs it, and says so.
"""

from __future__ import annotations

from pydantic import SecretStr, field_validator

from bridge.config.attention_settings import AttentionSettings
from bridge.config.sealed import SecretBox, read_key


class PortalSettings(AttentionSettings):
    """The key of the portals' secrets, and the one it replaces during a rotation."""

    secrets_key: SecretStr | None = None
    secrets_key_previous: SecretStr | None = None

    @field_validator("secrets_key", "secrets_key_previous", mode="before")
    @classmethod
    def _empty_key_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("secrets_key", "secrets_key_previous")
    @classmethod
    def _a_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            read_key(value.get_secret_value())  # ValueError-like: names what is wrong
        return value

    def secret_box(self) -> SecretBox | None:
        """The box that seals and opens the portals' secrets; None without SECRETS_KEY."""
        if self.secrets_key is None:
            return None
        previous = self.secrets_key_previous
        return SecretBox(
            read_key(self.secrets_key.get_secret_value()),
            None
            if previous is None
            else read_key(previous.get_secret_value(), "SECRETS_KEY_PREVIOUS"),
        )

    def secrets(self) -> list[str]:
        """Every secret value, for the log filter that hides them."""
        keys = [k.get_secret_value() for k in (self.secrets_key, self.secrets_key_previous) if k]
        return [*super().secrets(), *keys]
