"""On-demand VM prices for ``hourly_price``: Google's Cloud Billing Catalog API, else a dated table.

Compute Engine bills a predefined machine type as vCPUs plus memory, each at
its family's price in the region: the Catalog API (``services.skus.list`` of
the Compute Engine service, through googleapiclient; honours
``$CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING``) gives the on-demand
``<FAMILY> Instance Core`` and ``Instance Ram`` prices of each region, and the
type's name gives its vCPUs and memory (``n2-standard-8``: 8 vCPUs, 32 GB).
The SKU list is read once per worker. Shared-core and custom types, or a
catalog that cannot be read, fall back to :data:`TABLE`. See ``docs/gcp.md``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from snoozebot.sdk import HourlyPrice, ProviderError

__all__ = ["COMPUTE_SERVICE", "TABLE", "TABLE_DATE", "BillingCatalog", "machine_shape"]

COMPUTE_SERVICE = "services/6F81-5844-456A"
"""The Compute Engine service in the Cloud Billing Catalog."""
TABLE_DATE = "2024-06-01"
TABLE_SOURCE = "cloud.google.com/compute/vm-instance-pricing, on demand"
TABLE: Mapping[str, Mapping[str, float]] = {
    "us-central1": {
        "e2-micro": 0.008376, "e2-small": 0.016751, "e2-medium": 0.033503,
        "e2-standard-2": 0.067006, "e2-standard-4": 0.134012, "e2-standard-8": 0.268024,
        "n2-standard-2": 0.097118, "n2-standard-4": 0.194236, "n2-standard-8": 0.388472,
        "n1-standard-1": 0.0475, "n1-standard-2": 0.095, "n1-standard-4": 0.19,
        "c2-standard-4": 0.2088, "n2d-standard-2": 0.084492,
    },
    "europe-west1": {
        "e2-micro": 0.009213, "e2-small": 0.018426, "e2-medium": 0.036853,
        "e2-standard-2": 0.073706, "e2-standard-4": 0.147413, "n2-standard-2": 0.106829,
        "n2-standard-4": 0.213659, "n2-standard-8": 0.427318, "n1-standard-1": 0.05225,
    },
}
"""USD per hour by region and machine type, as published on :data:`TABLE_SOURCE` on :data:`TABLE_DATE`."""

_API = "Cloud Billing Catalog API"
_SHAPE = re.compile(r"^(?P<family>[a-z][a-z0-9]*)-(?P<kind>standard|highmem|highcpu)-(?P<cpus>\d+)$")
_GB_PER_CPU = {"standard": 4.0, "highmem": 8.0, "highcpu": 1.0}
_N1_GB_PER_CPU = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}
_LEFT_OUT = ("Preemptible", "Spot", "Sole Tenancy", "Custom", "Commitment", "Premium")

Execute = Callable[[Any, str], dict[str, Any]]
"""Run a googleapiclient request (with the provider's retries and error mapping); ``what`` names it."""


def machine_shape(machine_type: str) -> tuple[str, int, float] | None:
    """(family, vCPUs, GB of memory) of a predefined type (``n2-standard-8``), None for the others."""
    match = _SHAPE.match(machine_type)
    if not match:
        return None
    family, kind, cpus = match["family"], match["kind"], int(match["cpus"])
    ratio = (_N1_GB_PER_CPU if family == "n1" else _GB_PER_CPU)[kind]
    return family, cpus, cpus * ratio


def _usd(sku: Mapping[str, Any]) -> float | None:
    for info in sku.get("pricingInfo") or []:
        for rate in (info.get("pricingExpression") or {}).get("tieredRates") or []:
            price = rate.get("unitPrice") or {}
            usd = float(price.get("units") or 0) + float(price.get("nanos") or 0) / 1e9
            if usd > 0:
                return usd
    return None


def _family_word(family: str) -> str:
    """How the catalog's descriptions name a family: ``N1 Predefined``, ``N2``, ``E2``, ``N2D``."""
    return "N1 Predefined" if family == "n1" else family.upper()


class BillingCatalog:
    """Per-region core and memory prices from the catalog, read on first use."""

    def __init__(self, execute: Execute, *, build_billing: Callable[[], Any]) -> None:
        self._execute = execute
        self._build = build_billing
        self._skus: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def _catalog(self) -> list[dict[str, Any]]:
        with self._lock:  # several types are priced at once: read the catalog once
            if self._skus is None:
                skus = self._build().services().skus()
                found: list[dict[str, Any]] = []
                token = None
                while True:
                    page = self._execute(
                        skus.list(parent=COMPUTE_SERVICE, currencyCode="USD", pageSize=5000, pageToken=token),
                        "the Cloud Billing Catalog",
                    )
                    found += [s for s in page.get("skus") or [] if isinstance(s, dict)]
                    token = page.get("nextPageToken")
                    if not token:
                        break
                self._skus = found
            return self._skus

    def _unit_price(self, family: str, what: str, region: str) -> float | None:
        prefix = f"{_family_word(family)} Instance {what} running in"
        for sku in self._catalog():
            text = str(sku.get("description", ""))
            usage = (sku.get("category") or {}).get("usageType")
            if (
                text.startswith(prefix)
                and usage == "OnDemand"
                and region in (sku.get("serviceRegions") or [])
                and not any(word in text for word in _LEFT_OUT)
            ):
                return _usd(sku)
        return None

    def _lookup(self, machine_type: str, region: str) -> float | None:
        shape = machine_shape(machine_type)
        if shape is None:
            return None
        family, cpus, memory = shape
        core, ram = self._unit_price(family, "Core", region), self._unit_price(family, "Ram", region)
        return cpus * core + memory * ram if core and ram else None

    def hourly_price(self, machine_type: str, region: str) -> HourlyPrice | None:
        """The catalog's price, else the table's; a failed catalog read with no table entry is raised."""
        failure: ProviderError | None = None
        try:
            usd = self._lookup(machine_type, region)
        except ProviderError as exc:
            usd, failure = None, exc
        if usd is not None:
            return HourlyPrice(usd, "lookup", _API)
        shipped = TABLE.get(region, {}).get(machine_type)
        if shipped is not None:
            return HourlyPrice(shipped, "table", f"gcp table of {TABLE_DATE} ({TABLE_SOURCE})")
        if failure is not None:
            raise failure
        return None
