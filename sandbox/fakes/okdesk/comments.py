"""A ticket's comments in the fake Okdesk (okdesk.md §7): posted wrapped or flat, listed oldest
first."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sandbox.fakes.okdesk.readings import Readings, rewritten
from sandbox.fakes.okdesk.wire import ValidationError


class RefusedError(Exception):
    """The key may not write this comment (a contact's, with `contact_comments` refused)."""


class Comments:
    """Every ticket's comments, in the shape `GET .../comments` lists them."""

    def __init__(self, contacts: dict[int, dict[str, Any]], readings: Readings) -> None:
        self.contacts = contacts
        self.readings = readings
        # Issue id → its comments, oldest first.
        self.by_issue: dict[int, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    def add(self, issue_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """Store the comment a request body posts, or raise ValidationError."""
        wrapped = body.get("comment")
        fields = wrapped if isinstance(wrapped, dict) else body
        comment = self._new_comment(fields)
        if comment["author"]["type"] == "contact" and self.readings.contact_comments == "refused":
            raise RefusedError
        if self.readings.rewrite_html:
            comment["content"] = rewritten(comment["content"])
        self.by_issue.setdefault(issue_id, []).append(comment)
        return comment

    def _new_comment(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A comment from the request's fields, or raise ValidationError."""
        errors: dict[str, Any] = {}
        content, author_id = fields.get("content"), fields.get("author_id")
        author_type = fields.get("author_type", "employee")
        public = fields.get("public", False)
        if not isinstance(content, str) or not content.strip():
            errors["content"] = ["отсутствует"]
        if author_id is None or author_id == "":
            errors["author_id"] = ["отсутствует"]
        elif not str(author_id).isdigit():
            errors["author_id"] = ["имеет неверное значение"]
        if author_type not in ("employee", "contact"):
            errors["author_type"] = ["имеет непредусмотренное значение"]
        if not isinstance(public, bool):
            errors["public"] = ["имеет неверное значение"]
        if errors:
            raise ValidationError(errors)
        author = {"id": int(str(author_id)), "name": None, "type": author_type}
        if author_type == "contact":
            contact = self.contacts.get(author["id"], {})
            author["name"] = contact.get("name") or contact.get("first_name")
        return {
            "id": next(self._ids),
            "content": content,
            "public": public,
            "attachments": [],
            "author": author,
            "published_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
