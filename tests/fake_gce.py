"""A stateful fake of the Compute Engine v1 REST API, for tests and benchmarks.

It serves the URL paths of the compute v1 discovery document under
``/compute/v1/`` on 127.0.0.1 (free port, in a thread) and answers in the API's
JSON shapes:

- ``instances.list`` (``projects/P/zones/Z/instances``) and ``instances.aggregatedList``
  (``projects/P/aggregated/instances``) with ``filter`` (AIP-160 equality on
  ``labels.KEY``, ``name``, ``status``), ``maxResults``/``pageToken`` pagination, and
  ``NO_RESULTS_ON_PAGE`` warnings for empty zones;
- ``instances.get``, and ``instances.stop|start|suspend|resume`` returning ``Operation``
  resources; a repeated ``requestId`` returns the first operation and acts once;
- ``zoneOperations.get`` and ``zoneOperations.wait`` (``POST .../operations/O/wait``);
- the Cloud Billing Catalog's ``services.skus.list`` (``GET /v1/services/S/skus``, at the
  root: what ``CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING`` holds is :attr:`root_url`),
  paginated, over the SKUs added with :meth:`FakeComputeEngine.add_sku`.

State changes take several observations, like the real thing: a stop turns a
RUNNING instance STOPPING and its operation PENDING; each later read of the
instance or its operation advances it one step (operation RUNNING) until the
instance is TERMINATED and the operation DONE. ``zoneOperations.wait`` advances
by one step per call (it may return before DONE, as the real one may).

Faults, for tests: ``delays`` slows a method down; :meth:`FakeComputeEngine.fail` answers the next N calls of a
method with an HTTP error (429, 5xx, ...); :meth:`~FakeComputeEngine.deny` answers
403 for one instance; :meth:`~FakeComputeEngine.fail_operation` makes the next
operation on an instance end DONE with an ``error`` and the instance back where
it was. Errors use Google's JSON error format. Run ``python tests/fake_gce.py``
to serve it by hand.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loopback import LoopbackServer

__all__ = [
    "ACCESS_TOKEN",
    "FakeComputeEngine",
    "RecordedRequest",
    "gcloud_free_environment",
    "isolate_from_google",
    "write_service_account_key",
]

_API_PREFIX = "/compute/v1/"
_SKUS = re.compile(r"/v1/(?P<service>services/[^/]+)/skus")
_TOKEN_PATH = "/token"
ACCESS_TOKEN = "ya29.fake-access-token"
"""What the fake's OAuth token endpoint (``/token``) hands out for a service-account key."""
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"projects/(?P<project>[^/]+)/aggregated/instances"), "instances.aggregatedList"),
    ("GET", re.compile(r"projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)/instances"), "instances.list"),
    (
        "GET",
        re.compile(r"projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)/instances/(?P<instance>[^/]+)"),
        "instances.get",
    ),
    (
        "POST",
        re.compile(
            r"projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)/instances/(?P<instance>[^/]+)"
            r"/(?P<verb>stop|start|suspend|resume)"
        ),
        "instances.{verb}",
    ),
    (
        "GET",
        re.compile(r"projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)/operations/(?P<operation>[^/]+)"),
        "zoneOperations.get",
    ),
    (
        "POST",
        re.compile(
            r"projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)/operations/(?P<operation>[^/]+)/wait"
        ),
        "zoneOperations.wait",
    ),
]
_STATUS_REASONS = {
    400: ("badRequest", "INVALID_ARGUMENT"),
    401: ("authError", "UNAUTHENTICATED"),
    403: ("forbidden", "PERMISSION_DENIED"),
    404: ("notFound", "NOT_FOUND"),
    405: ("methodNotAllowed", "METHOD_NOT_ALLOWED"),
    409: ("conflict", "ABORTED"),
    429: ("rateLimitExceeded", "RESOURCE_EXHAUSTED"),
    500: ("backendError", "INTERNAL"),
    503: ("backendError", "UNAVAILABLE"),
}
# verb -> (statuses it may start from, statuses on the way, final status); a start
# from the final status is an immediate no-op operation, as on the real API.
_VERBS: dict[str, tuple[set[str], list[str], str]] = {
    "stop": ({"RUNNING", "PROVISIONING", "STAGING", "SUSPENDED"}, ["STOPPING"], "TERMINATED"),
    "start": ({"TERMINATED"}, ["PROVISIONING", "STAGING"], "RUNNING"),
    "suspend": ({"RUNNING"}, ["SUSPENDING"], "SUSPENDED"),
    "resume": ({"SUSPENDED"}, ["PROVISIONING", "STAGING"], "RUNNING"),
}
_NOOP_FROM = {"stop": {"TERMINATED"}, "start": {"RUNNING"}}
_TERM = re.compile(r'^\s*\(?\s*([\w.\-]+)\s*(=|!=)\s*("([^"]*)"|[^\s()"]+)\s*\)?\s*$')


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ApiError(Exception):
    """An HTTP error answered in Google's JSON error format."""

    def __init__(self, status: int, message: str, reason: str | None = None, domain: str = "global") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or _STATUS_REASONS.get(status, ("error", "UNKNOWN"))[0]
        self.domain = domain

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [{"message": self.message, "domain": self.domain, "reason": self.reason}],
                "status": _STATUS_REASONS.get(self.status, ("", "UNKNOWN"))[1],
            }
        }


@dataclass
class RecordedRequest:
    """One request the fake received."""

    method: str
    api_method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    client_port: int = 0


@dataclass
class _Fault:
    api_method: str
    status: int
    remaining: int
    reason: str | None
    message: str


@dataclass
class _Transition:
    verb: str
    through: list[str]
    target: str
    origin: str
    steps: int
    operation: dict[str, Any]
    error: dict[str, str] | None = None
    ticks: int = 0


@dataclass
class _Vm:
    zone: str
    resource: dict[str, Any]
    transition: _Transition | None = None
    denied: set[str] = field(default_factory=set)
    next_error: dict[str, str] | None = None


class FakeComputeEngine(LoopbackServer):
    """The fake server; use as a context manager or call :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        *,
        project: str = "test-project",
        zones: tuple[str, ...] = ("us-central1-a", "us-central1-b", "europe-west1-b"),
        steps: int = 3,
        page_size: int = 500,
    ) -> None:
        self.project = project
        self.zones = list(zones)
        self.steps = steps
        self.page_size = page_size
        self.delays: dict[str, float] = {"zoneOperations.wait": 0.01}
        """Seconds each API method takes before answering (the real wait blocks a while)."""
        self.requests: list[RecordedRequest] = []
        self._vms: dict[tuple[str, str], _Vm] = {}
        self._operations: dict[tuple[str, str], tuple[_Vm, dict[str, Any]]] = {}
        self._request_ids: dict[str, dict[str, Any]] = {}
        self._faults: list[_Fault] = []
        self.skus: list[dict[str, Any]] = []
        """The billing catalog's SKUs (:meth:`add_sku`)."""
        self._ids = itertools.count(1000000000000000001)
        self._lock = threading.RLock()

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> FakeComputeEngine:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler), name="fake-gce")
        return self

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT/`` (the API's rootUrl)."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint to put in a service-account key's ``token_uri``."""
        return self.root_url + _TOKEN_PATH.lstrip("/")

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/compute/v1/``: what CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE holds."""
        return self.root_url + _API_PREFIX.lstrip("/")

    # -- state and faults ------------------------------------------------------------

    def add_instance(
        self,
        zone: str,
        name: str,
        *,
        status: str = "RUNNING",
        labels: dict[str, str] | None = None,
        machine_type: str = "e2-small",
    ) -> dict[str, Any]:
        """Create an instance directly (no operation); returns its resource."""
        with self._lock:
            if zone not in self.zones:
                self.zones.append(zone)
            link = f"{self.base_url}projects/{self.project}/zones/{zone}"
            resource: dict[str, Any] = {
                "kind": "compute#instance",
                "id": str(next(self._ids)),
                "creationTimestamp": "2026-01-05T09:30:00.000-08:00",
                "name": name,
                "machineType": f"{link}/machineTypes/{machine_type}",
                "status": status,
                "zone": link,
                "labels": dict(labels or {}),
                "labelFingerprint": "42WmSpB8rSM=",
                "selfLink": f"{link}/instances/{name}",
                "lastStartTimestamp": "2026-01-05T09:30:12.000-08:00",
                "networkInterfaces": [{"network": "global/networks/default", "networkIP": "10.128.0.2"}],
                "disks": [{"boot": True, "deviceName": name, "type": "PERSISTENT"}],
                "scheduling": {"automaticRestart": True, "onHostMaintenance": "MIGRATE"},
                "cpuPlatform": "Intel Broadwell",
                "fingerprint": "dZ0mNvKkNcA=",
            }
            self._vms[(zone, name)] = _Vm(zone, resource)
            return resource

    def add_sku(
        self, description: str, regions: list[str], usd: float, *, usage: str = "OnDemand", unit: str = "h"
    ) -> None:
        """A Compute Engine SKU of the billing catalog, in the API's shape (units and nanos of USD)."""
        units, nanos = int(usd), round((usd - int(usd)) * 1e9)
        with self._lock:
            self.skus.append({
                "name": f"services/6F81-5844-456A/skus/{len(self.skus):04X}-0000-0000",
                "skuId": f"{len(self.skus):04X}-0000-0000",
                "description": description,
                "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": "Compute",
                             "resourceGroup": "CPU" if "Core" in description else "RAM", "usageType": usage},
                "serviceRegions": list(regions),
                "pricingInfo": [{"pricingExpression": {
                    "usageUnit": unit,
                    "tieredRates": [{"startUsageAmount": 0,
                                     "unitPrice": {"currencyCode": "USD", "units": str(units), "nanos": nanos}}],
                }}],
            })

    def status(self, zone: str, name: str) -> str:
        """The instance's status, without advancing anything."""
        with self._lock:
            return str(self._vms[(zone, name)].resource["status"])

    def fail(self, api_method: str, status: int, *, times: int = 1, reason: str | None = None) -> None:
        """Answer the next ``times`` calls of ``api_method`` (``instances.stop``, ...) with ``status``."""
        message = {
            429: "Rate Limit Exceeded",
            500: "Internal error. Please try again or contact Google Support.",
            503: "The service is currently unavailable.",
        }.get(status, f"Injected error {status}")
        with self._lock:
            self._faults.append(_Fault(api_method, status, times, reason, message))

    def deny(self, zone: str, name: str, *verbs: str) -> None:
        """Answer 403 to ``verbs`` (default: every mutation) on one instance."""
        with self._lock:
            self._vms[(zone, name)].denied |= set(verbs or _VERBS)

    def fail_operation(
        self,
        zone: str,
        name: str,
        *,
        code: str = "ZONE_RESOURCE_POOL_EXHAUSTED",
        message: str = "The zone does not have enough resources available to fulfill the request.",
    ) -> None:
        """Make the next operation on the instance end DONE with this error."""
        with self._lock:
            self._vms[(zone, name)].next_error = {"code": code, "message": message}

    def calls(self, api_method: str) -> list[RecordedRequest]:
        """The recorded requests of one API method, in order."""
        with self._lock:
            return [r for r in self.requests if r.api_method == api_method]

    # -- request handling ---------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], client_port: int = 0
    ) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        api_method, params = self._route(method, parts.path)
        with self._lock:
            self.requests.append(RecordedRequest(method, api_method, parts.path, query, headers, client_port))
        try:
            if api_method in ("unknown", "methodNotAllowed"):
                raise ApiError(404 if api_method == "unknown" else 405, f"Not found: {parts.path}")
            if api_method == "oauth2.token":
                return 200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
            if api_method == "cloudbilling.skus.list":
                with self._lock:
                    self._inject(api_method)
                    if params["service"] != "services/6F81-5844-456A":
                        raise ApiError(404, f"Service {params['service']} not found")
                    items, token = self._page(list(self.skus), {**query, "maxResults": query.get("pageSize", "")})
                return 200, {"skus": items, **({"nextPageToken": token} if token else {})}
            time.sleep(self.delays.get(api_method, 0.0))
            with self._lock:
                self._inject(api_method)
                if params["project"] != self.project:
                    raise ApiError(404, f"The resource 'projects/{params['project']}' was not found")
                if "zone" in params and params["zone"] not in self.zones:
                    raise ApiError(
                        404, f"The resource 'projects/{self.project}/zones/{params['zone']}' was not found"
                    )
                return 200, self._dispatch(api_method, params, query)
        except ApiError as exc:
            return exc.status, exc.body()

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        if path == _TOKEN_PATH and method == "POST":
            return "oauth2.token", {}
        skus = _SKUS.fullmatch(path)
        if skus and method == "GET":
            return "cloudbilling.skus.list", skus.groupdict()
        if not path.startswith(_API_PREFIX):
            return "unknown", {}
        rest = path[len(_API_PREFIX) :]
        for http_method, pattern, name in _ROUTES:
            match = pattern.fullmatch(rest)
            if match:
                if http_method != method:
                    return "methodNotAllowed", {}
                params = match.groupdict()
                return name.format(**params), params
        return "unknown", {}

    def _inject(self, api_method: str) -> None:
        for fault in self._faults:
            if fault.api_method == api_method and fault.remaining > 0:
                fault.remaining -= 1
                domain = "usageLimits" if fault.status == 429 else "global"
                raise ApiError(fault.status, fault.message, fault.reason, domain)

    def _dispatch(self, api_method: str, params: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
        if api_method == "instances.aggregatedList":
            return self._aggregated(query)
        if api_method == "instances.list":
            return self._list(params["zone"], query)
        if api_method.startswith("zoneOperations."):
            return self._operation(params["zone"], params["operation"])
        vm = self._vm(params["zone"], params["instance"])
        if api_method == "instances.get":
            self._tick(vm)
            return vm.resource
        return self._mutate(vm, params["verb"], query.get("requestId"))

    def _vm(self, zone: str, name: str) -> _Vm:
        vm = self._vms.get((zone, name))
        if vm is None:
            raise ApiError(404, f"The resource 'projects/{self.project}/zones/{zone}/instances/{name}' was not found")
        return vm

    # -- lists ------------------------------------------------------------------------------

    def _selected(self, query: dict[str, str], zone: str | None = None) -> list[_Vm]:
        terms = _parse_filter(query.get("filter", ""))
        vms = [vm for (z, _), vm in sorted(self._vms.items()) if zone is None or z == zone]
        for vm in vms:
            self._tick(vm)
        return [vm for vm in vms if all(_matches(vm.resource, *term) for term in terms)]

    def _page(self, items: list[Any], query: dict[str, str]) -> tuple[list[Any], str | None]:
        try:
            size = min(self.page_size, int(query.get("maxResults") or 500))
            start = int(query.get("pageToken", "").removeprefix("page-") or 0)
        except ValueError:
            raise ApiError(400, "Invalid value for field 'pageToken' or 'maxResults'") from None
        end = start + max(size, 1)
        return items[start:end], (f"page-{end}" if end < len(items) else None)

    def _list(self, zone: str, query: dict[str, str]) -> dict[str, Any]:
        page, token = self._page(self._selected(query, zone), query)
        link = f"{self.base_url}projects/{self.project}/zones/{zone}/instances"
        body: dict[str, Any] = {
            "kind": "compute#instanceList",
            "id": f"projects/{self.project}/zones/{zone}/instances",
            "items": [vm.resource for vm in page],
            "selfLink": link,
        }
        if token:
            body["nextPageToken"] = token
        return body

    def _aggregated(self, query: dict[str, str]) -> dict[str, Any]:
        page, token = self._page(self._selected(query), query)
        items: dict[str, Any] = {}
        for zone in self.zones:
            here = [vm.resource for vm in page if vm.zone == zone]
            scope = f"zones/{zone}"
            items[scope] = (
                {"instances": here}
                if here
                else {
                    "warning": {
                        "code": "NO_RESULTS_ON_PAGE",
                        "message": f"There are no results for scope '{scope}' on this page.",
                        "data": [{"key": "scope", "value": scope}],
                    }
                }
            )
        body: dict[str, Any] = {
            "kind": "compute#instanceAggregatedList",
            "id": f"projects/{self.project}/aggregated/instances",
            "items": items,
            "selfLink": f"{self.base_url}projects/{self.project}/aggregated/instances",
        }
        if token:
            body["nextPageToken"] = token
        return body

    # -- operations ----------------------------------------------------------------------------

    def _new_operation(self, vm: _Vm, verb: str) -> dict[str, Any]:
        op_id = next(self._ids)
        name = f"operation-{int(time.time() * 1000)}-{op_id:x}"
        link = f"{self.base_url}projects/{self.project}/zones/{vm.zone}"
        return {
            "kind": "compute#operation",
            "id": str(op_id),
            "name": name,
            "zone": link,
            "operationType": verb,
            "targetLink": vm.resource["selfLink"],
            "targetId": vm.resource["id"],
            "status": "PENDING",
            "user": "fake-user@example.com",
            "progress": 0,
            "insertTime": _now(),
            "selfLink": f"{link}/operations/{name}",
        }

    def _mutate(self, vm: _Vm, verb: str, request_id: str | None) -> dict[str, Any]:
        if request_id is not None:
            try:
                valid = uuid.UUID(request_id).int != 0
            except ValueError:
                valid = False
            if not valid:
                raise ApiError(400, f"Invalid value for field 'requestId': '{request_id}'. Must be a valid UUID.")
            if request_id in self._request_ids:
                return self._request_ids[request_id]
        if verb in vm.denied:
            raise ApiError(
                403,
                f"Required 'compute.instances.{verb}' permission for "
                f"'projects/{self.project}/zones/{vm.zone}/instances/{vm.resource['name']}'",
            )
        status = vm.resource["status"]
        sources, through, target = _VERBS[verb]
        operation = self._new_operation(vm, verb)
        if vm.transition is None and status in _NOOP_FROM.get(verb, set()):
            operation.update(status="DONE", progress=100, startTime=_now(), endTime=_now())
        elif vm.transition is None and status in sources:
            transition = _Transition(verb, through, target, status, self.steps, operation, vm.next_error)
            vm.next_error = None
            vm.transition = transition
            vm.resource["status"] = through[0]
        else:
            raise ApiError(
                400,
                f"The resource '{vm.resource['selfLink'].removeprefix(self.base_url)}' is not ready"
                if vm.transition
                else f"Instance '{vm.resource['name']}' is in {status} state; cannot {verb} it.",
                "resourceNotReady" if vm.transition else "badRequest",
            )
        self._operations[(vm.zone, operation["name"])] = (vm, operation)
        if request_id is not None:
            self._request_ids[request_id] = operation
        return operation

    def _operation(self, zone: str, name: str) -> dict[str, Any]:
        entry = self._operations.get((zone, name))
        if entry is None:
            raise ApiError(404, f"The resource 'projects/{self.project}/zones/{zone}/operations/{name}' was not found")
        vm, operation = entry
        if vm.transition is not None and vm.transition.operation is operation:
            self._tick(vm)
        return operation

    def _tick(self, vm: _Vm) -> None:
        """One observation: advance the instance's transition by one step."""
        transition = vm.transition
        if transition is None:
            return
        transition.ticks += 1
        operation = transition.operation
        if transition.ticks < transition.steps:
            index = min(len(transition.through) - 1, transition.ticks * len(transition.through) // transition.steps)
            vm.resource["status"] = transition.through[index]
            operation.update(status="RUNNING", progress=100 * transition.ticks // transition.steps)
            operation.setdefault("startTime", _now())
            return
        vm.transition = None
        operation.update(status="DONE", progress=100, endTime=_now())
        operation.setdefault("startTime", operation["endTime"])
        if transition.error is not None:
            vm.resource["status"] = transition.origin
            operation["error"] = {"errors": [transition.error]}
            operation["httpErrorStatusCode"] = 503
            operation["httpErrorMessage"] = "SERVICE UNAVAILABLE"
        else:
            vm.resource["status"] = transition.target
            stamp = {"stop": "lastStopTimestamp", "suspend": "lastSuspendedTimestamp"}.get(
                transition.verb, "lastStartTimestamp"
            )
            vm.resource[stamp] = _now()


def gcloud_free_environment(tmp: Path) -> tuple[dict[str, str], list[str]]:
    """Variables to set and to unset so that no real Google credentials or project leak in.

    No gcloud config dir, no key file, no metadata-server probing (it would take seconds).
    """
    return (
        {"CLOUDSDK_CONFIG": str(tmp / "gcloud"), "NO_GCE_CHECK": "True", "GCE_METADATA_HOST": "127.0.0.1:9"},
        [
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_CLOUD_PROJECT",
            "GCLOUD_PROJECT",
            "CLOUDSDK_CORE_PROJECT",
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE",
        ],
    )


def isolate_from_google(monkeypatch: Any, tmp: Path) -> None:
    """Apply :func:`gcloud_free_environment` with pytest's ``monkeypatch``."""
    setting, unsetting = gcloud_free_environment(tmp)
    for key, value in setting.items():
        monkeypatch.setenv(key, value)
    for key in unsetting:
        monkeypatch.delenv(key, raising=False)


def write_service_account_key(path: Path, *, token_uri: str, project: str = "key-project") -> Path:
    """A service-account key file with a fresh RSA key whose tokens come from ``token_uri``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": project,
                "private_key_id": "0123456789abcdef",
                "private_key": pem,
                "client_email": f"snoozebot@{project}.iam.gserviceaccount.com",
                "client_id": "1234567890",
                "token_uri": token_uri,
            }
        )
    )
    return path


def _parse_filter(text: str) -> list[tuple[str, str, str]]:
    """AIP-160 conjunctions of ``field = value`` / ``field != value``; else 400 like the API."""
    text = text.strip()
    if not text:
        return []
    chunks = re.findall(r"\([^()]*\)", text) if text.startswith("(") else [text]
    rest = re.sub(r"\([^()]*\)|\bAND\b", "", text).strip() if text.startswith("(") else ""
    terms = []
    for chunk in chunks:
        match = _TERM.match(chunk)
        if not match or rest:
            raise ApiError(400, f"Invalid value for field 'filter': '{text}'. Invalid list filter expression.")
        value = match.group(4) if match.group(4) is not None else match.group(3)
        terms.append((match.group(1), match.group(2), value))
    return terms


def _matches(resource: dict[str, Any], key: str, op: str, value: str) -> bool:
    if key.startswith("labels."):
        actual = (resource.get("labels") or {}).get(key.removeprefix("labels."))
    elif key in ("name", "status"):
        actual = resource.get(key)
    else:
        raise ApiError(400, f"Invalid value for field 'filter': unsupported field '{key}'.")
    return (actual == value) == (op == "=")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, as from a real server
    server_fake: FakeComputeEngine

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body = self.server_fake.handle(self.command, self.path, headers, self.client_address[1])
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Serve a fake Compute Engine API on 127.0.0.1.")
    parser.add_argument("--instances", type=int, default=3, help="RUNNING instances to create in us-central1-a")
    args = parser.parse_args()
    with FakeComputeEngine() as fake:
        for i in range(args.instances):
            fake.add_instance("us-central1-a", f"vm-{i + 1}", labels={"env": "dev"})
        print(f"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE={fake.base_url} GOOGLE_CLOUD_PROJECT={fake.project}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
