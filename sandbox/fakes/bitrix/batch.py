"""batch: up to 50 REST calls in one request, each answered or failed under its own key.

A sub-call may name an earlier one's result (`$result[key][i][FIELD]`); `halt` stops at the
first failure; a nested batch is refused; each map comes back as a PHP array, so keys "0".."n-1"
are a JSON list.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

from sandbox.fakes._common import unflatten
from sandbox.fakes.bitrix.php import (
    Answer,
    BitrixError,
    as_str,
    method_key,
    php_json_array,
    resolve_refs,
    time_info,
    truthy,
)

MAX_BATCH = 50


class BatchMethods:
    """`batch`, mixed into `FakeBitrix`, which runs each sub-call through its `_call`."""

    operating_reset_at: int | None

    def _call(self, method: str, params: dict[str, Any]) -> Answer:
        raise NotImplementedError  # FakeBitrix's: record, queued failure, scope, method

    def _batch_call(self, method: str, params: dict[str, Any]) -> Answer:
        """One sub-call, run as a request of its own would be (imbot.v2 narrows this)."""
        return self._call(method, params)

    def _batch(self, params: dict[str, Any]) -> Answer:
        """batch: run up to 50 sub-calls, collecting results and errors per key."""
        cmd = params.get("CMD") or {}
        commands = dict(enumerate(cmd)) if isinstance(cmd, list) else cmd
        if not isinstance(commands, dict):
            raise BitrixError("INVALID_REQUEST", "cmd must be an object")
        if len(commands) > MAX_BATCH:
            raise BitrixError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
        out: dict[str, dict[str, Any]] = {
            n: {} for n in ("result", "error", "total", "next", "time")
        }
        for key, query in commands.items():
            if not self._batch_one(str(key), as_str(query), out) and truthy(params.get("HALT")):
                break
        # Each map is a PHP array keyed by the cmd keys: "0".."n-1" come back as a JSON list.
        names = {"result": "result", "error": "result_error", "total": "result_total"}
        names.update(next="result_next", time="result_time")
        return Answer({name: php_json_array(out[part]) for part, name in names.items()})

    def _batch_one(self, key: str, query: str, out: dict[str, dict[str, Any]]) -> bool:
        """Run one batch sub-call into `out`; return False when it failed."""
        start = time.time()
        name, _, query_string = query.partition("?")
        method = method_key(name)
        params = unflatten(parse_qsl(query_string, keep_blank_values=True))
        try:
            if method == "batch":
                raise BitrixError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed")
            answer = self._batch_call(method, resolve_refs(params, out["result"]))
        except BitrixError as error:
            out["error"][key] = error.body()
            return False
        out["result"][key] = answer.result
        if answer.total is not None:
            out["total"][key] = answer.total
        if answer.next is not None:
            out["next"][key] = answer.next
        out["time"][key] = time_info(start, self.operating_reset_at)
        return True
