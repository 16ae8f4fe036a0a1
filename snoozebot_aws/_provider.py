"""The EC2 provider: boto3 behind the plugin contract.

Runs only in the worker process; the host never imports this module.
Batched stops and starts send up to ``batch_size`` ids per EC2 call and run
the calls concurrently. EC2 fails a whole call when one id in it is unknown,
in the wrong state or stop-protected, so such a failure splits the batch:
ids EC2 names as unknown are answered at once and the rest retried, anything
else is bisected until the offending ids stand alone. One bad id among a
hundred never aborts the other ninety-nine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from snoozebot.sdk import (
    BatchResult,
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
from snoozebot_aws import _convert, _fleet, _identity, _model, _prices
from snoozebot_aws._errors import (
    CREDENTIALS_HINT,
    PER_INSTANCE_CODES,
    REGION_HINT,
    STATE_CODES,
    client_error_code,
    map_error,
    missing_ids,
)

__all__ = ["AwsProvider"]

Action = Literal["stop", "start"]
_OPTIONS = frozenset(
    {
        "region",
        "profile",
        "endpoint_url",
        "batch_size",
        "concurrency",
        "max_attempts",
        "retry_mode",
        "include_terminated",
        "connect_timeout",
        "read_timeout",
        "account",
        "role_arn",
        "external_id",
        "role_session_name",
    }
)
_DONE_STATES: Mapping[Action, frozenset[InstanceState]] = {
    "stop": frozenset({InstanceState.STOPPING, InstanceState.STOPPED}),
    "start": frozenset({InstanceState.PENDING, InstanceState.RUNNING}),
}
_EC2_MAX_BATCH = 1000


def _int_option(config: Mapping[str, str], key: str, default: int, *, low: int, high: int) -> int:
    text = config.get(key)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigurationError(f"aws option {key} must be an integer, got {text!r}") from None
    if not low <= value <= high:
        raise ConfigurationError(f"aws option {key} must be between {low} and {high}, got {value}")
    return value


def _not_found(instance_id: str) -> InstanceNotFound:
    return InstanceNotFound(f"instance {instance_id} not found", cloud_code="InvalidInstanceID.NotFound")


def _halves(ids: list[str]) -> list[list[str]]:
    half = len(ids) // 2
    return [ids[:half], ids[half:]]


def _flag_option(config: Mapping[str, str], key: str) -> bool:
    text = config.get(key, "false").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"aws option {key} must be true or false, got {text!r}")


def _client_config(config: Mapping[str, str], *, pool: int) -> Config:
    """botocore's settings: bounded retries (its own standard/adaptive modes), timeouts, pool size."""
    retries: dict[str, Any] = {}
    if config.get("max_attempts") or not os.environ.get("AWS_MAX_ATTEMPTS"):
        retries["total_max_attempts"] = _int_option(config, "max_attempts", 5, low=1, high=20)
    if config.get("retry_mode"):
        if config["retry_mode"] not in ("standard", "adaptive", "legacy"):
            raise ConfigurationError("aws option retry_mode must be standard, adaptive or legacy")
        retries["mode"] = config["retry_mode"]
    return Config(
        retries=retries,
        max_pool_connections=pool,
        connect_timeout=_int_option(config, "connect_timeout", 10, low=1, high=300),
        read_timeout=_int_option(config, "read_timeout", 60, low=1, high=900),
    )


class AwsProvider(CloudProvider):
    """Amazon EC2 instances in one region.

    Options: ``region``, ``profile``, ``endpoint_url`` (else boto3's own
    environment and config files decide), ``batch_size`` (ids per EC2 call,
    default 100), ``concurrency`` (EC2 calls at once, default 8),
    ``max_attempts`` and ``retry_mode`` (botocore's retries; default 5
    attempts unless ``AWS_MAX_ATTEMPTS`` says otherwise), ``include_terminated``
    (list terminated instances too), ``connect_timeout``/``read_timeout``;
    for fleets ``role_arn``, ``external_id``, ``role_session_name`` (STS
    AssumeRole on top of the base credentials) and ``account`` (informational).
    """

    name = "aws"
    version = "1.0.0"
    api_version = "1.1"

    @classmethod
    def identify_self(cls) -> Identity:
        """This machine as one of the cloud's instances, from its metadata service."""
        return _identity.identify(cls.name)

    def __init__(self, config: dict[str, str]) -> None:
        super().__init__(config)
        unknown = sorted(set(config) - _OPTIONS)
        if unknown:
            raise ConfigurationError(
                f"unknown aws option(s) {', '.join(unknown)} (known: {', '.join(sorted(_OPTIONS))})"
            )
        self._batch_size = _int_option(config, "batch_size", 100, low=1, high=_EC2_MAX_BATCH)
        self._concurrency = _int_option(config, "concurrency", 8, low=1, high=64)
        self._include_terminated = _flag_option(config, "include_terminated")
        client_config = _client_config(config, pool=max(10, self._concurrency * 2))
        try:
            session = boto3.session.Session(
                botocore_session=_model.session_with_models(),
                profile_name=config.get("profile") or None,
                region_name=config.get("region") or None,
            )
            if config.get("role_arn"):
                _fleet.assume_role(session, config)
            self._ec2 = session.client(
                "ec2", endpoint_url=config.get("endpoint_url") or None, config=client_config
            )
            credentials = session.get_credentials()
        except (BotoCoreError, ValueError) as exc:
            mapped = map_error(exc) if isinstance(exc, BotoCoreError) else ConfigurationError(str(exc))
            raise mapped from None
        if credentials is None:
            raise ConfigurationError(f"no AWS credentials found; {CREDENTIALS_HINT}")
        self._region: str = self._ec2.meta.region_name or ""
        if not self._region:  # e.g. AWS_DEFAULT_REGION set but empty
            raise ConfigurationError(f"no AWS region configured; {REGION_HINT}")
        self._prices = _prices.PriceList(profile=config.get("profile") or None)

    def hourly_price(self, instance_type: str, region: str) -> HourlyPrice | None:
        """On-demand Linux price: the AWS Price List API, else the shipped table (docs/aws.md)."""
        return self._prices.hourly_price(instance_type, region)

    @classmethod
    def expand_options(cls, options: dict[str, str]) -> dict[str, list[str]]:
        """Plugin API 1.1: ``region = "all"`` and ``account = "organization"`` (docs/aws.md)."""
        return _fleet.expand_options(options)

    # -- reading ---------------------------------------------------------------

    def _describe(self, **kwargs: Any) -> list[Instance]:
        found = []
        try:
            pages = self._ec2.get_paginator("describe_instances").paginate(**kwargs)
            for page in pages:
                for reservation in page.get("Reservations", []):
                    for item in reservation.get("Instances", []):
                        found.append(_convert.from_description(item, region=self._region))
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc) from None
        return found

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        """Instances whose tags equal every filter (EC2 ``tag:KEY`` filters, server-side)."""
        ec2_filters = _convert.tag_filters(filters)
        if not self._include_terminated:
            ec2_filters.append({"Name": "instance-state-name", "Values": list(_convert.LIVE_STATES)})
        found = self._describe(Filters=ec2_filters, PaginationConfig={"PageSize": 1000})
        return sorted(found, key=lambda i: i.id)

    def get_instance_info(self, instance_id: str) -> Instance:
        """The instance as EC2 describes it now."""
        try:
            found = self._describe(InstanceIds=[instance_id])
        except InstanceNotFound:
            raise _not_found(instance_id) from None
        if not found:
            raise _not_found(instance_id)
        return found[0]

    # -- single forms ------------------------------------------------------------

    def stop_instance(self, instance_id: str, *, hibernate: bool = False, dry_run: bool = False) -> Instance:
        """Stop one instance (``hibernate`` keeps memory; ``dry_run`` asks EC2's DryRun)."""
        return self._single(
            self.stop_instances([instance_id], hibernate=hibernate, dry_run=dry_run), instance_id
        )

    def start_instance(self, instance_id: str, *, dry_run: bool = False) -> Instance:
        """Start one instance (``dry_run`` asks EC2's DryRun)."""
        return self._single(self.start_instances([instance_id], dry_run=dry_run), instance_id)

    @staticmethod
    def _single(result: BatchResult, instance_id: str) -> Instance:
        value = result[instance_id]
        if isinstance(value, Exception):
            raise value
        return value

    # -- batch forms -------------------------------------------------------------

    def stop_instances(
        self, instance_ids: Iterable[str], *, hibernate: bool = False, dry_run: bool = False
    ) -> BatchResult:
        """Stop many instances: chunked EC2 calls, run concurrently; failures reported per id."""
        extra = {"Hibernate": True} if hibernate else {}
        return self._batch("stop", list(dict.fromkeys(instance_ids)), extra, dry_run=dry_run)

    def start_instances(self, instance_ids: Iterable[str], *, dry_run: bool = False) -> BatchResult:
        """Start many instances: chunked EC2 calls, run concurrently; failures reported per id."""
        return self._batch("start", list(dict.fromkeys(instance_ids)), {}, dry_run=dry_run)

    def _batch(self, action: Action, ids: list[str], extra: dict[str, Any], *, dry_run: bool) -> BatchResult:
        if not ids:
            return {}
        chunks = [ids[i : i + self._batch_size] for i in range(0, len(ids), self._batch_size)]

        def run(chunk: list[str]) -> BatchResult:
            if dry_run:
                return self._dry_run(action, chunk, extra)
            return self._call(action, chunk, extra)

        return self._concurrently(run, chunks)

    def _concurrently(self, run: Callable[[list[str]], BatchResult], chunks: list[list[str]]) -> BatchResult:
        results: BatchResult = {}
        if len(chunks) == 1:
            return run(chunks[0])
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(chunks))) as pool:
            for part in pool.map(run, chunks):
                results.update(part)
        return results

    def _request(
        self, action: Action, ids: list[str], extra: dict[str, Any], *, dry_run: bool = False
    ) -> Any:
        if action == "stop":
            return self._ec2.stop_instances(InstanceIds=ids, DryRun=dry_run, **extra)
        return self._ec2.start_instances(InstanceIds=ids, DryRun=dry_run, **extra)

    def _call(self, action: Action, ids: list[str], extra: dict[str, Any]) -> BatchResult:
        """One EC2 call for ``ids``; on a per-instance error, split and retry the rest."""
        try:
            reply = self._request(action, ids, extra)
        except (ClientError, BotoCoreError) as exc:
            return self._split(action, ids, extra, exc)
        key = "StoppingInstances" if action == "stop" else "StartingInstances"
        results: BatchResult = {}
        for item in reply.get(key, []):
            instance = _convert.from_state_change(item, region=self._region)
            results[instance.id] = instance
        for iid in ids:
            results.setdefault(iid, ProviderError(f"EC2 did not report instance {iid} in its answer"))
        return results

    def _split(self, action: Action, ids: list[str], extra: dict[str, Any], exc: Exception) -> BatchResult:
        code = client_error_code(exc)
        if code not in PER_INSTANCE_CODES:
            return {iid: map_error(exc, instance_id=iid) for iid in ids}
        if len(ids) == 1:
            return {ids[0]: self._single_failure(action, ids[0], exc)}
        named = missing_ids(exc, ids)
        if named:
            results: BatchResult = {iid: map_error(exc, instance_id=iid) for iid in named}
            rest = [iid for iid in ids if iid not in results]
            if rest:
                results.update(self._call(action, rest, extra))
            return results
        return self._concurrently(lambda part: self._call(action, part, extra), _halves(ids))

    def _single_failure(self, action: Action, instance_id: str, exc: Exception) -> Instance | Exception:
        """A wrong-state error is success when the instance is already where it was sent."""
        if client_error_code(exc) in STATE_CODES:
            try:
                current = self.get_instance_info(instance_id)
            except Exception:
                return map_error(exc, instance_id=instance_id)
            if current.state in _DONE_STATES[action]:
                return current
            return InvalidInstanceState(
                f"cannot {action} instance {instance_id} while it is {current.raw_state}",
                cloud_code=client_error_code(exc),
            )
        return map_error(exc, instance_id=instance_id)

    def _dry_run(self, action: Action, ids: list[str], extra: dict[str, Any]) -> BatchResult:
        """Describe the instances (they must exist), then ask EC2's DryRun whether the call is allowed."""
        results: BatchResult = {}
        try:
            current = {i.id: i for i in self._describe(InstanceIds=ids)}
        except InstanceNotFound:
            if len(ids) == 1:
                return {ids[0]: _not_found(ids[0])}
            return self._concurrently(lambda part: self._dry_run(action, part, extra), _halves(ids))
        except Exception as exc:
            return {iid: exc for iid in ids}
        try:
            self._request(action, list(current), extra, dry_run=True)
        except ClientError as exc:
            if client_error_code(exc) != "DryRunOperation":
                return {iid: map_error(exc, instance_id=iid) for iid in ids}
        except BotoCoreError as exc:
            return {iid: map_error(exc, instance_id=iid) for iid in ids}
        for iid in ids:
            results[iid] = current.get(iid) or _not_found(iid)
        return results

    def close(self) -> None:
        """Close the client's connection pool."""
        self._ec2.close()
