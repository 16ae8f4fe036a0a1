"""A stateful fake of Azure Resource Manager's virtual machine API, on 127.0.0.1.

It speaks the REST shapes the real azure-mgmt-compute client uses, so tests
drive the real SDK (and the real ``snoozebot`` CLI) against it over HTTP:

- ``GET  /subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines``
  (``statusOnly=true`` gives only ids and instance-view statuses), paginated
  with ``nextLink``;
- ``GET  /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines``;
- ``GET  .../virtualMachines/{vm}`` (``$expand=instanceView``) and ``GET .../{vm}/instanceView``;
- ``POST .../{vm}/deallocate`` (``hibernate=true``), ``.../powerOff``, ``.../start``:
  ``202 Accepted`` with ``Azure-AsyncOperation`` and ``Location`` headers;
- ``GET  .../providers/Microsoft.Network/networkInterfaces/{vm}-nic`` and
  ``.../publicIPAddresses/{vm}-ip``: the addresses of a VM seeded with ``private_ip``
  (and ``public_ip``);
- ``GET  /subscriptions/{sub}/providers/Microsoft.Compute/locations/{loc}/operations/{id}``
  (the operation status, ``InProgress`` then ``Succeeded``, ``Failed`` or
  ``Canceled``) and the same URL with ``monitor=true`` (``202`` until done).

State changes take several observations: an operation stays ``InProgress``
(the VM ``deallocating``, ``stopping`` or ``starting``) for ``steps`` polls of
its status or of the VM's instance view, then completes. A newer operation on
the same VM preempts the older one (``Canceled``, ``OperationPreempted``), as
ARM does. Errors use ARM's body ``{"error": {"code", "message"}}``. Requests
without a bearer token get 401; :meth:`FakeArm.deny`, :meth:`FakeArm.throttle`
and :meth:`FakeArm.fail_next` inject 403s, 429/5xx answers and failing operations.

Run standalone (for manual checks): ``python tests/fake_arm.py --port 8765``.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from loopback import LoopbackServer

__all__ = ["SUBSCRIPTION", "FakeArm", "FakeOperation", "FakeVm"]

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
_COMPUTE = "providers/Microsoft.Compute"
_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_ROUTES = [
    ("list_all", re.compile(rf"^{_SUB}/{_COMPUTE}/virtualMachines$", re.I)),
    ("list_group", re.compile(rf"^{_SUB}/resourceGroups/(?P<rg>[^/]+)/{_COMPUTE}/virtualMachines$", re.I)),
    (
        "vm",
        re.compile(
            rf"^{_SUB}/resourceGroups/(?P<rg>[^/]+)/{_COMPUTE}/virtualMachines/(?P<name>[^/]+)"
            r"(?:/(?P<action>instanceView|deallocate|powerOff|start))?$",
            re.I,
        ),
    ),
    (
        "network",
        re.compile(
            rf"^{_SUB}/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft.Network/"
            r"(?P<kind>networkInterfaces|publicIPAddresses)/(?P<name>[^/]+)$",
            re.I,
        ),
    ),
    (
        "operation",
        re.compile(rf"^{_SUB}/{_COMPUTE}/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)$", re.I),
    ),
]
_DISPLAY = {
    "starting": "VM starting",
    "running": "VM running",
    "stopping": "VM stopping",
    "stopped": "VM stopped",
    "deallocating": "VM deallocating",
    "deallocated": "VM deallocated",
}
# action -> (transient power state, final power state)
_TRANSITIONS = {
    "deallocate": ("deallocating", "deallocated"),
    "powerOff": ("stopping", "stopped"),
    "start": ("starting", "running"),
}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class ArmError(Exception):
    """An ARM error response: status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class FakeVm:
    """One virtual machine and its power state (``running``, ``deallocated``, ...)."""

    group: str
    name: str
    location: str = "westeurope"
    size: str = "Standard_B2s"
    power: str = "running"
    tags: dict[str, str] = field(default_factory=dict)
    zones: list[str] = field(default_factory=list)
    hibernation_enabled: bool = False
    hibernated: bool = False
    created: str = "2026-01-01T08:00:00Z"
    private_ip: str | None = None
    public_ip: str | None = None
    vm_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    operation: FakeOperation | None = None

    def resource_id(self, subscription: str) -> str:
        return f"/subscriptions/{subscription}/resourceGroups/{self.group}/{_COMPUTE}/virtualMachines/{self.name}"

    def statuses(self) -> list[dict[str, Any]]:
        busy = self.operation is not None and self.operation.status == "InProgress"
        provisioning = "updating" if busy else "succeeded"
        found = [
            {
                "code": f"ProvisioningState/{provisioning}",
                "level": "Info",
                "displayStatus": f"Provisioning {provisioning}",
                "time": _now(),
            },
            {"code": f"PowerState/{self.power}", "level": "Info", "displayStatus": _DISPLAY[self.power]},
        ]
        if self.hibernated or (busy and self.operation is not None and self.operation.hibernate):
            word = "Hibernated" if self.power == "deallocated" else "Hibernating"
            found.append(
                {"code": f"HibernationState/{word}", "level": "Info", "displayStatus": f"VM {word.lower()}"}
            )
        return found

    def model(self, subscription: str, *, instance_view: bool = False) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "vmId": self.vm_id,
            "hardwareProfile": {"vmSize": self.size},
            "provisioningState": "Updating"
            if self.operation and self.operation.status == "InProgress"
            else "Succeeded",
            "timeCreated": self.created,
            "additionalCapabilities": {"hibernationEnabled": self.hibernation_enabled},
            "storageProfile": {"osDisk": {"osType": "Linux", "name": f"{self.name}-osdisk"}},
        }
        if self.private_ip:
            nic = f"/subscriptions/{subscription}/resourceGroups/{self.group}/providers/Microsoft.Network"
            properties["networkProfile"] = {
                "networkInterfaces": [{"id": f"{nic}/networkInterfaces/{self.name}-nic", "properties": {"primary": True}}]
            }
        if instance_view:
            properties["instanceView"] = {"computerName": self.name, "statuses": self.statuses()}
        body: dict[str, Any] = {
            "name": self.name,
            "id": self.resource_id(subscription),
            "type": "Microsoft.Compute/virtualMachines",
            "location": self.location,
            "tags": dict(self.tags),
            "properties": properties,
        }
        if self.zones:
            body["zones"] = list(self.zones)
        return body


@dataclass
class FakeOperation:
    """One asynchronous operation: ``InProgress`` for ``remaining`` polls, then done."""

    id: str
    action: str
    vm: FakeVm
    hibernate: bool
    remaining: int
    previous_power: str
    previous_hibernated: bool
    status: str = "InProgress"
    error: dict[str, str] | None = None
    failure: dict[str, str] | None = None
    start_time: str = field(default_factory=_now)
    end_time: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.id, "status": self.status, "startTime": self.start_time}
        if self.end_time:
            body["endTime"] = self.end_time
        if self.error:
            body["error"] = dict(self.error)
        return body


@dataclass(frozen=True)
class Request:
    """A request the fake received (for assertions)."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str | None


class FakeArm(LoopbackServer):
    """The fake server and its state; use as a context manager or call start/stop."""

    def __init__(
        self,
        *,
        subscription_id: str = SUBSCRIPTION,
        steps: int = 3,
        page_size: int = 50,
    ) -> None:
        self.subscription_id = subscription_id
        self.steps = steps
        self.page_size = page_size
        self.status_only = True  # False: ignore statusOnly=true, like a server that lacks it
        self.requests: list[Request] = []
        self.operations: dict[str, FakeOperation] = {}
        self._vms: dict[tuple[str, str], FakeVm] = {}
        self._groups: set[str] = set()
        self._denied: set[tuple[str, str, str]] = set()
        self._failures: dict[tuple[str, str, str], dict[str, str]] = {}
        self._throttles: list[int] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)

    # -- life cycle ------------------------------------------------------------

    def start(self, port: int = 0) -> FakeArm:
        """Listen on 127.0.0.1 (a free port unless given) in a daemon thread."""
        handler = type("Handler", (_Handler,), {"arm": self})
        self._serve(_Server(("127.0.0.1", port), handler), name="fake-arm", poll_interval=0.05)
        return self

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- seeding and inspection ------------------------------------------------

    def add_vm(self, group: str, name: str, **fields: Any) -> FakeVm:
        """Create a VM (``power``, ``tags``, ``size``, ``location``, ``zones``, ``hibernation_enabled``)."""
        with self._lock:
            vm = FakeVm(group=group, name=name, **fields)
            self._vms[(group.lower(), name.lower())] = vm
            self._groups.add(group.lower())
            return vm

    def add_group(self, group: str) -> None:
        """Create an empty resource group."""
        with self._lock:
            self._groups.add(group.lower())

    def vm(self, group: str, name: str) -> FakeVm:
        with self._lock:
            return self._vms[(group.lower(), name.lower())]

    def power(self, group: str, name: str) -> str:
        """The VM's power state word, as the fake holds it now (does not advance anything)."""
        return self.vm(group, name).power

    def deny(self, group: str, name: str, action: str) -> None:
        """Answer 403 AuthorizationFailed for ``action`` (read, deallocate, powerOff, start) on a VM."""
        with self._lock:
            self._denied.add((group.lower(), name.lower(), action))

    def throttle(self, count: int, *, status: int = 429) -> None:
        """Answer the next ``count`` requests with ``status`` (429 or a 5xx)."""
        with self._lock:
            self._throttles.extend([status] * count)

    def fail_next(self, group: str, name: str, action: str, *, code: str, message: str) -> None:
        """The next ``action`` on the VM is accepted but its operation ends ``Failed``."""
        with self._lock:
            self._failures[(group.lower(), name.lower(), action)] = {"code": code, "message": message}

    def count(self, method: str, suffix: str = "") -> int:
        """How many requests with ``method`` had a path ending in ``suffix``."""
        with self._lock:
            return sum(1 for r in self.requests if r.method == method and r.path.endswith(suffix))

    # -- request handling ------------------------------------------------------

    def handle(self, method: str, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        """Answer one request: (status, headers, JSON body or None)."""
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append(Request(method, parts.path, query, headers.get("authorization")))
            try:
                return self._route(method, parts.path, query, headers)
            except ArmError as exc:
                extra = {"Retry-After": "1"} if exc.status == 429 else {}
                return exc.status, extra, {"error": {"code": exc.code, "message": exc.message}}

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        token = headers.get("authorization", "")
        if not token.startswith("Bearer ") or not token[7:].strip():
            raise ArmError(
                401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."
            )
        if self._throttles:
            status = self._throttles.pop(0)
            if status == 429:
                raise ArmError(
                    429, "TooManyRequests", "The request is being throttled as the limit has been reached."
                )
            raise ArmError(
                status, "InternalServerError", "Encountered internal server error. Please try again."
            )
        if "api-version" not in query:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required.",
            )
        for name, pattern in _ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            if match["sub"].lower() != self.subscription_id.lower():
                raise ArmError(
                    404, "SubscriptionNotFound", f"The subscription '{match['sub']}' could not be found."
                )
            if name == "operation":
                return self._operation(method, match["op"], query)
            if name == "network":
                return 200, {}, self._network(match["rg"], match["kind"], match["name"])
            if name == "vm":
                return self._vm_request(method, match["rg"], match["name"], match["action"], query)
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"The method {method} is not allowed here.")
            group = match["rg"] if name == "list_group" else None
            return 200, {}, self._list(group, query)
        raise ArmError(404, "InvalidResourceType", f"The resource type could not be found for path {path!r}.")

    def _list(self, group: str | None, query: dict[str, str]) -> dict[str, Any]:
        if group is not None and group.lower() not in self._groups:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")
        vms = [vm for key, vm in sorted(self._vms.items()) if group is None or key[0] == group.lower()]
        status_only = self.status_only and query.get("statusOnly", "").lower() == "true"
        start = int(query.get("$skiptoken", "0"))
        page = vms[start : start + self.page_size]
        value = []
        for vm in page:
            if status_only:
                self._observe(vm)
                value.append(
                    {
                        "name": vm.name,
                        "id": vm.resource_id(self.subscription_id),
                        "type": "Microsoft.Compute/virtualMachines",
                        "location": vm.location,
                        "properties": {"instanceView": {"statuses": vm.statuses()}},
                    }
                )
            else:
                value.append(vm.model(self.subscription_id))
        body: dict[str, Any] = {"value": value}
        if start + self.page_size < len(vms):
            scope = f"/resourceGroups/{group}" if group else ""
            rest = {k: v for k, v in query.items() if k != "$skiptoken"}
            rest["$skiptoken"] = str(start + self.page_size)
            body["nextLink"] = (
                f"{self.endpoint}/subscriptions/{self.subscription_id}{scope}/{_COMPUTE}/virtualMachines?{urlencode(rest)}"
            )
        return body

    def _network(self, group: str, kind: str, name: str) -> dict[str, Any]:
        """A VM's network interface or public address, named after it (``-nic``, ``-ip``)."""
        suffix = "-nic" if kind.lower() == "networkinterfaces" else "-ip"
        vm = self._vms.get((group.lower(), name.lower().removesuffix(suffix)))
        if vm is None or not name.lower().endswith(suffix) or not vm.private_ip or (suffix == "-ip" and not vm.public_ip):
            raise ArmError(404, "ResourceNotFound", f"The Resource 'Microsoft.Network/{kind}/{name}' was not found.")
        base = f"/subscriptions/{self.subscription_id}/resourceGroups/{vm.group}/providers/Microsoft.Network"
        if suffix == "-ip":
            return {"name": name, "id": f"{base}/publicIPAddresses/{name}", "properties": {"ipAddress": vm.public_ip}}
        config: dict[str, Any] = {"privateIPAddress": vm.private_ip, "primary": True}
        if vm.public_ip:
            config["publicIPAddress"] = {"id": f"{base}/publicIPAddresses/{vm.name}-ip"}
        return {
            "name": name,
            "id": f"{base}/networkInterfaces/{name}",
            "properties": {"primary": True, "ipConfigurations": [{"name": "ipconfig1", "properties": config}]},
        }

    def _find(self, group: str, name: str) -> FakeVm:
        if group.lower() not in self._groups:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")
        vm = self._vms.get((group.lower(), name.lower()))
        if vm is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.Compute/virtualMachines/{name}' under resource group '{group}' "
                "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            )
        return vm

    def _check_allowed(self, vm: FakeVm, action: str) -> None:
        if (vm.group.lower(), vm.name.lower(), action) in self._denied:
            verb = "read" if action == "read" else f"{action}/action"
            raise ArmError(
                403,
                "AuthorizationFailed",
                f"The client 'snoozebot-test' does not have authorization to perform action "
                f"'Microsoft.Compute/virtualMachines/{verb}' over scope '{vm.resource_id(self.subscription_id)}' "
                "or the scope is invalid.",
            )

    def _vm_request(
        self, method: str, group: str, name: str, action: str | None, query: dict[str, str]
    ) -> tuple[int, dict[str, str], Any]:
        vm = self._find(group, name)
        if method == "GET" and action in (None, "instanceView"):
            self._check_allowed(vm, "read")
            if action == "instanceView":
                self._observe(vm)
                return 200, {}, {"computerName": vm.name, "statuses": vm.statuses()}
            expand = query.get("$expand", "").lower() == "instanceview"
            if expand:
                self._observe(vm)
            return 200, {}, vm.model(self.subscription_id, instance_view=expand)
        if method == "POST" and action in _TRANSITIONS:
            self._check_allowed(vm, action)
            return self._begin(vm, action, hibernate=query.get("hibernate", "").lower() == "true")
        raise ArmError(405, "MethodNotAllowed", f"The method {method} is not allowed here.")

    def _begin(self, vm: FakeVm, action: str, *, hibernate: bool) -> tuple[int, dict[str, str], Any]:
        transient, final = _TRANSITIONS[action]
        if hibernate and not vm.hibernation_enabled:
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Hibernation is not enabled for the VM '{vm.name}'. Enable hibernation through "
                "additionalCapabilities.hibernationEnabled before hibernating it.",
            )
        if hibernate and vm.power == "stopped":
            raise ArmError(
                409, "OperationNotAllowed", f"The VM '{vm.name}' must be running to be hibernated."
            )
        if vm.operation is not None and vm.operation.status == "InProgress":
            old = vm.operation
            old.status, old.end_time = "Canceled", _now()
            old.error = {
                "code": "OperationPreempted",
                "message": "Operation execution has been preempted by a more recent operation.",
            }
        # Idempotent: deallocating a deallocated VM (hibernated or not), starting a running one,
        # or powering off a stopped or deallocated one changes nothing.
        already = vm.power == final or (action == "powerOff" and vm.power == "deallocated")
        op = FakeOperation(
            id=str(uuid.UUID(int=next(self._ids))),
            action=action,
            vm=vm,
            hibernate=hibernate,
            remaining=0 if already else self.steps,
            previous_power=vm.power,
            previous_hibernated=vm.hibernated,
            failure=self._failures.pop((vm.group.lower(), vm.name.lower(), action), None),
        )
        self.operations[op.id] = op
        vm.operation = op
        if already and op.failure is None:
            self._finish(op)
        else:
            vm.power = transient
            if action == "start":
                vm.hibernated = False
        return 202, self._operation_headers(op, vm.location), None

    def _operation_headers(self, op: FakeOperation, location: str) -> dict[str, str]:
        url = (
            f"{self.endpoint}/subscriptions/{self.subscription_id}/{_COMPUTE}/locations/{location}"
            f"/operations/{op.id}?p={uuid.uuid4()}&api-version=2026-04-01"
        )
        return {"Azure-AsyncOperation": url, "Location": f"{url}&monitor=true"}

    def _observe(self, vm: FakeVm) -> None:
        if vm.operation is not None:
            self._advance(vm.operation)

    def _advance(self, op: FakeOperation) -> None:
        if op.status != "InProgress":
            return
        op.remaining -= 1
        if op.remaining <= 0:
            self._finish(op)

    def _finish(self, op: FakeOperation) -> None:
        vm = op.vm
        op.end_time = _now()
        if op.failure is not None:
            op.status, op.error = "Failed", dict(op.failure)
            vm.power, vm.hibernated = op.previous_power, op.previous_hibernated
            return
        op.status = "Succeeded"
        vm.power = _TRANSITIONS[op.action][1]
        if op.action == "deallocate" and op.previous_power != "deallocated":
            vm.hibernated = op.hibernate
        elif op.action == "start":
            vm.hibernated = False

    def _operation(self, method: str, op_id: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        op = self.operations.get(op_id)
        if method != "GET" or op is None:
            raise ArmError(404, "NotFound", f"The operation '{op_id}' was not found.")
        self._advance(op)
        if query.get("monitor", "").lower() == "true":
            if op.status == "InProgress":
                return 202, self._operation_headers(op, op.vm.location), None
            return 200, {}, None
        return 200, {}, op.body()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that exits with its keep-alive connection open is normal, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, like ARM; every answer carries Content-Length."""

    arm: FakeArm
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection is closed after this

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, body = self.arm.handle(self.command, self.path, headers)
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on :attr:`FakeArm.requests` instead."""


def _main() -> None:
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Run the fake ARM server with a few VMs.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    arm = FakeArm().start(args.port)
    arm.add_vm("demo-rg", "web-1", tags={"team": "web"})
    arm.add_vm("demo-rg", "ml-1", tags={"team": "ml"}, hibernation_enabled=True)
    arm.add_vm("demo-rg", "db-1", power="deallocated", tags={"team": "web"})
    print(f"fake ARM on {arm.endpoint}, subscription {arm.subscription_id}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        arm.stop()


if __name__ == "__main__":
    _main()
