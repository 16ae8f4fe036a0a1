"""What fleets need from AWS: credentials of an assumed role, and the words ``all`` and ``organization``.

- ``role_arn`` (with ``external_id`` and ``role_session_name``): credentials from
  STS AssumeRole on top of the base credentials, refreshed by botocore before they
  expire (its ``DeferredRefreshableCredentials``, as its own assume-role profiles do).
- ``region = "all"``: the regions of the account whose ``OptInStatus`` is not
  ``not-opted-in`` (EC2 ``DescribeRegions``, at the ``endpoint_url`` option if any).
- ``account = "organization"``: the ACTIVE accounts of the AWS Organization the
  base credentials belong to (Organizations ``ListAccounts``).

STS and Organizations follow boto3's own configuration (``AWS_ENDPOINT_URL_STS``,
``AWS_ENDPOINT_URL``, ...); ``endpoint_url`` is EC2's alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import boto3
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from snoozebot_aws._errors import map_error

__all__ = ["ALL_REGIONS", "ORGANIZATION", "assume_role", "base_session", "expand_options"]

ALL_REGIONS = "all"
ORGANIZATION = "organization"
_DEFAULT_SESSION_NAME = "snoozebot"


def base_session(options: Mapping[str, str]) -> boto3.session.Session:
    """A session with the base credentials (profile, environment), before any role is assumed."""
    return boto3.session.Session(
        profile_name=options.get("profile") or None, region_name=options.get("region") or None
    )


def assume_role(session: boto3.session.Session, options: Mapping[str, str]) -> None:
    """Make ``session`` use the credentials of ``role_arn``, assumed with the base credentials."""
    base = base_session(options)
    source = base.get_credentials()
    extra = {"RoleSessionName": options.get("role_session_name") or _DEFAULT_SESSION_NAME}
    if options.get("external_id"):
        extra["ExternalId"] = options["external_id"]
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=base.client,
        source_credentials=source,
        role_arn=options["role_arn"],
        extra_args=extra,
    )
    credentials = DeferredRefreshableCredentials(
        method="assume-role", refresh_using=fetcher.fetch_credentials
    )
    # botocore's own assume-role providers hand the session refreshable credentials the same way
    session._session._credentials = credentials


def expand_options(options: Mapping[str, str]) -> dict[str, list[str]]:
    """The values ``all`` and ``organization`` stand for, with the base credentials."""
    expanded: dict[str, list[str]] = {}
    try:
        if options.get("account") == ORGANIZATION:
            pages = base_session(options).client("organizations").get_paginator("list_accounts").paginate()
            expanded["account"] = sorted(
                a["Id"] for page in pages for a in page["Accounts"] if a.get("Status") == "ACTIVE"
            )
        if options.get("region") == ALL_REGIONS:
            session = base_session({k: v for k, v in options.items() if k != "region"})
            ec2 = session.client(
                "ec2",
                region_name=session.region_name or "us-east-1",  # any region answers DescribeRegions
                endpoint_url=options.get("endpoint_url") or None,
            )
            regions = ec2.describe_regions(AllRegions=True)["Regions"]
            expanded["region"] = sorted(
                r["RegionName"] for r in regions if r.get("OptInStatus") != "not-opted-in"
            )
    except (BotoCoreError, ClientError) as exc:
        raise map_error(exc) from None
    return expanded
