"""Where Okdesk's behaviour is not settled (okdesk.md §12), the fake answers each way a real
account might; by default the harsher one, and a setting gives the other.

- `rewrite_html`: Okdesk may store a comment's HTML sanitised: wrapped in `<p>`, `<br>` as
  `<br />`, entities changed. On by default: a byte-equal search for "our comment" fails.
- `contact_comments`: a comment written as a contact may be `refused` (the key's role may not
  write as a client; 403) or `accepted`. Refused by default.
- `second_rating`: rating a ticket Okdesk already shows rated may be `ignored` (200, the old
  rating stays), `refused` (422) or `replaced`. Ignored by default: nothing says it failed.
- `missing_contact`: a contact lookup by an unknown id may answer `empty` (200 `{}`, as a
  lookup on the list endpoint with no match, okdesk.md §4) or `404`. Empty by default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
# Entities a sanitiser writes in another form than the one it was given.
_RESPELLED = {"&#39;": "&#x27;", "&quot;": '"', "&nbsp;": "\u00a0"}
CHOICES = {
    "contact_comments": ("refused", "accepted"),
    "second_rating": ("ignored", "refused", "replaced"),
    "missing_contact": ("empty", "404"),
}


@dataclass
class Readings:
    """How this fake answers the unsettled points; each default is the harsher reading."""

    rewrite_html: bool = True
    contact_comments: str = "refused"
    second_rating: str = "ignored"
    missing_contact: str = "empty"

    def update(self, data: dict[str, Any]) -> None:
        """Set the readings named in `data` (unknown names or values raise ValueError)."""
        known = {field.name for field in fields(self)}
        for name, value in data.items():
            if name not in known:
                raise ValueError(f"no reading {name!r}")
            if name in CHOICES and value not in CHOICES[name]:
                raise ValueError(f"{name} is one of {CHOICES[name]}")
            setattr(self, name, bool(value) if name == "rewrite_html" else value)


def rewritten(content: str) -> str:
    """A comment's HTML as a sanitiser stores it: in `<p>`, `<br />`, entities respelled."""
    text = _BR.sub("<br />", content)
    for written, stored in _RESPELLED.items():
        text = text.replace(written, stored)
    # Characters outside ASCII may come back as numeric entities.
    text = "".join(c if c.isascii() or c.isalpha() else f"&#{ord(c)};" for c in text)
    return f"<p>{text}</p>" if not text.startswith("<p>") else text
