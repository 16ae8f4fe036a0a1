"""uvicorn's logging for the agent: the access log on stderr, without query strings.

uvicorn's default configuration writes the access log to stdout with the full
request target. The agent keeps stdout free and writes every log line to
stderr; a query string may hold a secret (a token pasted into a URL), so the
access log shows the path alone (see docs/agent.md, "`snoozebot agent serve`").
"""

from __future__ import annotations

import copy
import logging
from typing import Any

__all__ = ["PathOnly", "log_config"]


class PathOnly(logging.Filter):
    """Cut the query string off the request target of uvicorn's access log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:  # client, method, target, version, status
            client, method, target, version, status = args
            record.args = (client, method, str(target).partition("?")[0], version, status)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's ``log_config``: its defaults, with the access log on stderr and filtered."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"path_only": {"()": PathOnly}}
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config["loggers"]["uvicorn.access"]["filters"] = ["path_only"]
    return config
