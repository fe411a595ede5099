"""What the report must not show: e-mail addresses, even inside what a person typed."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def without_emails(text: str) -> str:
    """`text` with every e-mail address replaced by a mark (personal data is never shown)."""
    return _EMAIL.sub("[e-mail]", text)
