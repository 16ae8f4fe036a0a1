"""The REST agent (FastAPI on uvicorn): plugins and instances over HTTP.

One module per job:

- :mod:`~snoozebot.agent.tokens`: roles, bearer tokens and their salted-hash store
- :mod:`~snoozebot.agent.auth`: the FastAPI dependency that checks a token and a role
- :mod:`~snoozebot.agent.service`: the async facade over the plugin manager (thread pool, locks, audit)
- :mod:`~snoozebot.agent.errors`: JSON error bodies and the exception → HTTP status mapping
- :mod:`~snoozebot.agent.limits`: the request body size limit
- :mod:`~snoozebot.agent.metrics`: Prometheus metrics
- :mod:`~snoozebot.agent.models`: request and response bodies (the OpenAPI schema)
- :mod:`~snoozebot.agent.routes`: the routers
- :mod:`~snoozebot.agent.app`: :func:`~snoozebot.agent.app.create_app`
- :mod:`~snoozebot.agent.serve`: running it under uvicorn
- :mod:`~snoozebot.agent.ui`: the web UI at ``/ui``, a router on the same app and auth

Nothing here is imported by the CLI unless an ``agent`` command runs.
"""

__all__: list[str] = []
