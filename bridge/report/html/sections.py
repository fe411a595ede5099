"""The page's sections as HTML, every value escaped (`page` puts them together)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from bridge.report import words
from bridge.report.figures import Overview, Row, Week
from bridge.report.html import svg
from bridge.report.html.texts import decimal, percent
from bridge.report.privacy import without_emails
from bridge.report.reasons import reason
from bridge.report.words import Comment
from storage.reading.report import Trouble
from storage.reading.report_words import Change

MACHINE_STATES = ("inviting", "awaiting", "undeliverable", "failed")


def _card(name: str, figure: str, value: str, note: str = "", before: str = "") -> str:
    small = f"<small>{escape(note)}</small>" if note else ""
    return (
        f'<div class="card"><span class="label">{escape(name)}</span>'
        f'<strong data-figure="{figure}">{escape(value)}</strong>{small}{before}</div>'
    )


def _before(figure: str, value: str, t: dict[str, str]) -> str:
    return (
        f'<small class="previous">{escape(t["previous"])} '
        f'<b data-figure="{figure}_previous">{escape(value)}</b></small>'
    )


def cards(overview: Overview, previous: Overview, t: dict[str, str], lang: str) -> str:
    """The headline figures as cards, CSAT and the response rate beside the previous
    period's."""
    delivered = t["of_delivered"].format(n=overview.delivered)
    earlier = _before("csat", percent(previous.score.csat), t)
    earlier_rate = _before("response", percent(previous.response_rate), t)
    rate = percent(overview.response_rate)
    return (
        '<section class="cards">'
        + _card(t["csat"], "csat", percent(overview.score.csat), before=earlier)
        + _card(t["response"], "response", rate, delivered, earlier_rate)
        + _card(t["mean"], "mean", decimal(overview.score.mean, lang))
        + _card(t["human"], "human", str(overview.human))
        + _card(t["automatic"], "automatic", str(overview.automatic))
        + "</section>"
    )


def charts(overview: Overview, weeks: Sequence[Week], t: dict[str, str], lang: str) -> str:
    """The distribution and the weekly trend, side by side where there is room."""
    bars = svg.distribution(overview.distribution, t["chart_distribution"], t["bar"])
    line = svg.trend(weeks, t["chart_trend"], t["point"], lang)
    return (
        '<section class="charts">'
        f"<figure><figcaption>{escape(t['distribution'])}</figcaption>{bars}</figure>"
        f"<figure><figcaption>{escape(t['trend'])}</figcaption>{line}</figure>"
        "</section>"
    )


class Html(str):
    """A table cell that is already HTML (a ticket's link): not escaped again."""


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], name: str) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{c if isinstance(c, Html) else escape(c)}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll"><table data-table="{name}"><thead><tr>{th}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def teams(rows: Sequence[Row], kind: str, t: dict[str, str], lang: str) -> str:
    """The per-engineer (`kind="engineer"`) or per-group table."""
    title = t["engineers"] if kind == "engineer" else t["groups"]
    cells = [
        [
            r.name or t["unknown"],
            str(r.score.ratings),
            percent(r.score.csat),
            decimal(r.score.mean, lang),
        ]
        for r in rows
    ]
    head = [t[kind], t["count"], "CSAT", t["mean"]]
    empty = f"<p>{escape(t['no_ratings'])}</p>"
    return (
        f"<section><h2>{escape(title)}</h2>{_table(head, cells, kind) if rows else empty}</section>"
    )


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def ticket(issue_id: int, okdesk: str, t: dict[str, str]) -> str:
    """The ticket's number, linked to it in Okdesk."""
    href = escape(f"{okdesk.rstrip('/')}/issues/{issue_id}")
    return f'<a href="{href}" rel="noreferrer" target="_blank">{escape(t["ticket"])} {issue_id}</a>'


def _said(c: Comment, t: dict[str, str]) -> str:
    said = f"<blockquote>{escape(without_emails(c.text))}</blockquote>" if c.text else ""
    if c.followup:
        said += (
            f'<blockquote class="followup"><em>{escape(t["followup"])}</em> '
            f"{escape(without_emails(c.followup))}</blockquote>"
        )
    if c.changes:
        said += f'<p class="changed">{escape(t["changed"])} {escape(words.history(c.changes))}</p>'
    return said


def comments(items: Sequence[Comment], okdesk: str, t: dict[str, str]) -> str:
    """The latest comments, low scores first."""
    if not items:
        return (
            f"<section><h2>{escape(t['comments'])}</h2><p>{escape(t['no_comments'])}</p></section>"
        )
    entries = "".join(
        f'<li class="s{c.score}"><span class="score">{c.score}</span>{_said(c, t)}'
        f"<small>{ticket(c.issue_id, okdesk, t)} · {escape(c.engineer or t['unknown'])}"
        f" · {_when(c.answered_at)}</small></li>"
        for c in items
    )
    return f'<section><h2>{escape(t["comments"])}</h2><ul class="comments">{entries}</ul></section>'


def changes(items: Sequence[Change], okdesk: str, t: dict[str, str]) -> str:
    """The latest changes of mind: ticket, from → to, when."""
    if not items:
        return ""
    rows = "".join(
        f"<tr><td>{ticket(c.issue_id, okdesk, t)}</td><td>{c.from_score} → {c.to_score}</td>"
        f"<td>{_when(c.changed_at)}</td></tr>"
        for c in items
    )
    head = "".join(f"<th>{escape(t[k])}</th>" for k in ("ticket", "score", "when"))
    return (
        f'<section><h2>{escape(t["changes"])}</h2><div class="scroll">'
        f'<table data-table="changes"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>'
        "</table></div></section>"
    )


def machine(
    counts: dict[str, int], items: Sequence[Trouble], okdesk: str, t: dict[str, str], lang: str
) -> str:
    """Surveys waiting, undeliverable and failed now, with the reasons of the latest ones."""
    tiles = "".join(
        f'<div class="card small"><span class="label">{escape(t[s])}</span>'
        f'<strong data-figure="{s}">{counts.get(s, 0)}</strong></div>'
        for s in MACHINE_STATES
    )
    rows = [
        [
            Html(ticket(i.issue_id, okdesk, t)),
            t.get(i.state, i.state),
            without_emails(reason(i.reason, lang) if i.reason else "—"),
            _when(i.updated_at),
        ]
        for i in items
    ]
    head = [t["ticket"], t["state"], t["reason"], t["when"]]
    listing = _table(head, rows, "troubles") if rows else f"<p>{escape(t['no_troubles'])}</p>"
    return f'<section class="cards">{tiles}</section>{listing}'


def tables(engineers: Sequence[Row], groups: Sequence[Row], t: dict[str, str], lang: str) -> str:
    """The engineers' and the groups' tables, side by side where there is room."""
    return (
        f'<div class="tables">{teams(engineers, "engineer", t, lang)}'
        f"{teams(groups, 'group', t, lang)}</div>"
    )


def retry_form(nonce: str, csrf: str, query: str, t: dict[str, str]) -> str:
    """The button that queues the failed jobs again (a POST with the page's CSRF token)."""
    return (
        f'<form method="post" action="/admin/retry?{escape(query)}" class="retry">'
        f'<input type="hidden" name="nonce" value="{escape(nonce)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<button type="submit">{escape(t["retry"])}</button></form>'
    )
