"""Words people choose: a TOML file replacing some of the bot's texts (TEXTS_FILE).

One table per text, both languages, the same named placeholders as the built-in text:

    [thanks]
    ru = "Спасибо! Заявка №{number}: {score} из 5."
    en = "Thank you! Ticket #{number}: {score} out of 5."

Everything is checked when the service starts: an unknown text or placeholder, a missing
language or placeholder refuses the start with a message naming the text.
"""

from __future__ import annotations

import string
import tomllib
from pathlib import Path
from typing import get_args

from bot.texts.messages import Language, builtin_texts

LANGUAGES: tuple[Language, ...] = get_args(Language)


class TextsError(ValueError):
    """The texts file cannot be used; the message names the text at fault."""


def placeholders(template: str) -> set[str]:
    """The named placeholders of a text (`{number}` → "number")."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def load_texts(path: Path) -> dict[str, dict[Language, str]]:
    """The replacement texts of `path`, checked against the built-in ones."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TextsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TextsError(f"{path} is not valid TOML: {exc}") from None
    builtin = builtin_texts()
    chosen: dict[str, dict[Language, str]] = {}
    for key, texts in data.items():
        if key not in builtin:
            raise TextsError(f"unknown text {key!r} (known: {', '.join(sorted(builtin))})")
        if not isinstance(texts, dict):
            raise TextsError(f"text {key!r} must be a table with ru and en")
        chosen[key] = _checked(key, texts, builtin[key])
    return chosen


def _checked(
    key: str, texts: dict[str, object], builtin: dict[Language, str]
) -> dict[Language, str]:
    unknown = sorted(set(texts) - set(LANGUAGES))
    if unknown:
        raise TextsError(f"text {key!r}: unknown language {unknown[0]!r} (use ru and en)")
    checked: dict[Language, str] = {}
    for language in LANGUAGES:
        value = texts.get(language)
        if not isinstance(value, str) or not value.strip():
            raise TextsError(f"text {key!r}: the {language} text is missing")
        try:
            used = placeholders(value)
        except ValueError as exc:
            raise TextsError(f"text {key!r} ({language}): {exc}") from None
        wanted = placeholders(builtin[language])
        if used - wanted:
            name = sorted(used - wanted)[0]
            raise TextsError(f"text {key!r} ({language}): unknown placeholder {{{name}}}")
        if wanted - used:
            name = sorted(wanted - used)[0]
            raise TextsError(f"text {key!r} ({language}): placeholder {{{name}}} is missing")
        checked[language] = value
    return checked
