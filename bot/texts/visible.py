"""What the bot posts shows what it says: bidirectional overrides and zero-width characters
are taken out of every text and button label before it leaves (issue 23: a forged title with
U+202E could show the official bot's message backwards, or hide words between invisible marks).
"""

from __future__ import annotations

from typing import Any

# Zero-width space, non-joiner, joiner, LRM, RLM; LRE, RLE, PDF, LRO, RLO; word joiner and
# the invisible operators; LRI, RLI, FSI, PDI; the Arabic letter mark, Mongolian vowel
# separator and the byte-order mark (zero-width no-break space).
HIDDEN = (
    "\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064"
    "\u2066\u2067\u2068\u2069"
    "\u061c\u180e\ufeff"
)
_REMOVED = dict.fromkeys(map(ord, HIDDEN))


def visible_text(text: str) -> str:
    """The text without bidirectional-override and zero-width characters."""
    return text.translate(_REMOVED)


def visible_keyboard(keyboard: dict[str, Any] | None) -> dict[str, Any] | None:
    """The keyboard with each button's label made visible (the rest left as it is)."""
    if keyboard is None or not isinstance(keyboard.get("BUTTONS"), list):
        return keyboard
    return {**keyboard, "BUTTONS": [_visible_button(b) for b in keyboard["BUTTONS"]]}


def _visible_button(button: object) -> object:
    if isinstance(button, dict) and isinstance(button.get("TEXT"), str):
        return {**button, "TEXT": visible_text(button["TEXT"])}
    return button
