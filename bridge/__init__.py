"""The bridge: Okdesk's closed tickets in, a rating from the person who asked back out.

Its rooms, lowest first; each may import only the rooms before it (and `bot`, `storage`,
`outbound`), as its own docstring says and `tests/test_architecture.py` checks:

    config    settings, logging, counters: what every room reads and reports into
    okdesk    Okdesk's REST API and its data as we read it
    rules     the rating workflow: states, transitions, decisions. Pure: no I/O
    outside   both vendors as the service reaches them: clients, lanes, the shared budget
    survey    asking people and taking their answers (`survey.replies`)
    report    the operator's report page and exports (`report.html` draws the page)
    team      the team's chat: an alert for each low rating, «Беру», the weekly digest
    worker    the job queue's loop: claiming, running, settling; reconciling, housekeeping
    web       the HTTP app: intake routes, limits, health, metrics, the report's routes
    admin     the administrator's command line

`python -m bridge` starts the web app with its worker (`__main__`).
"""
