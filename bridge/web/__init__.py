"""The web app: the FastAPI app (`app`), the server and who holds its connections (`server`,
`connections`, `limits`), accepting what the vendors send (`intake`, `grouped`,
`installation`), imbot.v2's fetched events (`polling`, `set_aside`), health and gauges
(`health`, `gauges`), and the routes, one module per sender (`routes`).

May import every room but `bridge.admin`.
"""

__all__ = ["app", "server", "set_aside"]
