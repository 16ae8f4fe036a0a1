"""Provider options: project, zone, endpoint and credentials, resolved once per worker.

Resolution order (docs/gcp.md):

- ``project``: the option, else ``$GOOGLE_CLOUD_PROJECT``, else the project the
  credentials carry (Application Default Credentials or the key file's ``project_id``).
- ``endpoint``: the option, else ``$CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE``, else
  Google's own. A bare ``scheme://host:port`` gets the API's ``compute/v1/`` path.
- ``credentials``: ``default`` (ADC), ``anonymous``, or a service-account key file.
  Unset, it is ``default`` — except against a plain-``http`` endpoint (an emulator),
  where it is ``anonymous``, so that a real token is never sent unencrypted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from snoozebot.sdk import ConfigurationError
from snoozebot_gcp._mapping import is_resource_name

__all__ = ["KNOWN_OPTIONS", "Settings", "load_credentials", "resolve_settings"]

KNOWN_OPTIONS = ("project", "zone", "endpoint", "credentials")
_SCOPES = ["https://www.googleapis.com/auth/compute"]
_SERVICE_PATH = "compute/v1/"
_PROJECT_HINT = (
    "set it with -o project=ID, `project` under [providers.gcp] in the config file, "
    "or the GOOGLE_CLOUD_PROJECT environment variable"
)
_CREDENTIALS_HINT = (
    "run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, "
    "or pass -o credentials=PATH_TO_KEY_FILE (-o credentials=anonymous for an emulator)"
)


@dataclass(frozen=True)
class Settings:
    """The options a provider works with, validated."""

    project: str | None
    zone: str | None
    endpoint: str | None
    credentials: str


def resolve_settings(config: dict[str, str]) -> Settings:
    """Validate the provider options and fill the gaps from the environment."""
    unknown = sorted(set(config) - set(KNOWN_OPTIONS))
    if unknown:
        raise ConfigurationError(
            f"unknown gcp option(s): {', '.join(unknown)} (known: {', '.join(KNOWN_OPTIONS)})"
        )
    zone = config.get("zone") or None
    if zone is not None and not is_resource_name(zone):
        raise ConfigurationError(f"gcp option zone={zone!r} is not a zone name such as us-central1-a")
    endpoint = _normalise_endpoint(
        config.get("endpoint") or os.environ.get("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE") or None
    )
    credentials = config.get("credentials") or None
    if credentials is None:
        plain_http = endpoint is not None and endpoint.startswith("http://")
        credentials = "anonymous" if plain_http else "default"
    project = config.get("project") or os.environ.get("GOOGLE_CLOUD_PROJECT") or None
    return Settings(project=project, zone=zone, endpoint=endpoint, credentials=credentials)


def _normalise_endpoint(endpoint: str | None) -> str | None:
    if endpoint is None:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"gcp endpoint {endpoint!r} is not an http(s) URL such as http://127.0.0.1:8080/compute/v1/"
        )
    if parts.path in ("", "/"):
        return f"{parts.scheme}://{parts.netloc}/{_SERVICE_PATH}"
    return endpoint if endpoint.endswith("/") else endpoint + "/"


def load_credentials(settings: Settings) -> tuple[Any, str]:
    """The google-auth credentials the settings name, and the project to use.

    Raises ConfigurationError, with a hint, when credentials or the project are missing.
    """
    import google.auth
    import google.auth.credentials
    import google.auth.exceptions

    project = settings.project
    choice = settings.credentials
    try:
        if choice == "anonymous":
            credentials: Any = google.auth.credentials.AnonymousCredentials()  # type: ignore[no-untyped-call]
        elif choice == "default":
            credentials, adc_project = google.auth.default(scopes=_SCOPES)
            project = project or adc_project
        else:
            credentials, project = _key_file_credentials(choice, project)
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise ConfigurationError(
            f"no Google Cloud credentials found ({_first_line(exc)}); {_CREDENTIALS_HINT}"
        ) from None
    if not project:
        raise ConfigurationError(f"no GCP project configured; {_PROJECT_HINT}")
    return credentials, project


def _key_file_credentials(path: str, project: str | None) -> tuple[Any, str | None]:
    from google.oauth2 import service_account

    if not os.path.isfile(path):
        raise ConfigurationError(
            f"gcp credentials={path!r}: no such key file (use default, anonymous, "
            "or the path of a service-account key file)"
        )
    try:
        credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            path, scopes=_SCOPES
        )
    except (ValueError, KeyError, OSError) as exc:
        # The message names the problem, never the key material.
        raise ConfigurationError(
            f"gcp credentials file {path!r} is not a usable service-account key: {type(exc).__name__}"
        ) from None
    return credentials, project or credentials.project_id


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
