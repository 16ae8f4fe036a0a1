"""The Azure provider class: options, clients, and the four operations."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError
from azure.core.pipeline.policies import RetryPolicy as SdkRetryPolicy
from azure.core.rest import HttpRequest
from azure.mgmt.compute import ComputeManagementClient

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
    Throttled,
)
from snoozebot_azure import _identity, _prices
from snoozebot_azure._addresses import NETWORK_API_VERSION, read_addresses
from snoozebot_azure._errors import cloud_code, describe, is_retryable, provider_error
from snoozebot_azure._operations import OperationTracker
from snoozebot_azure._settings import Settings, split_instance_id
from snoozebot_azure._states import instance_from_vm, power_codes

__all__ = ["AzureProvider"]

T = TypeVar("T")
log = logging.getLogger(__name__)

_CONNECT_TIMEOUT = 10
_READ_TIMEOUT = 60


class _AnonymousCredential:
    """A token credential for emulators and fakes: a dummy bearer token, never a secret."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("anonymous", int(time.time()) + 3600)


def _credential(settings: Settings) -> TokenCredential:
    if settings.credentials == "anonymous":
        return _AnonymousCredential()
    if settings.plain_http:
        raise ConfigurationError(
            f"endpoint {settings.endpoint} is plain http: real credentials are only sent over https "
            "(use -o credentials=anonymous for an emulator)"
        )
    from azure.identity import DefaultAzureCredential

    credential: TokenCredential = DefaultAzureCredential()
    return credential


def _vm_id(resource_id: str) -> str:
    """``RESOURCE_GROUP/VM_NAME`` from an ARM resource id."""
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    return f"{parts[lowered.index('resourcegroups') + 1]}/{parts[-1]}"


def _has_tags(vm: Any, wanted: dict[str, str]) -> bool:
    """Tag names compare case-insensitively (as in Azure), values exactly."""
    tags = {str(k).lower(): str(v) for k, v in (vm.tags or {}).items()}
    return all(tags.get(k) == v for k, v in wanted.items())


def _warn_allocated(instances: list[Instance]) -> None:
    """Say so when stopped VMs are still allocated: Azure keeps billing their compute."""
    allocated = [i.id for i in instances if i.raw_state.startswith("PowerState/stopped")]
    if allocated:
        shown = ", ".join(allocated[:10]) + (", ..." if len(allocated) > 10 else "")
        log.warning(
            "%d VM(s) stopped but still allocated, so still billed for compute: %s "
            "(stop them again with stop_mode=deallocate to release them)",
            len(allocated),
            shown,
        )


def _check_hibernation(vm: Any, instance_id: str) -> None:
    """Refuse a hibernate dry run on a VM created without hibernation support."""
    capabilities = getattr(getattr(vm, "properties", None), "additional_capabilities", None)
    if not getattr(capabilities, "hibernation_enabled", False):
        raise InvalidInstanceState(
            f"{instance_id}: hibernation is not enabled on this VM "
            "(properties.additionalCapabilities.hibernationEnabled)",
            cloud_code="OperationNotAllowed",
        )


class AzureProvider(CloudProvider):
    """Azure virtual machines; ids are ``RESOURCE_GROUP/VM_NAME``; stop deallocates by default."""

    name = "azure"
    version = "1.0.0"
    api_version = "1.1"

    @classmethod
    def identify_self(cls) -> Identity:
        """This machine as one of the cloud's instances, from its metadata service."""
        return _identity.identify(cls.name)

    def __init__(self, config: dict[str, str]) -> None:
        super().__init__(config)
        self._settings = Settings.from_options(config)
        # The SDK logs every request (INFO) and each credential it tried (a multi-line WARNING);
        # failures reach the user once, as one line with a hint, through the error mapping.
        logging.getLogger("azure").setLevel(logging.ERROR)
        self._credential = _credential(self._settings)
        self._client = ComputeManagementClient(
            self._credential,
            self._settings.subscription_id,
            base_url=self._settings.endpoint,
            retry_policy=SdkRetryPolicy.no_retries(),  # snoozebot.retry does the retrying
            connection_timeout=_CONNECT_TIMEOUT,
            read_timeout=_READ_TIMEOUT,
        )
        self._vms = self._client.virtual_machines
        # Emulators on plain http: the SDK's supported per-request opt-out of its https check.
        self._options: dict[str, Any] = {"enforce_https": False} if self._settings.plain_http else {}
        self._operations = OperationTracker(endpoint=self._settings.endpoint, request_options=self._options)
        self._prices = _prices.RetailPrices(config.get("prices_endpoint") or _prices.DEFAULT_PRICES_ENDPOINT)

    def hourly_price(self, instance_type: str, region: str) -> HourlyPrice | None:
        """Linux pay-as-you-go price: the Retail Prices API, else the shipped table (docs/azure.md)."""
        return self._prices.hourly_price(instance_type, region)

    # -- plumbing --------------------------------------------------------------

    def _call(self, subject: str, fn: Callable[[], T]) -> T:
        """Run one SDK call with the shared retry; Azure errors become provider errors."""
        try:
            return call_with_retries(fn, is_retryable=is_retryable, cloud_code=cloud_code)
        except Throttled as exc:
            raise Throttled(
                f"{subject}: Azure kept throttling or failing after retries "
                f"({describe(exc.__cause__ or exc)})",
                cloud_code=exc.cloud_code,
            ) from None
        except AzureError as exc:
            raise provider_error(exc, subject=subject) from None

    def _split(self, instance_id: str) -> tuple[str, str]:
        return split_instance_id(instance_id, self._settings.resource_group)

    def _fetch(self, instance_id: str) -> Any:
        """The VM model with its instance view (one GET)."""
        group, name = self._split(instance_id)
        return self._call(
            instance_id, partial(self._vms.get, group, name, expand="instanceView", **self._options)
        )

    def _describe(self, instance_id: str) -> Instance:
        return self._instance(self._fetch(instance_id), instance_id)

    @staticmethod
    def _instance(vm: Any, instance_id: str) -> Instance:
        view = getattr(getattr(vm, "properties", None), "instance_view", None)
        return instance_from_vm(
            vm, instance_id=instance_id, codes=power_codes(getattr(view, "statuses", None))
        )

    # -- the plugin contract ---------------------------------------------------

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        """VMs of the subscription (or of the ``resource_group`` option) whose tags equal ``filters``."""
        group = self._settings.resource_group
        scope = f"resource group {group}" if group else f"subscription {self._settings.subscription_id}"

        def models() -> list[Any]:
            pages = self._vms.list(group, **self._options) if group else self._vms.list_all(**self._options)
            return list(pages)

        def statuses() -> dict[str, list[str]]:
            found = self._vms.list_all(status_only="true", **self._options)
            return {
                str(vm.id).lower(): power_codes(vm.properties.instance_view.statuses)
                for vm in found
                if vm.id and vm.properties is not None and vm.properties.instance_view is not None
            }

        with ThreadPoolExecutor(max_workers=2) as pool:
            model_job = pool.submit(self._call, scope, models)
            status_job = pool.submit(self._call, scope, statuses)
            try:
                vms, codes = model_job.result(), status_job.result()
            except InstanceNotFound as exc:  # the only thing a list can miss: the resource group
                raise ConfigurationError(
                    f"{exc.message} (check the resource_group option)", cloud_code=exc.cloud_code
                ) from None
        wanted = {k.lower(): v for k, v in filters.items()}
        matched = {_vm_id(str(vm.id)): vm for vm in vms if _has_tags(vm, wanted)}
        # A VM the status listing missed (created meanwhile, or a server without statusOnly): ask it.
        unseen = [iid for iid, vm in matched.items() if str(vm.id).lower() not in codes]
        if unseen:
            with ThreadPoolExecutor(max_workers=min(8, len(unseen))) as pool:
                for iid, found_codes in zip(unseen, pool.map(self._power_codes, unseen), strict=True):
                    codes[str(matched[iid].id).lower()] = found_codes
        found = [
            instance_from_vm(vm, instance_id=iid, codes=codes[str(vm.id).lower()])
            for iid, vm in matched.items()
        ]
        _warn_allocated(found)
        return found

    def _power_codes(self, instance_id: str) -> list[str]:
        """One VM's power status codes from its instance view ([] if it is gone meanwhile)."""
        group, name = self._split(instance_id)
        try:
            view = self._call(instance_id, partial(self._vms.instance_view, group, name, **self._options))
        except InstanceNotFound:
            return []
        return power_codes(view.statuses)

    def get_instance_info(self, instance_id: str) -> Instance:
        """The VM with its instance view; a failed operation this worker started is reported once."""
        self._split(instance_id)
        failure = self._operations.failure(instance_id)
        if failure is not None:
            raise failure
        vm = self._fetch(instance_id)
        instance = self._instance(vm, instance_id)
        if instance.state is not InstanceState.RUNNING:
            return instance
        found = read_addresses(vm, partial(self._network_resource, instance_id))
        return replace(instance, public_ip=found.public_ip, private_ip=found.private_ip)

    def _network_resource(self, subject: str, resource_id: str) -> Mapping[str, Any] | None:
        """One network resource by its ARM id, or None when it cannot be read (see _addresses)."""
        request = HttpRequest("GET", resource_id, params={"api-version": NETWORK_API_VERSION})

        def get() -> Any:
            response = self._client.send_request(request, **self._options)
            response.raise_for_status()
            return response.json()

        try:
            body = self._call(subject, get)
        except ProviderError as exc:
            log.debug("%s: addresses not read: %s", subject, exc)
            return None
        return body if isinstance(body, dict) else None

    def stop_instance(self, instance_id: str, *, hibernate: bool = False, dry_run: bool = False) -> Instance:
        """Deallocate (or power off, with ``stop_mode=poweroff``; hibernate with ``hibernate``)."""
        group, name = self._split(instance_id)
        if dry_run:
            vm = self._fetch(instance_id)
            if hibernate:
                _check_hibernation(vm, instance_id)
            return self._instance(vm, instance_id)
        polling = self._operations.polling()
        begin: Callable[..., Any]
        if hibernate:
            action, begin = "hibernate", partial(self._vms.begin_deallocate, hibernate=True)
        elif self._settings.stop_mode == "deallocate":
            action, begin = "deallocate", self._vms.begin_deallocate
        else:
            action, begin = "power off", self._vms.begin_power_off
        self._call(instance_id, partial(begin, group, name, polling=polling, **self._options))
        self._operations.track(instance_id, action, polling)
        if action == "power off":
            log.warning(
                "%s is powered off but stays allocated: Azure still bills its compute "
                "(stop_mode=deallocate releases it)",
                instance_id,
            )
        return self._describe(instance_id)

    def start_instance(self, instance_id: str, *, dry_run: bool = False) -> Instance:
        """Start (or resume from hibernation)."""
        group, name = self._split(instance_id)
        if dry_run:
            return self._describe(instance_id)
        polling = self._operations.polling()
        self._call(instance_id, partial(self._vms.begin_start, group, name, polling=polling, **self._options))
        self._operations.track(instance_id, "start", polling)
        return self._describe(instance_id)

    def close(self) -> None:
        """Close the HTTP client (and the credential's own sessions)."""
        self._client.close()
        close = getattr(self._credential, "close", None)
        if callable(close):
            close()
