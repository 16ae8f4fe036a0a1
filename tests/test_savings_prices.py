"""The providers' hourly_price lookups end to end: `snoozebot savings` in a subprocess, real workers,
fake price services on 127.0.0.1 (AWS Price List, Azure Retail Prices, the GCE fake's Cloud Billing
Catalog), the shipped tables behind them, and the cache in the state directory."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import run_cli
from fake_prices import aws_price_list

AMI = "ami-12c6146b"


def ok(*args: str, env: dict[str, str] | None = None) -> Any:
    res = run_cli(*args, env=env)
    assert res.returncode == 0, res.stderr
    return res


def prices_by_type(report: dict[str, Any]) -> dict[str, tuple[float, str, str]]:
    return {p["instance_type"]: (p["usd_per_hour"], p["source"], p["detail"]) for p in report["prices"]}


@pytest.fixture
def ec2(moto_ec2: str) -> Any:
    urllib.request.urlopen(urllib.request.Request(f"{moto_ec2}/moto-api/reset", method="POST"), timeout=10).close()
    return boto3.client("ec2")


def test_aws_price_list_then_the_table_then_unpriced_and_cached(
    ec2: Any, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    ids = {
        kind: ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType=kind)["Instances"][0]["InstanceId"]
        for kind in ("t3.large", "m5.large", "m1.small")
    }
    with aws_price_list({("t3.large", "US East (N. Virginia)"): 0.0999}) as fake:
        monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", fake.url)
        ok("instance", "stop", *ids.values(), "-p", "aws")
        ok("instance", "list", "-p", "aws")  # the stop answer has no types: the listing fills them in
        time.sleep(0.2)
        report = ok("savings", "--json").json()
        assert prices_by_type(report) == {
            "t3.large": (0.0999, "lookup", "AWS Price List API"),  # the API's figure, not the table's
            "m5.large": (0.096, "table", "aws table of 2024-06-01 (aws.amazon.com/ec2/pricing/on-demand, "
                                          "Linux, shared tenancy)"),
        }
        assert report["unpriced"] == [ids["m1.small"]]
        asked = [{f["Field"]: f["Value"] for f in r["body"]["Filters"]} for r in fake.requests]
        assert sorted(a["instanceType"] for a in asked) == ["m1.small", "m5.large", "t3.large"]
        assert {a["location"] for a in asked} == {"US East (N. Virginia)"}
        assert {a["operatingSystem"] for a in asked} == {"Linux"} and {a["tenancy"] for a in asked} == {"Shared"}
        by_id = {r["key"]: r for r in report["rows"]}
        assert by_id[ids["t3.large"]]["amount"] == pytest.approx(by_id[ids["t3.large"]]["hours"] * 0.0999)

        fake.requests.clear()
        again = ok("savings", "--json").json()
        assert fake.requests == []  # all three answers are cached (no price: for an hour)
        assert prices_by_type(again) == prices_by_type(report)
        cache = json.loads((isolated_home / "prices-cache.json").read_text())
        assert cache["aws|t3.large|us-east-1"]["source"] == "lookup"
        assert "usd_per_hour" not in cache["aws|m1.small|us-east-1"]

        (isolated_home / "prices-cache.json").unlink()
        fake.fail = True  # the API is down: the table still answers, the rest is unpriced
        down = ok("savings", "--json")
        assert prices_by_type(down.json())["m5.large"][1] == "table"
        assert "t3.large" in prices_by_type(down.json())  # t3.large is in the table too
        assert down.json()["unpriced"] == [ids["m1.small"]]
        assert "Traceback" not in down.stderr


def test_config_prices_come_first_and_start_no_worker(ec2: Any, isolated_home: Path) -> None:
    iid = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.large")["Instances"][0]["InstanceId"]
    ok("instance", "stop", iid, "-p", "aws")
    ok("instance", "list", "-p", "aws")
    config = isolated_home.parent / "config.toml"
    config.write_text('[prices]\n"aws:*" = 1.5\n')
    res = ok("savings", "--json")
    assert prices_by_type(res.json()) == {"t3.large": (1.5, "config", '[prices] "aws:*"')}
    assert not (isolated_home / "prices-cache.json").exists()  # nobody was asked


def test_azure_retail_prices_then_the_table(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fake_arm import SUBSCRIPTION, FakeArm
    from fake_prices import azure_retail_prices

    for key in ("AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(key, raising=False)
    with FakeArm() as arm, azure_retail_prices({("Standard_B2s", "westeurope"): 0.0523}) as fake:
        arm.add_vm("web-rg", "web-1")  # Standard_B2s in westeurope
        arm.add_vm("ml-rg", "ml-1", size="Standard_D4s_v3")
        arm.add_vm("ml-rg", "odd-1", size="Standard_Z9_v9")
        (isolated_home.parent / "config.toml").write_text(
            f'[providers.azure]\nendpoint = "{arm.endpoint}"\ncredentials = "anonymous"\n'
            f'subscription_id = "{SUBSCRIPTION}"\nprices_endpoint = "{fake.url}/api/retail/prices"\n'
        )
        ok("instance", "stop", "web-rg/web-1", "ml-rg/ml-1", "ml-rg/odd-1", "-p", "azure")
        time.sleep(0.2)
        report = ok("savings", "--json").json()
    assert prices_by_type(report) == {
        "Standard_B2s": (0.0523, "lookup", "Azure Retail Prices API"),  # Linux, not Windows or Spot
        "Standard_D4s_v3": (0.23, "table", "azure table of 2024-06-01 (azure.microsoft.com/pricing/details/"
                                           "virtual-machines/linux, pay as you go)"),
    }
    assert report["unpriced"] == ["ml-rg/odd-1"]
    filters = sorted(r["query"]["$filter"] for r in fake.requests)
    assert filters[0] == (
        "serviceName eq 'Virtual Machines' and armRegionName eq 'westeurope' and armSkuName eq 'Standard_B2s'"
        " and priceType eq 'Consumption'"
    )
    assert len(filters) == 3


def test_gcp_billing_catalog_then_the_table(
    isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fake_gce import FakeComputeEngine, isolate_from_google

    isolate_from_google(monkeypatch, tmp_path)
    with FakeComputeEngine(project="demo-project", page_size=2) as gce:  # the catalog comes in pages
        gce.add_instance("europe-west1-b", "trainer", machine_type="n2-standard-8")
        gce.add_instance("us-central1-a", "tiny", machine_type="e2-micro")  # shared core: the table
        gce.add_instance("us-central1-a", "odd", machine_type="m3-megamem-64")
        gce.add_sku("N2 Instance Core running in EMEA", ["europe-west1", "europe-west4"], 0.034)
        gce.add_sku("N2 Instance Ram running in EMEA", ["europe-west1", "europe-west4"], 0.0045, unit="GiBy.h")
        gce.add_sku("Spot Preemptible N2 Instance Core running in EMEA", ["europe-west1"], 0.008, usage="Preemptible")
        gce.add_sku("N2 Instance Core running in Americas", ["us-central1"], 0.031611)
        gce.add_sku("Commitment v1: N2 Cpu in EMEA for 1 Year", ["europe-west1"], 0.02, usage="Commit1Yr")
        (isolated_home.parent / "config.toml").write_text(
            f'[providers.gcp]\nendpoint = "{gce.base_url}"\ncredentials = "anonymous"\nproject = "demo-project"\n'
        )
        monkeypatch.setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBILLING", gce.root_url)
        ids = ["europe-west1-b/trainer", "us-central1-a/tiny", "us-central1-a/odd"]
        ok("instance", "stop", *ids, "-p", "gcp")
        time.sleep(0.2)
        report = ok("savings", "--json").json()
        catalog_reads = len(gce.calls("cloudbilling.skus.list"))
    found = prices_by_type(report)
    assert found["n2-standard-8"][1:] == ("lookup", "Cloud Billing Catalog API")
    assert found["n2-standard-8"][0] == pytest.approx(8 * 0.034 + 32 * 0.0045)  # vCPUs and GB at the region's rates
    assert found["e2-micro"] == (0.008376, "table", "gcp table of 2024-06-01 (cloud.google.com/compute/"
                                                     "vm-instance-pricing, on demand)")
    assert report["unpriced"] == ["us-central1-a/odd"]
    assert catalog_reads == 3  # five SKUs, two a page, read once for all three types
