"""A fake cloud metadata server on 127.0.0.1: AWS IMDSv2, the GCE metadata server and Azure IMDS.

IMDSv2 as EC2 serves it: ``PUT /latest/api/token`` with a TTL header returns
a session token; every ``GET /latest/meta-data/...`` without that token is
401. The GCE side answers only requests carrying ``Metadata-Flavor: Google``
(else 403) and sends that header back. The Azure side serves
``GET /metadata/instance?api-version=...`` as JSON to requests carrying
``Metadata: true`` (else 400, as Azure does). Each side can be switched off
(404), and every request is recorded.

Use as a context manager::

    with FakeMetadata(aws={"instance-id": "i-123", "region": "us-east-1"}) as md:
        env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": md.url, "GCE_METADATA_HOST": md.host}
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        fake = self.server.fake
        fake.requests.append(("PUT", self.path, self.headers))
        if self.path != "/latest/api/token" or fake.aws is None:
            return self._send(404)
        if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self._send(400, "missing TTL header")
        token = secrets.token_hex(16)
        fake.tokens.add(token)
        self._send(200, token)

    def do_GET(self) -> None:
        fake = self.server.fake
        fake.requests.append(("GET", self.path, self.headers))
        if self.path.startswith("/latest/meta-data/"):
            if fake.aws is None:
                return self._send(404)
            if self.headers.get("X-aws-ec2-metadata-token") not in fake.tokens:
                return self._send(401)
            key = {"instance-id": "instance-id", "placement/region": "region"}.get(self.path.removeprefix("/latest/meta-data/"))
            return self._send(200, fake.aws[key]) if key else self._send(404)
        if self.path.startswith("/computeMetadata/v1/"):
            if fake.gce is None:
                return self._send(404)
            if self.headers.get("Metadata-Flavor") != "Google":
                return self._send(403, "Missing Metadata-Flavor:Google header.")
            key = self.path.removeprefix("/computeMetadata/v1/")
            value = {
                "instance/name": fake.gce.get("name"),
                "instance/zone": f"projects/123456789/zones/{fake.gce.get('zone')}",
                "project/project-id": fake.gce.get("project"),
            }.get(key)
            headers = {"Metadata-Flavor": "Google"}
            return self._send(200, value, headers) if value else self._send(404, "", headers)
        if self.path.startswith("/metadata/instance?") and "api-version=" in self.path:
            if fake.azure is None:
                return self._send(404)
            if self.headers.get("Metadata") != "true":
                return self._send(400, '{"error": "Bad request. Required metadata header not specified"}')
            compute = {"azEnvironment": "AzurePublicCloud", "location": "westeurope", **fake.azure}
            return self._send(200, json.dumps({"compute": compute, "network": {"interface": []}}))
        self._send(404)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeMetadata


class FakeMetadata:
    """The metadata services on one loopback port; ``aws``/``gce``/``azure`` None switches a side off.

    ``azure`` holds IMDS ``compute`` fields: ``name``, ``resourceGroupName``, ``subscriptionId``.
    """

    def __init__(
        self,
        *,
        aws: dict[str, str] | None = None,
        gce: dict[str, str] | None = None,
        azure: dict[str, str] | None = None,
    ) -> None:
        self.aws = aws
        self.gce = gce
        self.azure = azure
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str, Any]] = []  # (method, path, headers)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the form ``GCE_METADATA_HOST`` takes."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, the form ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` and
        ``SNOOZEBOT_AZURE_IMDS_ENDPOINT`` take."""
        return f"http://{self.host}"

    def __enter__(self) -> FakeMetadata:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def refused_host() -> str:
    """``127.0.0.1:PORT`` where nothing listens (connections are refused at once)."""
    from conftest import free_port

    return f"127.0.0.1:{free_port()}"
