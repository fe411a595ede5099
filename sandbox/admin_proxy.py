"""The service's report page inside the sandbox (`/admin`): the page's own address serves it,
with the sandbox's ADMIN_TOKEN added, so that what you do in the sandbox fills it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


async def admin_page(request: Request) -> Response:
    """The service's report page (`/admin`, its forms and CSV), opened with the sandbox's
    ADMIN_TOKEN: the browser holds no token. A form posted from this page keeps its proof of
    origin, told in the service's own address; one from elsewhere stays foreign, and refused."""
    console = request.app.state.console
    assert console.sandbox.service is not None
    base = console.sandbox.service.url.rstrip("/")
    ours = f"{request.url.scheme}://{request.headers.get('host', '')}"
    headers = {"authorization": f"Bearer {console.sandbox.admin_token}"}
    for name in ("origin", "referer", "content-type"):
        value = request.headers.get(name)
        if value is not None:
            headers[name] = base + value[len(ours) :] if value.startswith(ours) else value
    answer = await console.client.request(
        request.method,
        f"{base}{request.url.path}",
        params=request.query_params,
        content=await request.body(),
        headers=headers,
    )
    kept = {k: v for k, v in answer.headers.items() if k in ("content-type", "location")}
    if kept.get("location", "").startswith(base):
        kept["location"] = kept["location"][len(base) :]
    disposition = answer.headers.get("content-disposition")
    if disposition:
        kept["content-disposition"] = disposition
    return Response(answer.content, answer.status_code, headers=kept)
