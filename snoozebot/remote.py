"""The CLI's client of a running agent: plugin and instance calls over its REST API.

With ``--agent URL`` (or ``$SNOOZEBOT_AGENT_URL``) and ``$SNOOZEBOT_TOKEN``, the
``plugins`` and ``instance`` commands swap their local plugin manager for a
:class:`RemoteManager`: the same methods the commands call, answered by the
agent. :class:`RemoteProviderClient` is a :class:`ProviderClient` whose wire is
HTTP instead of a worker pipe, so the results (and the errors, hence the exit
codes) are the ones the local path produces. The agent audits stops and starts
(the token's name is the actor), so :func:`run_actions` writes no local record.

Agent answers become the host's exceptions: 401/403 and bad input are usage
errors (exit 2); an unknown, unloaded, crashed or hung plugin is
:class:`~snoozebot.errors.PluginUnavailable` (exit 3); cloud errors are the
provider's :class:`~snoozebot.sdk.ProviderError` (exit 1); an agent that cannot
be reached is :class:`AgentUnavailable` (exit 3).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from snoozebot import sdk
from snoozebot.config import Config
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
from snoozebot.host.client import ProviderClient
from snoozebot.host.discovery import DiscoveredPlugin
from snoozebot.host.manager import PluginManager, PluginStatus
from snoozebot.operations import Action, ActionResult

if TYPE_CHECKING:
    import httpx

    from snoozebot.cli.runtime import Runtime

__all__ = [
    "AGENT_URL_ENV",
    "TOKEN_ENV",
    "AgentConnection",
    "AgentUnavailable",
    "RemoteManager",
    "RemoteProviderClient",
    "agent_url",
    "error_from_answer",
    "run_actions",
]

AGENT_URL_ENV = "SNOOZEBOT_AGENT_URL"
TOKEN_ENV = "SNOOZEBOT_TOKEN"  # noqa: S105 - the variable's name, not a token

_ACTION_THREADS = 16
_HTTP_GRACE_SECONDS = 5.0
_PLUGIN_ERRORS: dict[str, type[PluginUnavailable]] = {
    cls.code: cls
    for cls in (PluginNotFound, PluginLoadError, PluginIncompatible, PluginCrashed, PluginTimeout)
}

OnDone = Callable[[int], None]


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


def _status(doc: dict[str, Any]) -> PluginStatus:
    return PluginStatus(
        name=doc["name"],
        distribution=doc.get("distribution"),
        version=doc.get("version"),
        target=doc.get("entry_point", ""),
        loaded=bool(doc.get("loaded")),
        error=doc.get("error"),
        status=doc.get("status", "not started"),
        plugin_version=doc.get("plugin_version"),
        api_version=doc.get("api_version"),
        pid=doc.get("pid"),
        restarts=int(doc.get("restarts") or 0),
        crashes=int(doc.get("crashes") or 0),
        last_error=doc.get("last_error"),
        problems=tuple(doc.get("problems") or ()),
    )


def _plugin(status: PluginStatus) -> DiscoveredPlugin:
    return DiscoveredPlugin(status.name, status.target, status.distribution, status.version, status.error)


class RemoteProviderClient(ProviderClient):
    """The provider operations of one provider, answered by the agent instead of a worker."""

    def __init__(self, connection: AgentConnection, name: str, *, timeout: float) -> None:
        # No supervisor: every call goes through _call, which speaks HTTP.
        self.name = name
        self.timeout = timeout
        self._agent = connection
        self.config_error: str | None = None

    def _instances_path(self, instance_id: str | None = None) -> str:
        base = f"/api/providers/{quote(self.name, safe='')}/instances"
        return base if instance_id is None else f"{base}/{quote(instance_id, safe='/')}"

    def _call(self, method: str, params: dict[str, Any]) -> Any:
        if method == "ping":
            self._agent.request("GET", f"/api/plugins/{quote(self.name, safe='')}")
            error = {"code": sdk.ConfigurationError.code, "message": self.config_error}
            return {"error": error if self.config_error else None}
        if method == "list_instances":
            filters = [f"{k}={v}" for k, v in params["filters"].items()]
            return self._agent.request("GET", self._instances_path(), params={"filter": filters})
        if method == "get_instance_info":
            return self._agent.request("GET", self._instances_path(params["instance_id"]))
        if method in ("stop_instances", "start_instances"):
            return self._act(method.partition("_")[0], params)
        raise UsageError(f"{method} is not available through the agent")

    def _act(self, action: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        body = {"dry_run": params["dry_run"]}
        if action == "stop":
            body["hibernate"] = params["hibernate"]

        def one(instance_id: str) -> dict[str, Any]:
            path = f"{self._instances_path(instance_id)}/{action}"
            try:
                answer = self._agent.request("POST", path, json=body)
            except sdk.ProviderError as exc:
                error = {"code": exc.code, "message": exc.message, "cloud_code": exc.cloud_code}
                return {"id": instance_id, "error": error}
            return {"id": instance_id, "instance": answer["instance"]}

        ids: list[str] = params["instance_ids"]
        with ThreadPoolExecutor(max_workers=max(1, min(_ACTION_THREADS, len(ids)))) as pool:
            return list(pool.map(one, ids))


class RemoteManager(PluginManager):
    """The plugin manager's operations, answered by the agent (nothing runs locally)."""

    def __init__(
        self, connection: AgentConnection, *, config: Config, state_directory: Path, timeout: float
    ) -> None:
        super().__init__(config=config, state_directory=state_directory, timeout=timeout)
        self.agent = connection
        self._clients: dict[str, RemoteProviderClient] = {}

    def _get(self, name: str) -> PluginStatus:
        return _status(self.agent.request("GET", f"/api/plugins/{quote(name, safe='')}"))

    def statuses(self, *, fresh: bool = False) -> list[PluginStatus]:
        return [_status(d) for d in self.agent.request("GET", "/api/plugins/discover")]

    def discover(self) -> list[DiscoveredPlugin]:
        return [_plugin(s) for s in self.statuses()]

    def find(self, name: str, plugins: list[DiscoveredPlugin] | None = None) -> DiscoveredPlugin:
        return _plugin(self._get(name))

    def status(self, plugin: DiscoveredPlugin, loaded: set[str] | None = None) -> PluginStatus:
        return self._get(plugin.name)

    def loaded_names(self) -> list[str]:
        return [d["name"] for d in self.agent.request("GET", "/api/plugins")]

    def client(self, name: str) -> RemoteProviderClient:
        if name not in self._clients:
            self._clients[name] = RemoteProviderClient(self.agent, name, timeout=self.timeout)
        return self._clients[name]

    def load_all(self, name: str) -> list[PluginStatus]:
        answer = self.agent.request("POST", "/api/plugins/load", json={"plugin": name})
        self.client(name).config_error = answer.get("config_error")
        return [*(self._get(n) for n in answer.get("also_loaded", [])), _status(answer)]

    def unload(self, name: str, *, force: bool = False) -> list[str]:
        answer = self.agent.request("POST", "/api/plugins/unload", json={"plugin": name, "force": force})
        return [*answer.get("also_unloaded", []), name]

    def supervisor(self, name: str) -> Any:
        raise UsageError("workers are the agent's own; this command cannot run through the agent")

    def shutdown(self) -> None:
        self.agent.close()


def run_actions(
    rt: Runtime,
    provider: str,
    action: Action,
    instance_ids: list[str],
    *,
    hibernate: bool = False,
    dry_run: bool = False,
    on_done: OnDone | None = None,
) -> list[ActionResult]:
    """Stop or start through the agent, which audits each attempt under the token's name."""
    client = rt.manager.client(provider)
    ids = list(dict.fromkeys(instance_ids))
    if action == "stop":
        outcomes = client.stop_instances(ids, hibernate=hibernate, dry_run=dry_run)
    else:
        outcomes = client.start_instances(ids, dry_run=dry_run)
    if on_done is not None:
        on_done(len(ids))
    return [ActionResult.from_outcome(o) for o in outcomes]
