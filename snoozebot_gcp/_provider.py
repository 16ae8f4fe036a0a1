"""The Compute Engine provider: the plugin contract on google-api-python-client.

The client is built in the worker, from the discovery document shipped inside
google-api-python-client (never fetched at run time). httplib2 is not
thread-safe, so every request borrows a connection of its own from a pool.

Stop and start look at the instance first, so that they are idempotent and
know what to call: ``stop`` (``suspend`` with ``hibernate``) on a running VM,
``start`` on a TERMINATED one, ``resume`` on a SUSPENDED one. Every mutating
call carries a fresh ``requestId``, reused by its retries, so a retried request
is never applied twice. The operation a call returns is remembered: while it
is unfinished, :meth:`GcpProvider.get_instance_info` first waits on it with
``zoneOperations.wait`` (a bounded wait), and reports an operation that ended
``DONE`` with an ``error`` as a failure. That is what ``--wait`` polls.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from snoozebot.retry import call_with_retries
from snoozebot.sdk import (
    CloudProvider,
    ConfigurationError,
    HourlyPrice,
    Identity,
    Instance,
    InstanceNotFound,
    InstanceState,
    InvalidInstanceState,
    ProviderError,
)
from snoozebot_gcp import _identity, _prices
from snoozebot_gcp._errors import cloud_code, is_retryable, map_error, operation_error
from snoozebot_gcp._http import Connections
from snoozebot_gcp._mapping import (
    PROVIDER,
    InstanceRef,
    label_filter,
    labels_match,
    parse_instance_id,
    state_of,
    to_instance,
)
from snoozebot_gcp._settings import load_credentials, resolve_settings

__all__ = ["GcpProvider"]

_HTTP_TIMEOUT = 30.0
"""Seconds a single API request may take (socket timeout)."""
_OPERATION_WAIT_TIMEOUT = 5.0
"""Seconds one ``zoneOperations.wait`` may block before we look at the instance anyway."""
_OPERATION_MEMORY = 900.0
"""Seconds an unfinished operation is remembered for ``get_instance_info``."""

_STOPPED_OR_STOPPING = {"TERMINATED", "STOPPING"}
_SUSPENDED_OR_SUSPENDING = {"SUSPENDED", "SUSPENDING"}
_STARTED_OR_STARTING = {"RUNNING", "PROVISIONING", "STAGING"}

Request = Any
"""A googleapiclient HttpRequest, not executed yet."""


@dataclass(frozen=True)
class _PendingOperation:
    name: str
    what: str
    forget_at: float


class _NoAnswer(ProviderError):
    """The API did not answer within the request's timeout."""


class GcpProvider(CloudProvider):
    """Google Compute Engine instances: ``ZONE/NAME`` ids, stop/suspend, start/resume."""

    name = PROVIDER
    version = "1.0.0"
    api_version = "1.1"

    @classmethod
    def identify_self(cls) -> Identity:
        """This machine as one of the cloud's instances, from its metadata service."""
        return _identity.identify(cls.name)

    def __init__(self, config: dict[str, str]) -> None:
        super().__init__(config)
        settings = resolve_settings(self.config)
        self._credentials, self.project = load_credentials(settings)
        self.zone = settings.zone
        self.endpoint = settings.endpoint
        self._connections = Connections(self._credentials)
        self._pending: dict[InstanceRef, _PendingOperation] = {}
        self._pending_lock = threading.Lock()
        import httplib2  # type: ignore[import-untyped]
        from googleapiclient.discovery import build

        self._compute = build(
            "compute",
            "v1",
            http=httplib2.Http(),  # never used: every request borrows a pooled connection
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": self.endpoint} if self.endpoint else None,
        )
        self._instances  # noqa: B018 - build it now, while the host is still starting up
        self._prices = _prices.BillingCatalog(self._execute, build_billing=self._billing)

    def _billing(self) -> Any:
        """The Cloud Billing API client, for prices (``$CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING``)."""
        import httplib2
        from googleapiclient.discovery import build

        endpoint = os.environ.get("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING")
        return build(
            "cloudbilling",
            "v1",
            http=httplib2.Http(),  # never used: every request borrows a pooled connection
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": endpoint} if endpoint else None,
        )

    def hourly_price(self, instance_type: str, region: str) -> HourlyPrice | None:
        """On-demand price: the Cloud Billing Catalog API, else the shipped table (docs/gcp.md)."""
        return self._prices.hourly_price(instance_type, region)

    # -- plumbing ----------------------------------------------------------------

    @cached_property
    def _instances(self) -> Any:
        """The ``instances`` collection (building one costs tens of ms: built once)."""
        return self._compute.instances()

    @cached_property
    def _zone_operations(self) -> Any:
        """The ``zoneOperations`` collection, built on first use."""
        return self._compute.zoneOperations()

    def _run(self, request: Request, timeout: float) -> Any:
        with self._connections.borrow(timeout) as http:
            return request.execute(http=http)

    def _execute(
        self,
        request: Request,
        what: str,
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Run ``request`` with the shared retry policy; map failures to sdk errors."""
        seconds = timeout or _HTTP_TIMEOUT
        from google.auth.exceptions import GoogleAuthError
        from googleapiclient.errors import HttpError
        from httplib2 import HttpLib2Error

        try:
            result: dict[str, Any] = call_with_retries(
                lambda: self._run(request, seconds),
                is_retryable=is_retryable,
                cloud_code=cloud_code,
            )
        except HttpError as exc:
            raise map_error(exc, what) from None
        except GoogleAuthError as exc:
            raise ConfigurationError(f"{what}: the credentials could not be used: {exc}") from None
        except TimeoutError:
            raise _NoAnswer(f"{what}: no answer from {self._where} within {seconds:g}s") from None
        except (ConnectionRefusedError, HttpLib2Error) as exc:
            raise ProviderError(f"{what}: cannot reach {self._where}: {exc}") from None
        return result

    @property
    def _where(self) -> str:
        return self.endpoint or "https://compute.googleapis.com/compute/v1/"

    def _ref(self, instance_id: str) -> InstanceRef:
        return parse_instance_id(instance_id, self.zone)

    def _get(self, ref: InstanceRef) -> dict[str, Any]:
        request = self._instances.get(project=self.project, zone=ref.zone, instance=ref.name)
        return self._execute(request, f"instance {ref.zone}/{ref.name}")

    def _instance(self, resource: dict[str, Any]) -> Instance:
        return to_instance(resource, self.zone)

    # -- operations ----------------------------------------------------------------

    def _mutate(self, ref: InstanceRef, verb: str) -> None:
        """Call instances.VERB with a fresh requestId; remember or report its operation."""
        method: Callable[..., Request] = getattr(self._instances, verb)
        request = method(project=self.project, zone=ref.zone, instance=ref.name, requestId=str(uuid.uuid4()))
        what = f"{verb} of {ref.zone}/{ref.name}"
        operation = self._execute(request, what)
        self._track(ref, operation, what)

    def _track(self, ref: InstanceRef, operation: dict[str, Any], what: str) -> None:
        with self._pending_lock:
            self._pending.pop(ref, None)
            if operation.get("status") != "DONE":
                forget_at = time.monotonic() + _OPERATION_MEMORY
                self._pending[ref] = _PendingOperation(str(operation["name"]), what, forget_at)
                return
        error = operation_error(operation, what)
        if error is not None:
            raise error

    def _settle(self, ref: InstanceRef) -> None:
        """Wait (bounded) on the instance's unfinished operation; raise if it failed."""
        with self._pending_lock:
            pending = self._pending.get(ref)
            if pending is not None and pending.forget_at < time.monotonic():
                del self._pending[ref]
                pending = None
        if pending is None:
            return
        request = self._zone_operations.wait(
            project=self.project, zone=ref.zone, operation=pending.name
        )
        try:
            operation = self._execute(request, f"waiting for {pending.what}", timeout=_OPERATION_WAIT_TIMEOUT)
        except _NoAnswer:
            return  # still running: the instance's own status tells the rest
        except ProviderError:
            # The operation cannot be read (expired, or no permission to read operations):
            # the instance's own status is all there is to go on.
            with self._pending_lock:
                self._pending.pop(ref, None)
            return
        if operation.get("status") == "DONE":
            self._track(ref, operation, pending.what)

    # -- the plugin contract ---------------------------------------------------------

    def _pages(self, filters: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
        instances = self._instances
        expression = label_filter(filters)
        params: dict[str, Any] = {"project": self.project}
        if expression:
            params["filter"] = expression
        if self.zone:
            request = instances.list(zone=self.zone, **params)
            next_page = instances.list_next
        else:
            request = instances.aggregatedList(**params)
            next_page = instances.aggregatedList_next
        what = f"listing instances of project {self.project}"
        while request is not None:
            try:
                response = self._execute(request, what)
            except InstanceNotFound as exc:  # a list has no instance to miss: the project or zone
                raise ConfigurationError(exc.message, cloud_code=exc.cloud_code) from None
            items = response.get("items") or []
            if isinstance(items, dict):  # aggregated: {"zones/Z": {"instances": [...]}}
                yield [i for scoped in items.values() for i in (scoped or {}).get("instances") or []]
            else:
                yield list(items)
            request = next_page(request, response)

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        """Instances of the project (or of the ``zone`` option) whose labels match ``filters``."""
        return [
            self._instance(resource)
            for page in self._pages(filters)
            for resource in page
            if labels_match(resource, filters)
        ]

    def get_instance_info(self, instance_id: str) -> Instance:
        """The instance now, after a bounded wait on an operation this worker started on it."""
        ref = self._ref(instance_id)
        self._settle(ref)
        return self._instance(self._get(ref))

    def stop_instance(self, instance_id: str, *, hibernate: bool = False, dry_run: bool = False) -> Instance:
        """Stop (or, with ``hibernate``, suspend) the instance; a stopped one is left alone."""
        ref = self._ref(instance_id)
        resource = self._get(ref)
        status = str(resource.get("status", ""))
        done = _STOPPED_OR_STOPPING | (_SUSPENDED_OR_SUSPENDING if hibernate else set())
        if status in done:
            return self._instance(resource)
        self._refuse_unknown(ref, status, "stop")
        if dry_run:
            return self._instance(resource)
        self._mutate(ref, "suspend" if hibernate else "stop")
        return self._instance(self._get(ref))

    def start_instance(self, instance_id: str, *, dry_run: bool = False) -> Instance:
        """Start a stopped instance or resume a suspended one; a running one is left alone."""
        ref = self._ref(instance_id)
        resource = self._get(ref)
        status = str(resource.get("status", ""))
        if status in _STARTED_OR_STARTING:
            return self._instance(resource)
        self._refuse_unknown(ref, status, "start")
        if status not in ("TERMINATED", "SUSPENDED"):
            raise InvalidInstanceState(
                f"instance {ref.zone}/{ref.name} is {status}; start it once it has stopped or suspended",
                cloud_code=status,
            )
        if dry_run:
            return self._instance(resource)
        self._mutate(ref, "resume" if status == "SUSPENDED" else "start")
        return self._instance(self._get(ref))

    def _refuse_unknown(self, ref: InstanceRef, status: str, action: str) -> None:
        if state_of(status) is InstanceState.UNKNOWN:
            raise InvalidInstanceState(
                f"instance {ref.zone}/{ref.name} is {status or 'in no known state'}; "
                f"not acting on an unknown state ({action})",
                cloud_code=status or None,
            )

    def close(self) -> None:
        """Close the worker's connections."""
        self._connections.close()
