"""The CLI's client of a running agent: plugin and instance calls over its REST API.

With ``--agent URL`` (or ``$SNOOZEBOT_AGENT_URL``) and ``$SNOOZEBOT_TOKEN``, the
``plugins`` and ``instance`` commands run on an :class:`AgentBackend` instead
of the local one: the same :class:`~snoozebot.backend.Backend` operations,
answered by the agent, with the same results (and errors, hence exit codes)
as the local path. The agent audits stops and starts (the token's name is the
actor), so nothing is written locally.

Agent answers become the host's exceptions: 401/403 and bad input are usage
errors (exit 2); an unknown, unloaded, crashed or hung plugin is
:class:`~snoozebot.errors.PluginUnavailable` (exit 3); cloud errors are the
provider's :class:`~snoozebot.sdk.ProviderError` (exit 1); an agent that cannot
be reached is :class:`AgentUnavailable` (exit 3).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from snoozebot import sdk
from snoozebot.backend import OnDone
from snoozebot.errors import (
    EXIT_UNAVAILABLE,
    PluginCrashed,
    PluginIncompatible,
    PluginLoadError,
    PluginNotFound,
    PluginTimeout,
    PluginUnavailable,
    SnoozebotError,
    UsageError,
    provider_error_from_wire,
)
from snoozebot.fleet import Scope
from snoozebot.host.manager import LoadReport, PluginStatus
from snoozebot.host.replies import parse_instance, parse_instances
from snoozebot.results import Action, ActionResult
from snoozebot.runtime import AGENT_URL_ENV

if TYPE_CHECKING:
    import httpx

__all__ = [
    "TOKEN_ENV",
    "AgentBackend",
    "AgentConnection",
    "AgentProviderCalls",
    "AgentUnavailable",
    "agent_url",
    "error_from_answer",
    "instances_path",
]

TOKEN_ENV = "SNOOZEBOT_TOKEN"  # noqa: S105 - the variable's name, not a token

_ACTION_THREADS = 16
_HTTP_GRACE_SECONDS = 5.0
_PLUGIN_ERRORS: dict[str, type[PluginUnavailable]] = {
    cls.code: cls
    for cls in (PluginNotFound, PluginLoadError, PluginIncompatible, PluginCrashed, PluginTimeout)
}


class AgentUnavailable(SnoozebotError):
    """The agent could not be reached, or answered something that is not the API."""

    code = "agent_unavailable"
    exit_code = EXIT_UNAVAILABLE


def agent_url(option: str | None) -> str | None:
    """``--agent``, else ``$SNOOZEBOT_AGENT_URL``, else None (work locally)."""
    url = option or os.environ.get(AGENT_URL_ENV) or None
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"the agent URL must look like http://HOST:PORT, got {url!r}")
    return url.rstrip("/")


def error_from_answer(status: int, body: Any) -> Exception:
    """The host exception for an agent's error answer."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return AgentUnavailable(f"the agent answered HTTP {status} without an error body")
    code = str(error.get("code", "error"))
    message = str(error.get("message", ""))
    plugin = str(error.get("plugin") or "")
    if status in (401, 403):
        return UsageError(f"the agent refused the token ({TOKEN_ENV}): {message}")
    if code in _PLUGIN_ERRORS:
        return _PLUGIN_ERRORS[code](plugin, message)
    if code == "not_loaded" or (status == 503 and code != sdk.ConfigurationError.code):
        return PluginUnavailable(plugin, message)
    if status in (502, 503) or code == sdk.InstanceNotFound.code:
        return provider_error_from_wire(error)
    if status in (404, 405):
        return AgentUnavailable(f"HTTP {status} ({message}) from the agent: is that URL a snoozebot agent?")
    if 400 <= status < 500:
        return UsageError(message)
    return AgentUnavailable(f"the agent answered HTTP {status}: {message}")


class AgentConnection:
    """HTTP to one agent with a bearer token; error answers raise the host's exceptions."""

    def __init__(self, url: str, token: str, *, timeout: float) -> None:
        import httpx  # only in agent mode: local commands never pay for it

        self.url = url
        self._http: httpx.Client = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout + _HTTP_GRACE_SECONDS,
        )

    @classmethod
    def from_environment(cls, url: str, *, timeout: float) -> AgentConnection:
        """A connection with the token from ``$SNOOZEBOT_TOKEN`` (a usage error without one)."""
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            raise UsageError(
                f"set {TOKEN_ENV} to use the agent at {url} "
                "(create one there: snoozebot agent token create --role viewer --name NAME)"
            )
        return cls(url, token, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of one request; raises the mapped exception for an error answer."""
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise AgentUnavailable(
                f"the agent at {self.url} did not answer {method} {path} in time"
            ) from None
        except httpx.HTTPError as exc:
            raise AgentUnavailable(f"cannot reach the agent at {self.url}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            raise AgentUnavailable(
                f"the agent at {self.url} answered HTTP {response.status_code} with something else than JSON"
            ) from None
        if response.status_code >= 400:
            raise error_from_answer(response.status_code, body)
        return body

    def close(self) -> None:
        self._http.close()


class AgentProviderCalls:
    """The read operations of one provider, answered by the agent."""

    def __init__(self, connection: AgentConnection, name: str) -> None:
        self.name = name
        self._agent = connection

    def list_instances(self, filters: Mapping[str, str] | None = None) -> list[sdk.Instance]:
        pairs = [f"{k}={v}" for k, v in (filters or {}).items()]
        found = self._agent.request("GET", instances_path(self.name), params={"filter": pairs})
        return parse_instances(found, self.name)

    def get_instance_info(self, instance_id: str) -> sdk.Instance:
        return parse_instance(self._agent.request("GET", instances_path(self.name, instance_id)), self.name)


def _no_target(scope: Scope | None) -> None:
    if scope is not None and scope.target is not None:
        raise UsageError(
            f"{scope.describe()}: fleet targets are not served through the agent; "
            "run the command without --agent (the REST API names one provider)"
        )


def instances_path(provider: str, instance_id: str | None = None) -> str:
    """The REST path of a provider's instances, or of one of them (ids may hold ``/``)."""
    base = f"/api/providers/{quote(provider, safe='')}/instances"
    return base if instance_id is None else f"{base}/{quote(instance_id, safe='/')}"


class AgentBackend:
    """The ``plugins`` and ``instance`` operations answered by a running agent (a
    :class:`~snoozebot.backend.Backend`); nothing runs locally, and the agent audits."""

    def __init__(self, connection: AgentConnection) -> None:
        self.agent = connection

    def _status(self, name: str) -> PluginStatus:
        return PluginStatus.from_dict(self.agent.request("GET", f"/api/plugins/{quote(name, safe='')}"))

    def statuses(self, *, fresh: bool = False) -> list[PluginStatus]:
        # The agent's discovery always scans afresh.
        return [PluginStatus.from_dict(d) for d in self.agent.request("GET", "/api/plugins/discover")]

    def describe(self, name: str) -> PluginStatus:
        return self._status(name)

    def loaded_names(self) -> list[str]:
        return [d["name"] for d in self.agent.request("GET", "/api/plugins")]

    def load(self, name: str) -> LoadReport:
        answer = self.agent.request("POST", "/api/plugins/load", json={"plugin": name})
        required = [self._status(n) for n in answer.get("also_loaded", [])]
        return LoadReport([*required, PluginStatus.from_dict(answer)], answer.get("config_error"))

    def unload(self, name: str, *, force: bool = False) -> list[str]:
        answer = self.agent.request("POST", "/api/plugins/unload", json={"plugin": name, "force": force})
        return [*answer.get("also_unloaded", []), name]

    def provider(self, name: str, *, scope: Scope | None = None) -> AgentProviderCalls:
        _no_target(scope)
        return AgentProviderCalls(self.agent, name)

    def expand_options(self, provider: str, options: Mapping[str, str]) -> dict[str, list[str]]:
        return {}  # targets do not go through the agent (see _no_target)

    def act(
        self,
        provider: str,
        action: Action,
        instance_ids: list[str],
        *,
        hibernate: bool = False,
        dry_run: bool = False,
        on_done: OnDone | None = None,
        scope: Scope | None = None,
    ) -> list[ActionResult]:
        """One request per id, concurrently; the agent audits each under the token's name."""
        _no_target(scope)
        body: dict[str, bool] = {"dry_run": dry_run}
        if action == "stop":
            body["hibernate"] = hibernate

        def one(instance_id: str) -> ActionResult:
            path = f"{instances_path(provider, instance_id)}/{action}"
            try:
                answer = self.agent.request("POST", path, json=body)
                doc = answer.get("instance") if isinstance(answer, dict) else None
                result = ActionResult(instance_id, provider, parse_instance(doc, provider))
            except sdk.ProviderError as exc:
                result = ActionResult.failed(instance_id, provider, exc)
            if on_done is not None:
                on_done(1)
            return result

        threads = max(1, min(_ACTION_THREADS, len(instance_ids)))
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(one, instance_ids))

    def close(self) -> None:
        self.agent.close()
