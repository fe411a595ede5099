"""The sandbox page as HTML, drawn from the fakes' state: Okdesk's ticket list, the Bitrix24
chat as a person sees it (BB-code rendered, the bot's buttons), the knobs and the service's log.

Every function here is pure: it takes the state and returns markup, escaping all it shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape, unescape
from typing import Any

from sandbox.texts import RATES, STATES, STATUSES, Lang, named, text
from sandbox.world import CLIENT_PORTAL, LEAD, PEOPLE, TEAM_CHAT, Person, people

_SIMPLE_TAGS = re.compile(r"\[(/?)(b|i|u|s)\]", re.IGNORECASE)
_BREAK = re.compile(r"\[br\]", re.IGNORECASE)
_URL = re.compile(r"\[url=(https?://[^\]\s]+)\](.*?)\[/url\]", re.IGNORECASE)
# A mention: `[USER=27][/USER]` shows the user's name (an empty one is filled in by the chat).
_BREAKS = re.compile(r"<br\s*/?>|</(?:p|div|blockquote)>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")
_MENTION = re.compile(r"\[user=(\d+)\](.*?)\[/user\]", re.IGNORECASE)


@dataclass
class Knobs:
    """The values the knobs are set to."""

    latency_ms: int = 0
    error_percent: int = 0
    rate_limit: bool = False
    burst: int = 50
    per_second: float = 2.0
    rating_timeout: str = "10m"


def bbcode(message: str, names: dict[str, str] | None = None) -> str:
    """A Bitrix24 message as the chat shows it: [b] [i] [u] [s] [br] [url], mentions (by the
    portal's `names`) and line breaks."""
    markup = escape(message, quote=False)
    markup = _SIMPLE_TAGS.sub(lambda m: f"<{m.group(1)}{m.group(2).lower()}>", markup)
    markup = _URL.sub(lambda m: f'<a href="{m.group(1)}">{m.group(2)}</a>', markup)
    known = names or {}

    def mention(found: re.Match[str]) -> str:
        shown = found.group(2) or escape(known.get(found.group(1), found.group(1)))
        return f'<span class="mention">{shown}</span>'

    markup = _MENTION.sub(mention, markup)
    return _BREAK.sub("<br>", markup).replace("\n", "<br>")


def names_of(bitrix: dict[str, Any]) -> dict[str, str]:
    """The portal's people by id, as a mention shows them."""
    users = bitrix.get("users", [])
    return {str(u["ID"]): f"{u.get('NAME', '')} {u.get('LAST_NAME', '')}".strip() for u in users}


def _hidden(**fields: object) -> str:
    """Hidden form inputs."""
    return "".join(
        f'<input type="hidden" name="{name}" value="{escape(str(value))}">'
        for name, value in fields.items()
    )


def _rate_badge(issue: dict[str, Any], lang: Lang) -> str:
    """The ticket's rating as Okdesk shows it: bad, normal or good."""
    rate = issue.get("rate")
    value = rate.get("value") if isinstance(rate, dict) else rate
    if not value:
        return f'<span class="rate none">{text("no_rating", lang)}</span>'
    code = escape(str(value))
    label = escape(named(RATES, str(value), lang))
    return f'<span class="rate {code}" title="{code}">{label}</span>'


def _ticket_action(issue: dict[str, Any], lang: Lang) -> str:
    """«Закрыть» for a ticket not closed yet, «Открыть снова» for a closed one."""
    closed = (issue.get("status") or {}).get("code") == "closed"
    action, label = ("reopen", "reopen") if closed else ("close", "close")
    css = "secondary" if closed else "primary"
    return (
        f'<form method="post" action="/{action}">{_hidden(issue_id=issue["id"], lang=lang)}'
        f'<button class="{css}" data-ticket="{issue["id"]}">{text(label, lang)}</button></form>'
    )


def _comments(comments: list[dict[str, Any]], lang: Lang) -> str:
    """A ticket's comments as Okdesk lists them, oldest first: author, private or public, text
    (Okdesk keeps HTML: shown as text, its line breaks kept)."""
    if not comments:
        return ""
    items = []
    for comment in comments:
        author = comment.get("author") or {}
        who = escape(str(author.get("name") or text(f"author_{author.get('type')}", lang)))
        kind = text("public" if comment.get("public") else "private", lang)
        body = escape(_as_text(str(comment.get("content", "")))).replace("\n", "<br>")
        items.append(f'<li><span class="who">{who} · {kind}</span><div>{body}</div></li>')
    return f'<ul class="comments">{"".join(items)}</ul>'


def _as_text(content: str) -> str:
    """A comment's HTML as text: its line and block breaks kept, its tags dropped."""
    broken = _BREAKS.sub("\n", content)
    return unescape(_TAGS.sub("", broken)).strip()


def _ticket_row(
    issue: dict[str, Any], surveys: dict[int, str], lang: Lang, comments: list[dict[str, Any]]
) -> str:
    """One ticket of the list, with its comments."""
    number = int(issue["id"])
    status = (issue.get("status") or {}).get("code", "")
    contact = escape(str((issue.get("contact") or {}).get("name", "")))
    state = surveys.get(number)
    survey = escape(named(STATES, state, lang)) if state else "—"
    return (
        f'<tr id="ticket-{number}"><td class="num">{number}</td>'
        f'<td><div class="title">{escape(str(issue.get("title", "")))}</div>'
        f'<div class="muted">{contact}</div>{_comments(comments, lang)}</td>'
        f'<td><span class="status {escape(status)}">{named(STATUSES, status, lang)}</span></td>'
        f'<td class="rating">{_rate_badge(issue, lang)}</td>'
        f'<td class="survey {escape(state or "")}">{survey}</td>'
        f"<td>{_ticket_action(issue, lang)}</td></tr>"
    )


def tickets_panel(okdesk: dict[str, Any], surveys: dict[int, str], lang: Lang) -> str:
    """Okdesk's list of tickets, newest number first."""
    issues = sorted(okdesk.get("issues", {}).values(), key=lambda i: -int(i["id"]))
    heads = ("number", "ticket", "status", "rating", "survey")
    head = "".join(f"<th>{text(key, lang)}</th>" for key in heads) + "<th></th>"
    comments = okdesk.get("comments", {})
    rows = "".join(
        _ticket_row(issue, surveys, lang, comments.get(str(issue["id"]), [])) for issue in issues
    )
    return f'<table class="tickets"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def person_of(who: int) -> Person:
    """The person signed in to the chat by their key (the first one for an unknown key); the
    team's lead looks into the team's chat."""
    return next((p for p in (*people(2), LEAD) if p.key == who), PEOPLE[0])


def people_tabs(who: int, lang: Lang, portals: int = 1) -> str:
    """Whose chat is shown: one link per person (by portal, when there are two)."""
    links = []
    for person in people(portals):
        if portals > 1 and person in (PEOPLE[0], people(portals)[len(PEOPLE)]):
            name = CLIENT_PORTAL if person.portal else "default"
            links.append(f'<span class="portal">{text("portal", lang, name=name)}</span>')
        current = ' aria-current="page" class="current"' if person.key == who else ""
        href = f"/?who={person.key}&amp;lang={lang}"
        links.append(f'<a href="{href}"{current}>{escape(person.name)}</a>')
    current = (
        ' aria-current="page" class="current team"' if who == LEAD.user_id else ' class="team"'
    )
    href = f"/?who={LEAD.user_id}&amp;lang={lang}"
    links.append(f'<a href="{href}"{current}>{text("team_chat", lang)}</a>')
    return f'<nav class="people">{text("as_whom", lang)}: {"".join(links)}</nav>'


def _keyboard(message: dict[str, Any], who: int, lang: Lang) -> str:
    """The rating buttons under a bot message, each pressing as the person would.

    A button is named by its place in the keyboard: among all entries on v1's portal, among
    the buttons alone (line breaks skipped) on the v2 portal's `/_fake/v2/click`."""
    keyboard = message.get("KEYBOARD")
    buttons = keyboard.get("BUTTONS") if isinstance(keyboard, dict) else keyboard
    if not isinstance(buttons, list) or not buttons:
        return ""
    pressed: list[str] = []
    for index, button in enumerate(buttons):
        if not isinstance(button, dict) or button.get("TYPE") == "NEWLINE":
            continue
        label = escape(str(button.get("TEXT", "")))
        value = len(pressed) if message.get("API") == "v2" else index
        pressed.append(f'<button name="button" value="{value}">{label}</button>')
    fields = _hidden(message_id=message["ID"], who=who, lang=lang)
    return f'<form class="keyboard" method="post" action="/press">{fields}{"".join(pressed)}</form>'


def _bubble(
    message: dict[str, Any], who: int, bot_name: str, lang: Lang, names: dict[str, str]
) -> str:
    """One chat message: the bot's on the left with its buttons, the person's on the right."""
    mine = "AUTHOR_ID" in message
    author = text("you", lang) if mine else escape(bot_name)
    side = "mine" if mine else "bot"
    body = bbcode(str(message.get("MESSAGE", "")), names)
    buttons = "" if mine else _keyboard(message, who, lang)
    return (
        f'<div class="message {side}" data-id="{message["ID"]}">'
        f'<div class="author">{author}</div><div class="text">{body}</div>{buttons}</div>'
    )


def chat_log(bitrix: dict[str, Any], who: int, lang: Lang) -> str:
    """The person's private chat with the bot in their portal (`bitrix`), oldest first (the
    person's own messages are kept apart on the v1 portal, beside the bot's on the v2 portal)."""
    user_id = person_of(who).user_id
    bots = list(bitrix.get("bots", {}).values())
    bot_name = str(bots[0]["NAME"]) if bots else text("bot", lang)
    posted = list(bitrix.get("messages", {}).values())
    # The team's lead looks into the team's group chat; everyone else into their own chat.
    dialog = TEAM_CHAT if who == LEAD.key else str(user_id)
    from_bot = [
        m
        for m in posted
        if "AUTHOR_ID" not in m and str(m.get("DIALOG_ID")) == dialog and not m.get("deleted")
    ]
    everyones = posted + list(bitrix.get("user_messages", {}).values())
    typed = [m for m in everyones if m.get("AUTHOR_ID") == user_id]
    messages = sorted(from_bot + typed, key=lambda m: int(m["ID"]))
    if not messages:
        empty = "empty_team_chat" if who == LEAD.user_id else "empty_chat"
        return f'<p class="empty">{text(empty, lang)}</p>'
    names = names_of(bitrix)
    return "".join(_bubble(message, who, bot_name, lang, names) for message in messages)


def log_panel(lines: list[str]) -> str:
    """The last lines of the service's log."""
    return f'<pre class="log">{escape(chr(10).join(lines))}</pre>'
