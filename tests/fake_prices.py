"""Fake price services on 127.0.0.1 for the providers' ``hourly_price``: AWS Price List and Azure Retail Prices.

Each records the requests it got (so tests can see what was asked, and that a
cached price is not asked again) and answers from a small dict of prices;
``fail`` makes every request answer 500.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class PriceServer:
    url: str
    prices: dict[tuple[str, str], float]
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False


def _aws_product(usd: float) -> str:
    return json.dumps({
        "product": {"attributes": {"instanceType": "?"}},
        "terms": {"OnDemand": {"T1": {"priceDimensions": {"D1": {
            "unit": "Hrs", "pricePerUnit": {"USD": f"{usd:.10f}"}}}}}},
    })


def _handler(server_state: PriceServer, answer: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            self._handle({"target": self.headers.get("X-Amz-Target"), "body": body})

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            self._handle({"path": self.path, "query": {k: v[0] for k, v in query.items()}})

        def _handle(self, request: dict[str, Any]) -> None:
            server_state.requests.append(request)
            if server_state.fail:
                self._reply(500, {"message": "the fake is down"})
                return
            self._reply(*answer(server_state, request))

    return Handler


def _aws_answer(state: PriceServer, request: dict[str, Any]) -> tuple[int, Any]:
    if request.get("target") != "AWSPriceListService.GetProducts":
        return 400, {"__type": "InvalidParameterException", "message": "unknown target"}
    fields = {f["Field"]: f["Value"] for f in request["body"].get("Filters", [])}
    where = fields.get("location") or fields.get("regionCode", "")
    usd = state.prices.get((fields.get("instanceType", ""), where))
    return 200, {"FormatVersion": "aws_v1", "PriceList": [_aws_product(usd)] if usd is not None else []}


def _azure_answer(state: PriceServer, request: dict[str, Any]) -> tuple[int, Any]:
    text = request["query"].get("$filter", "")
    found = dict(re.findall(r"(\w+) eq '([^']*)'", text))
    items = []
    usd = state.prices.get((found.get("armSkuName", ""), found.get("armRegionName", "")))
    if usd is not None:
        sku = found["armSkuName"].removeprefix("Standard_").replace("_", " ")
        base = {"currencyCode": "USD", "unitOfMeasure": "1 Hour", "type": "Consumption",
                "armRegionName": found["armRegionName"], "armSkuName": found["armSkuName"],
                "serviceName": "Virtual Machines"}
        items = [
            {**base, "retailPrice": usd * 1.8, "skuName": sku, "meterName": sku,
             "productName": f"Virtual Machines {sku} Series Windows"},
            {**base, "retailPrice": usd / 5, "skuName": f"{sku} Spot", "meterName": f"{sku} Spot",
             "productName": f"Virtual Machines {sku} Series"},
            {**base, "retailPrice": usd, "skuName": sku, "meterName": sku,
             "productName": f"Virtual Machines {sku} Series"},
        ]
    return 200, {"BillingCurrency": "USD", "Items": items, "NextPageLink": None, "Count": len(items)}


@contextmanager
def _serve(prices: dict[tuple[str, str], float], answer: Any) -> Iterator[PriceServer]:
    state = PriceServer("", prices)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, answer))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def aws_price_list(prices: dict[tuple[str, str], float]) -> Any:
    """The Price List Query API; ``prices`` by (instance type, location name or region code)."""
    return _serve(prices, _aws_answer)


def azure_retail_prices(prices: dict[tuple[str, str], float]) -> Any:
    """The Retail Prices API (``GET /api/retail/prices?$filter=...``); ``prices`` by (SKU, ARM region)."""
    return _serve(prices, _azure_answer)



