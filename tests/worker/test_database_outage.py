"""PostgreSQL goes away for a few seconds while the service runs (connections refused, sessions
terminated): readiness reports it while it lasts, and the worker is still alive afterwards."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import make_url

from harness.constants import CONTACT_ID
from harness.payloads import closed_webhook, fixture_json, rest_issue
from harness.processes import Service, fakes_process, free_port, register_bot, service_env
from harness.proxy import Proxy
from harness.waiting import wait_for
from tests.databases import private_postgres

pytestmark = pytest.mark.slow


def _terminate_sessions(database_url: str) -> int:
    """What a PostgreSQL restart or failover does to the service's open connections."""
    url = make_url(database_url)
    admin = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as db:
        rows = db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (url.database,),
        ).fetchall()
    return len(rows)


def _ready(service: Service) -> tuple[int, dict[str, object]]:
    try:
        response = httpx.get(service.url + "/readyz", timeout=3)
    except httpx.TransportError:
        return 0, {}
    return response.status_code, response.json()


def test_postgres_outage_is_reported_and_survived(tmp_path: Path) -> None:
    with private_postgres("outage") as database_url, fakes_process() as fakes:
        fakes.seed(
            "okdesk",
            {
                "contacts": {str(CONTACT_ID): fixture_json("okdesk/contact_11771.json")},
                "issues": {str(i): rest_issue(i) for i in (801, 802)},
            },
        )
        fakes.seed("bitrix", {"users": fixture_json("bitrix24/user_get_by_email.json")["result"]})
        server = make_url(database_url)
        with Proxy(server.host or "127.0.0.1", server.port or 5432) as proxy:
            proxied = server.set(host="127.0.0.1", port=int(proxy.url.rsplit(":", 1)[1]))
            env = service_env(fakes, proxied.render_as_string(hide_password=False), free_port())
            register_bot(env, tmp_path)
            service = Service(env, tmp_path / "service.log")
            service.start()
            try:
                assert service.senders().webhook(closed_webhook(801)).status_code == 200
                wait_for(lambda: len(fakes.state("bitrix")["messages"]) == 1, within=15)
                wait_for(lambda: _ready(service)[0] == 200, within=15)

                proxy.set_mode("refuse")
                _terminate_sessions(database_url)
                wait_for(lambda: _ready(service)[0] == 503, within=15)
                status, body = _ready(service)
                print(f"\nreadiness during the outage: {status} {body}")
                assert "unreachable" in str(body["checks"])
                time.sleep(3)

                proxy.set_mode("pass")
                wait_for(lambda: _ready(service)[0] == 200, within=40)
                assert service.senders().webhook(closed_webhook(802)).status_code == 200
                wait_for(lambda: len(fakes.state("bitrix")["messages"]) == 2, within=40)
            finally:
                service.stop()
        log = (tmp_path / "service.log").read_text(errors="replace")
        assert "worker.pass_failed" in log or "storage.unavailable" in log
