"""On-demand EC2 prices for ``hourly_price``: the AWS Price List Query API, else a dated table.

The Price List API (boto3's ``pricing`` client, in us-east-1; honours
``AWS_ENDPOINT_URL_PRICING``) is asked for Linux, shared-tenancy, on-demand
products of the type at the region's *location name* (``EU (Ireland)``), or at
its ``regionCode`` for regions missing from :data:`LOCATIONS`. When it cannot
answer (no credentials or permission, no network), :data:`TABLE` does for
common types. See ``docs/aws.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from snoozebot.sdk import HourlyPrice
from snoozebot_aws._errors import map_error

__all__ = ["LOCATIONS", "TABLE", "TABLE_DATE", "PriceList"]

TABLE_DATE = "2024-06-01"
TABLE_SOURCE = "aws.amazon.com/ec2/pricing/on-demand, Linux, shared tenancy"
TABLE: Mapping[str, Mapping[str, float]] = {
    "us-east-1": {
        "t3.nano": 0.0052, "t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416,
        "t3.large": 0.0832, "t3.xlarge": 0.1664, "t3.2xlarge": 0.3328,
        "t3a.micro": 0.0094, "t3a.small": 0.0188, "t3a.medium": 0.0376, "t3a.large": 0.0752,
        "t4g.micro": 0.0084, "t4g.small": 0.0168, "t4g.medium": 0.0336, "t4g.large": 0.0672,
        "m5.large": 0.096, "m5.xlarge": 0.192, "m5.2xlarge": 0.384, "m5.4xlarge": 0.768,
        "m6i.large": 0.096, "m6i.xlarge": 0.192, "m6i.2xlarge": 0.384,
        "m6g.large": 0.077, "m7g.large": 0.0816, "m7i.large": 0.1008,
        "c5.large": 0.085, "c5.xlarge": 0.17, "c5.2xlarge": 0.34, "c6i.large": 0.085, "c6i.xlarge": 0.17,
        "r5.large": 0.126, "r5.xlarge": 0.252, "r6i.large": 0.126,
        "g4dn.xlarge": 0.526, "g4dn.2xlarge": 0.752, "g5.xlarge": 1.006, "p3.2xlarge": 3.06,
    },
    "eu-west-1": {
        "t3.micro": 0.0114, "t3.small": 0.0228, "t3.medium": 0.0456, "t3.large": 0.0912, "t3.xlarge": 0.1824,
        "m5.large": 0.107, "m5.xlarge": 0.214, "m6i.large": 0.107, "c5.large": 0.096, "c6i.large": 0.096,
        "r5.large": 0.141, "g4dn.xlarge": 0.587,
    },
}
"""USD per hour by region and type, as published on :data:`TABLE_SOURCE` on :data:`TABLE_DATE`."""

LOCATIONS: Mapping[str, str] = {
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)", "sa-east-1": "South America (Sao Paulo)",
    "eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)", "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)", "eu-north-1": "EU (Stockholm)", "eu-south-1": "EU (Milan)",
    "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)", "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)", "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-east-1": "Asia Pacific (Hong Kong)", "me-south-1": "Middle East (Bahrain)",
    "af-south-1": "Africa (Cape Town)",
}
"""The Price List API's location names of the regions."""

_API = "AWS Price List API"
_FIXED = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}


def _filters(instance_type: str, region: str) -> list[dict[str, str]]:
    where = {"location": LOCATIONS[region]} if region in LOCATIONS else {"regionCode": region}
    return [
        {"Type": "TERM_MATCH", "Field": field, "Value": value}
        for field, value in {"instanceType": instance_type, **where, **_FIXED}.items()
    ]


def on_demand_usd(product: Mapping[str, Any]) -> float | None:
    """The hourly USD price in one Price List product document, if it has one above zero."""
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            usd = float(dimension.get("pricePerUnit", {}).get("USD", 0) or 0)
            if usd > 0:
                return usd
    return None


class PriceList:
    """Prices of one provider instance's account (its profile's credentials)."""

    def __init__(self, *, profile: str | None) -> None:
        self._profile = profile
        self._client: Any = None

    def _pricing(self) -> Any:
        if self._client is None:  # built on the first lookup: most runs never price anything
            session = boto3.session.Session(profile_name=self._profile)
            self._client = session.client(
                "pricing", region_name="us-east-1", config=Config(retries={"total_max_attempts": 3},
                                                                   connect_timeout=5, read_timeout=20)
            )
        return self._client

    def _lookup(self, instance_type: str, region: str) -> float | None:
        reply = self._pricing().get_products(
            ServiceCode="AmazonEC2", Filters=_filters(instance_type, region), FormatVersion="aws_v1",
            MaxResults=10,
        )
        for text in reply.get("PriceList", []):
            usd = on_demand_usd(json.loads(text) if isinstance(text, str) else text)
            if usd is not None:
                return usd
        return None

    def hourly_price(self, instance_type: str, region: str) -> HourlyPrice | None:
        """The API's price, else the table's; a failed API call with no table entry is raised."""
        failure: Exception | None = None
        try:
            usd = self._lookup(instance_type, region)
        except (BotoCoreError, ClientError, ValueError) as exc:
            usd, failure = None, exc
        if usd is not None:
            return HourlyPrice(usd, "lookup", _API)
        shipped = TABLE.get(region, {}).get(instance_type)
        if shipped is not None:
            return HourlyPrice(shipped, "table", f"aws table of {TABLE_DATE} ({TABLE_SOURCE})")
        if failure is not None:
            raise map_error(failure) from None
        return None
