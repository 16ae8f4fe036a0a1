"""A trimmed EC2 service model, so the worker's client is ready sooner.

Creating an EC2 client is the critical path of a single ``instance stop``:
botocore parses the whole EC2 model (over 800 operations, about 4,400
shapes), scans every service directory to find it, and builds a method for
every operation. This provider calls three operations. The first client
built with a given botocore version loads the full models as usual and
stores just what those three need (their shapes, the DescribeInstances
paginator, the endpoint rules, and the endpoints table without the 300-odd
other services) in the user cache directory; later clients load that small
file instead. With ``AWS_DATA_PATH`` set, botocore's own loading is used.
Anything unexpected falls back to botocore's normal loading: the cache is an
optimisation, never a requirement. It buys 103-417 ms of a single ``instance
stop`` in five runs (benchmarks/bench_aws_stop.py, "full model": once 1.26x a
bare boto3 script without it, 0.93x with it).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import botocore
import botocore.session
from botocore.loaders import Loader

__all__ = ["OPERATIONS", "cached_models", "session_with_models", "trim", "trim_endpoints"]

OPERATIONS = ("DescribeInstances", "StopInstances", "StartInstances")
"""The EC2 operations this provider calls; the trimmed model holds only these."""

_FORMAT = 2
_SERVICE = "ec2"
_TYPES = ("service-2", "paginators-1", "endpoint-rule-set-1")
_ENDPOINT_SERVICES = frozenset({"ec2", "sts", "sso", "sso-oidc", "portal.sso"})
"""Services kept in the trimmed endpoints table: EC2, and what credential providers may call."""


def _shape_refs(shape: Mapping[str, Any]) -> Iterable[str]:
    for key in ("member", "key", "value"):
        if key in shape:
            yield shape[key]["shape"]
    for member in (shape.get("members") or {}).values():
        yield member["shape"]


def trim(service: Mapping[str, Any], operations: Iterable[str] = OPERATIONS) -> dict[str, Any]:
    """The service model reduced to ``operations`` and every shape they reach."""
    ops = {name: service["operations"][name] for name in operations}
    todo = [
        ref["shape"]
        for op in ops.values()
        for ref in (op.get("input"), op.get("output"), *(op.get("errors") or []))
        if ref
    ]
    keep: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo.extend(_shape_refs(service["shapes"][name]))
    return {
        "version": service.get("version", "2.0"),
        "metadata": service["metadata"],
        "operations": ops,
        "shapes": {name: service["shapes"][name] for name in sorted(keep)},
    }


def _cache_file() -> Path:
    import platformdirs

    directory = Path(platformdirs.user_cache_dir("snoozebot"))
    return directory / f"aws-ec2-model-{botocore.__version__}-{_FORMAT}.json"


def trim_endpoints(
    endpoints: Mapping[str, Any], services: Iterable[str] = _ENDPOINT_SERVICES
) -> dict[str, Any]:
    """botocore's endpoints table (every partition and region) reduced to ``services``."""
    keep = set(services)
    partitions = [
        {**p, "services": {k: v for k, v in p.get("services", {}).items() if k in keep}}
        for p in endpoints["partitions"]
    ]
    return {**endpoints, "partitions": partitions}


def _build(loader: Loader) -> dict[str, Any]:
    paginators = loader.load_service_model(_SERVICE, "paginators-1")
    endpoints, endpoints_path = loader.load_data_with_path("endpoints")
    return {
        "service-2": trim(loader.load_service_model(_SERVICE, "service-2")),
        "paginators-1": {"pagination": {"DescribeInstances": paginators["pagination"]["DescribeInstances"]}},
        "endpoint-rule-set-1": loader.load_service_model(_SERVICE, "endpoint-rule-set-1"),
        "endpoints": trim_endpoints(endpoints),
        "endpoints_path": endpoints_path,
    }


def _write_atomically(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cached_models(loader_factory: type[Loader] = Loader) -> dict[str, Any] | None:
    """The trimmed models from the cache, building and storing them on a miss; None on any failure."""
    path = _cache_file()
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if isinstance(data, dict) and all(t in data for t in (*_TYPES, "endpoints", "endpoints_path")):
            return data
    except (OSError, ValueError):
        pass
    try:
        data = _build(loader_factory())
    except Exception:
        return None
    with contextlib.suppress(OSError):
        _write_atomically(path, data)
        for stale in path.parent.glob("aws-ec2-model-*.json"):
            if stale != path:
                stale.unlink()
    return data


class _TrimmedLoader(Loader):  # type: ignore[misc]
    """botocore's loader, answering EC2's three model types from memory."""

    def __init__(self, models: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._models = models
        self._api_version = models["service-2"]["metadata"].get("apiVersion")

    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        if (
            service_name == _SERVICE
            and type_name in self._models
            and api_version in (None, self._api_version)
        ):
            return self._models[type_name]
        return super().load_service_model(service_name, type_name, api_version)

    def load_data_with_path(self, name: str) -> Any:
        if name == "endpoints":
            return self._models["endpoints"], self._models["endpoints_path"]
        return super().load_data_with_path(name)


def session_with_models() -> botocore.session.Session:
    """A botocore session whose loader serves the trimmed EC2 models (plain session on failure)."""
    session = botocore.session.Session()
    if session.get_config_variable("data_path"):
        return session  # custom models or endpoints (AWS_DATA_PATH): load exactly those
    models = cached_models()
    if models is None:
        return session
    session.register_component("data_loader", _TrimmedLoader(models))
    return session
