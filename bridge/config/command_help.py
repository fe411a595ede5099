"""What every command's --help ends with: the settings it needs and what it prints."""

from __future__ import annotations

from bridge.config.settings import Settings
from storage.migrate import DEFAULT_DATABASE_URL


def settings_help(prints: str) -> str:
    """The end of a command's --help: the settings it needs and what it prints."""
    required = [
        name.upper() for name, field in Settings.model_fields.items() if field.is_required()
    ]
    return (
        f"settings: from the environment or ./.env (each one explained in example.env); "
        f"required: {', '.join(required)}; DATABASE_URL defaults to {DEFAULT_DATABASE_URL}. "
        f"Prints: {prints}"
    )
