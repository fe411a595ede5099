"""«Нужно внимание»: the period's low ratings no one has handled, each with its «Разобрано»
button (a POST with its own single-use form token, as the retry button's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape

from bridge.report.html.sections import ticket
from bridge.report.privacy import without_emails
from bridge.report.words import words
from storage.reading.attention import Unhandled

Form = Callable[[], tuple[str, str]]


def age(since: datetime | None, now: datetime, language: str) -> str:
    """How long ago, in the largest whole unit: `3 д`, `5 ч`, `12 мин` (`3 d`, `5 h`, `12 min`)."""
    if since is None:
        return "—"
    seconds = max(0, int((now - since).total_seconds()))
    units = (("d", 86400), ("h", 3600), ("min", 60))
    if language != "en":
        units = (("д", 86400), ("ч", 3600), ("мин", 60))
    for name, size in units:
        if seconds >= size:
            return f"{seconds // size} {name}"
    return f"0 {units[-1][0]}"


def _person(item: Unhandled, t: dict[str, str]) -> str:
    who = t["bitrix_user"].format(id=item.bitrix_user_id) if item.bitrix_user_id else ""
    return " · ".join(part for part in (item.company or "", who) if part) or t["unknown"]


def _said(item: Unhandled) -> str:
    said = [text for text in (words(item.reply), item.followup) if text]
    return "<br>".join(escape(without_emails(text)) for text in said) or "—"


def _button(item: Unhandled, form: Form, query: str, t: dict[str, str]) -> str:
    nonce, csrf = form()
    taken = f'<p class="taken">{escape(t["taken_by"].format(name=item.taken_by))}</p>'
    return (taken if item.taken_by else "") + (
        f'<form method="post" action="/admin/handled?{escape(query)}" class="handled">'
        f'<input type="hidden" name="nonce" value="{escape(nonce)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<input type="hidden" name="survey" value="{item.survey_id}">'
        f'<input name="by" maxlength="100" placeholder="{escape(t["handled_by"])}" '
        f'aria-label="{escape(t["handled_by"])}">'
        f'<button type="submit">{escape(t["handled"])}</button></form>'
    )


def section(
    items: Sequence[Unhandled],
    *,
    okdesk: str,
    now: datetime,
    form: Form,
    query: str,
    t: dict[str, str],
    lang: str,
) -> str:
    """The worklist, or a line saying nothing waits."""
    title = f"<h2>{escape(t['attention'])}</h2>"
    if not items:
        return f"<section>{title}<p>{escape(t['no_attention'])}</p></section>"
    head = "".join(
        f"<th>{escape(t[k])}</th>"
        for k in ("ticket", "person", "score", "words", "engineer", "age", "action")
    )
    rows = "".join(
        f'<tr class="s{i.score}"><td>{ticket(i.issue_id, okdesk, t)}</td>'
        f"<td>{escape(_person(i, t))}</td><td>{i.score}</td><td>{_said(i)}</td>"
        f"<td>{escape(i.engineer or t['unknown'])}</td><td>{age(i.answered_at, now, lang)}</td>"
        f"<td>{_button(i, form, query, t)}</td></tr>"
        for i in items
    )
    return (
        f'<section>{title}<div class="scroll"><table data-table="attention">'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div></section>"
    )
