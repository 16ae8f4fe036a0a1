"""Pay-as-you-go VM prices for ``hourly_price``: Azure's public Retail Prices API, else a dated table.

The Retail Prices API (``https://prices.azure.com/api/retail/prices``, no
credentials; the ``prices_endpoint`` option points elsewhere) is asked for the
``Virtual Machines`` consumption prices of the size (``armSkuName``) in the
region (``armRegionName``); Windows, Spot and Low Priority meters are left
out, so the answer is the Linux pay-as-you-go price. When it cannot answer,
:data:`TABLE` does for common sizes. See ``docs/azure.md``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from snoozebot.sdk import HourlyPrice, ProviderError

__all__ = ["DEFAULT_PRICES_ENDPOINT", "TABLE", "TABLE_DATE", "RetailPrices", "linux_on_demand"]

DEFAULT_PRICES_ENDPOINT = "https://prices.azure.com/api/retail/prices"
TABLE_DATE = "2024-06-01"
TABLE_SOURCE = "azure.microsoft.com/pricing/details/virtual-machines/linux, pay as you go"
TABLE: Mapping[str, Mapping[str, float]] = {
    "eastus": {
        "Standard_B1s": 0.0104, "Standard_B1ms": 0.0207, "Standard_B2s": 0.0416, "Standard_B2ms": 0.0832,
        "Standard_B4ms": 0.166, "Standard_D2s_v3": 0.096, "Standard_D4s_v3": 0.192, "Standard_D8s_v3": 0.384,
        "Standard_D2s_v5": 0.096, "Standard_D4s_v5": 0.192, "Standard_D8s_v5": 0.384,
        "Standard_E2s_v3": 0.126, "Standard_E4s_v3": 0.252, "Standard_E2s_v5": 0.126,
        "Standard_F2s_v2": 0.0846, "Standard_F4s_v2": 0.169, "Standard_NC6s_v3": 3.06,
    },
    "westeurope": {
        "Standard_B2s": 0.048, "Standard_D2s_v3": 0.115, "Standard_D4s_v3": 0.23, "Standard_D2s_v5": 0.115,
        "Standard_D4s_v5": 0.23, "Standard_E2s_v3": 0.148,
    },
}
"""USD per hour by region and size, as published on :data:`TABLE_SOURCE` on :data:`TABLE_DATE`."""

_API = "Azure Retail Prices API"
_LEFT_OUT = ("Spot", "Low Priority")
_TIMEOUT = 20.0


def linux_on_demand(items: list[Mapping[str, Any]]) -> float | None:
    """The Linux pay-as-you-go hourly price among a Retail Prices answer's items."""
    prices = [
        float(item["retailPrice"])
        for item in items
        if item.get("type", "Consumption") == "Consumption"
        and item.get("unitOfMeasure") == "1 Hour"
        and "Windows" not in str(item.get("productName", ""))
        and not any(word in str(item.get("skuName", "")) for word in _LEFT_OUT)
        and float(item.get("retailPrice", 0) or 0) > 0
    ]
    return min(prices) if prices else None


class RetailPrices:
    """The public Retail Prices API at ``endpoint``."""

    def __init__(self, endpoint: str = DEFAULT_PRICES_ENDPOINT) -> None:
        self._endpoint = endpoint

    def _lookup(self, size: str, region: str) -> float | None:
        where = (
            f"serviceName eq 'Virtual Machines' and armRegionName eq '{region}'"
            f" and armSkuName eq '{size}' and priceType eq 'Consumption'"
        )
        url = f"{self._endpoint}?{urllib.parse.urlencode({'$filter': where})}"
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as answer:  # noqa: S310 - http(s) endpoint option
            body = json.load(answer)
        items = body.get("Items") if isinstance(body, dict) else None
        return linux_on_demand([i for i in items or [] if isinstance(i, dict)])

    def hourly_price(self, size: str, region: str) -> HourlyPrice | None:
        """The API's price, else the table's; a failed API call with no table entry is raised."""
        failure: Exception | None = None
        try:
            usd = self._lookup(size, region.lower())
        except (OSError, ValueError, KeyError) as exc:  # urllib's errors are OSErrors
            usd, failure = None, exc
        if usd is not None:
            return HourlyPrice(usd, "lookup", _API)
        shipped = TABLE.get(region.lower(), {}).get(size)
        if shipped is not None:
            return HourlyPrice(shipped, "table", f"azure table of {TABLE_DATE} ({TABLE_SOURCE})")
        if failure is not None:
            raise ProviderError(f"{_API} did not answer for {size} in {region}: {failure}") from None
        return None
