"""Request and response bodies; they are the agent's OpenAPI schema."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from snoozebot.agent.tokens import Role
from snoozebot.sdk import InstanceState

__all__ = [
    "ActionResultModel",
    "ErrorBody",
    "ErrorDetail",
    "Health",
    "InstanceModel",
    "LoadedPluginModel",
    "PluginRequest",
    "PluginStatusModel",
    "StartRequest",
    "StopRequest",
    "TokenCreateRequest",
    "TokenCreatedModel",
    "TokenModel",
    "UnloadRequest",
    "UnloadedPluginModel",
]

_Strict = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. not_loaded, instance_not_found.")
    message: str = Field(description="One line for people.")
    cloud_code: str | None = Field(None, description="The cloud's own error code (cloud errors only).")
    plugin: str | None = Field(None, description="The plugin concerned (plugin errors only).")


class ErrorBody(BaseModel):
    """Every error response."""

    error: ErrorDetail


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class PluginRequest(BaseModel):
    """Body of ``POST /api/plugins/load`` and ``/unload``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"plugin": "aws"}]})
    plugin: str = Field(
        min_length=1, max_length=100, description="Provider name, as in GET /api/plugins/discover."
    )


class PluginStatusModel(BaseModel):
    """A provider: what is installed, whether it is loaded, and its worker's health."""

    name: str
    distribution: str | None
    version: str | None = Field(description="The distribution's version.")
    entry_point: str
    loaded: bool
    error: str | None = Field(description="Installation problem (broken entry point, duplicate name).")
    status: str = Field(description="Worker: running, crashed, stopped or not started.")
    plugin_version: str | None
    api_version: str | None
    capabilities: list[str] = Field(
        default_factory=list, description="Optional methods the worker announced (plugin API 1.1)."
    )
    pid: int | None
    restarts: int
    crashes: int
    last_error: str | None
    problems: list[str] = Field(description="Unmet requirements (core, libraries, other providers).")


class LoadedPluginModel(PluginStatusModel):
    """The answer to a load: the status plus the provider's setup problem, if any."""

    config_error: str | None = Field(
        description="Why the provider is not configured yet (credentials, region)."
    )
    also_loaded: list[str] = Field(description="Providers it requires, loaded first.")


class UnloadedPluginModel(PluginStatusModel):
    """The answer to an unload: the status plus the providers unloaded with it (``force``)."""

    also_unloaded: list[str] = Field(description="Loaded providers that required it, unloaded first.")


class UnloadRequest(PluginRequest):
    """Body of ``POST /api/plugins/unload``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"plugin": "aws"}]})
    force: bool = Field(False, description="Also unload the loaded providers that require it.")


class InstanceModel(BaseModel):
    """An instance as in the plugin contract (docs/plugin-guide.md, "The contract, briefly")."""

    id: str
    provider: str
    state: InstanceState
    raw_state: str
    name: str | None
    instance_type: str | None
    region: str | None
    zone: str | None
    launch_time: str | None = Field(description="ISO 8601, UTC.")
    tags: dict[str, str]
    public_ip: str | None = Field(None, description="Address from outside its network, if any.")
    private_ip: str | None = Field(None, description="Address inside its network, if known.")


class StopRequest(BaseModel):
    """Body of ``POST .../stop`` (optional)."""

    model_config = _Strict
    hibernate: bool = Field(False, description="Hibernate/suspend, keeping memory, where the cloud can.")
    dry_run: bool = Field(False, description="Check permissions and state; change nothing.")


class StartRequest(BaseModel):
    """Body of ``POST .../start`` (optional)."""

    model_config = _Strict
    dry_run: bool = Field(False, description="Check permissions and state; change nothing.")


class ActionResultModel(BaseModel):
    """The result of a stop or start, as the CLI's ``--json`` shows it, plus the instance."""

    id: str
    provider: str
    ok: bool
    state: str | None
    error: ErrorDetail | None
    instance: InstanceModel | None


class TokenModel(BaseModel):
    name: str
    role: Role
    created: str


class TokenCreateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "ci", "role": "viewer"}]}
    )
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    role: Role


class TokenCreatedModel(TokenModel):
    token: str = Field(description="The bearer token; shown this once, only its salted hash is stored.")
