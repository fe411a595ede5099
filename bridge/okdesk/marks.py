"""How we know a comment of ours is already on a ticket, whatever Okdesk did to its HTML.

Okdesk has no idempotency key, and may store a comment's HTML rewritten (sanitised, `<br>` as
`<br />`, entities respelled, wrapped in `<p>`: okdesk.md §12), so a retry after a lost answer
cannot look for its own text byte for byte. Each comment ends with a short plain-text mark
naming the survey and the kind of comment; a retry reads the ticket's comments as plain text
(tags dropped, entities read, spaces collapsed) and looks for the mark.
"""

from __future__ import annotations

import html
import re
from enum import StrEnum

_TAG = re.compile(r"<[^>]*>")


class CommentKind(StrEnum):
    """Which of our comments: the automatic rating's, or the person's answer to "why?"."""

    AUTO_RATING = "auto"
    FOLLOWUP = "followup"


def mark(survey_id: int, kind: CommentKind, part: int = 1) -> str:
    """The mark a comment of ours ends with: plain text no sanitiser changes (`part`: the
    comment after the survey's first of this kind, e.g. a later answer to "why?")."""
    suffix = f" {part}" if part > 1 else ""
    return f"[rating-bot #{survey_id} {kind.value}{suffix}]"


def with_mark(content: str, survey_id: int, kind: CommentKind, part: int = 1) -> str:
    """The comment's HTML with its mark on a line of its own."""
    return f"{content}<br>{html.escape(mark(survey_id, kind, part))}"


def plain_text(content: str) -> str:
    """A comment's HTML as the words a reader sees: tags dropped, entities read, one space."""
    return " ".join(html.unescape(_TAG.sub(" ", content)).split())


def already_posted(contents: list[str], survey_id: int, kind: CommentKind, part: int = 1) -> bool:
    """Whether one of the ticket's comments carries this survey's mark of this kind."""
    wanted = mark(survey_id, kind, part)
    return any(wanted in plain_text(content) for content in contents)
