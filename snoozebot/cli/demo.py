"""``snoozebot demo``: a guided run against a local EC2 emulator (moto), nothing real touched.

The emulator runs in this process on 127.0.0.1 (moto's ``ThreadedMotoServer``,
from the ``demo`` extra); every step is the real ``snoozebot`` command run
as a child process, exactly as a user would type it. The emulator is the one
place a cloud SDK is imported on the host side: moto needs boto3 to create
the demo's instances. Real AWS is never reachable from the demo: the child
processes get the emulator's endpoint, dummy credentials, and no profile.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from snoozebot.errors import EXIT_INTERRUPTED, OperationFailed, SnoozebotError

__all__ = ["demo", "local_ec2"]

_STEP_TIMEOUT = 120.0
_DUMMY_KEY = "demo"  # the emulator accepts any credentials
_IMAGE = "ami-12c6146b"
_MACHINES = [
    ("ml-training", "ml", "p3.2xlarge"),
    ("ml-notebook", "ml", "t3.large"),
    ("web-staging", "web", "t3.small"),
]


class DemoUnavailable(SnoozebotError):
    """The demo's emulator (moto) or the aws provider (boto3) is not installed."""

    code = "demo_unavailable"


def _require_demo_extra() -> None:
    missing = [m for m in ("moto", "flask", "boto3") if importlib.util.find_spec(m) is None]
    if missing:
        raise DemoUnavailable(
            f"the demo needs a local EC2 emulator ({', '.join(missing)} not installed); "
            "install it with: pip install '.[demo]' (from a checkout)"
        )


@dataclass(frozen=True)
class LocalEc2:
    """A running emulator: its endpoint, and a boto3 EC2 client on it."""

    endpoint: str
    client: Any


@contextlib.contextmanager
def _without_aws_settings() -> Iterator[None]:
    """Hide the user's AWS profile, config files and variables while the emulator's client is built."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    try:
        yield
    finally:
        for key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            os.environ.pop(key, None)
        os.environ.update(saved)


@contextlib.contextmanager
def local_ec2(*, region: str = "us-east-1") -> Iterator[LocalEc2]:
    """moto's EC2 server on a free port of 127.0.0.1 in this process; stopped on exit.

    The user's AWS profile and variables are hidden from this process meanwhile
    (moto and its client would read them); child processes get their own env.
    """
    import boto3  # the demo's emulator only, never the CLI's cloud path
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with _without_aws_settings():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            client = boto3.client(
                "ec2",
                endpoint_url=endpoint,
                region_name=region,
                aws_access_key_id=_DUMMY_KEY,
                aws_secret_access_key=_DUMMY_KEY,
            )
            yield LocalEc2(endpoint, client)
        finally:
            server.stop()


def _create_machines(ec2: LocalEc2) -> list[str]:
    ids = []
    for name, team, kind in _MACHINES:
        reply = ec2.client.run_instances(
            ImageId=_IMAGE,
            MinCount=1,
            MaxCount=1,
            InstanceType=kind,
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": "Name", "Value": name}, {"Key": "Team", "Value": team}],
                }
            ],
        )
        ids.append(str(reply["Instances"][0]["InstanceId"]))
    return ids


def _child_env(endpoint: str, scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SNOOZEBOT_CONFIG"))}
    config = scratch / "config.toml"
    config.write_text(f'[providers.aws]\nendpoint_url = "{endpoint}"\nregion = "us-east-1"\n')
    env.update(
        SNOOZEBOT_HOME=os.environ.get("SNOOZEBOT_HOME") or str(scratch / "home"),
        SNOOZEBOT_CONFIG=str(config),
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=_DUMMY_KEY,
        AWS_SECRET_ACCESS_KEY=_DUMMY_KEY,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(scratch / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(scratch / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def _say(text: str) -> None:
    typer.echo(text)


def _step(number: int, explanation: str, args: list[str], env: dict[str, str]) -> None:
    _say(f"\n{number}. {explanation}")
    _say(typer.style(f"   $ snoozebot {' '.join(args)}", bold=True))
    sys.stdout.flush()
    child = subprocess.Popen([sys.executable, "-m", "snoozebot", *args], env=env)
    try:
        code = child.wait(timeout=_STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        _end(child)
        raise OperationFailed(f"demo step {number} did not finish within {_STEP_TIMEOUT:g}s") from None
    except KeyboardInterrupt:  # Ctrl-C reached this process alone: the step ends before its files go
        _end(child)
        raise
    if code == EXIT_INTERRUPTED:
        raise KeyboardInterrupt
    if code != 0:
        raise OperationFailed(f"demo step {number} (snoozebot {' '.join(args)}) exited with {code}")


def _end(child: subprocess.Popen[bytes]) -> None:
    """Stop a step's command (SIGTERM: it shuts its workers down) and wait until it has gone."""
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def demo(
    keep_home: Annotated[
        bool,
        typer.Option("--keep-home", help="Keep the demo's temporary state directory and print its path."),
    ] = False,
) -> None:
    """A guided tour against a local EC2 emulator: nothing real is touched.

    Starts moto's EC2 server on 127.0.0.1 in this process, creates a few tagged
    instances, and runs: plugins list, plugins load aws, instance list,
    instance stop, instance list, history, explaining each step. Uses its own
    temporary SNOOZEBOT_HOME unless you set one. Needs, from a checkout: pip install '.[demo]'

    Example: snoozebot demo
    """
    _require_demo_extra()
    scratch_dir = tempfile.mkdtemp(prefix="snoozebot-demo-")
    scratch = Path(scratch_dir)
    try:
        _say("Snoozebot demo: a local EC2 emulator (moto) stands in for AWS; nothing real is touched.")
        with local_ec2() as ec2:
            ids = _create_machines(ec2)
            _say(f"Started the emulator at {ec2.endpoint} and created {len(ids)} running instances.")
            env = _child_env(ec2.endpoint, scratch)
            _say(f"State directory for this demo: {env['SNOOZEBOT_HOME']}")
            _run_tour(ids, env)
        _say(
            "\nDone. Against real AWS, drop the emulator: configure credentials as for any boto3 program\n"
            "(AWS_PROFILE, ~/.aws/credentials, an instance role), then:\n"
            "   snoozebot plugins load aws\n   snoozebot instance list -o region=eu-west-1"
        )
    finally:
        if keep_home:
            _say(f"Kept the demo's files in {scratch}")
        else:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)


def _run_tour(ids: list[str], env: dict[str, str]) -> None:
    ml = ids[:2]
    steps: list[tuple[str, list[str]]] = [
        (
            "Providers are plugins, found through Python entry points. Listing them imports no plugin\n"
            "   code and starts no process:",
            ["plugins", "list"],
        ),
        (
            "Loading a provider starts its worker process (boto3 lives there, never in the CLI),\n"
            "   checks its plugin API version and health, and remembers it as loaded:",
            ["plugins", "load", "aws"],
        ),
        ("`instance list` without -p covers every loaded provider, concurrently:", ["instance", "list"]),
        (
            "Filters are tag equality filters, applied by EC2 itself (tag:Team=ml):",
            ["instance", "list", "--filter", "Team=ml"],
        ),
        (
            "A dry run asks EC2 whether the stop would be allowed, and changes nothing:",
            ["instance", "stop", *ml, "-p", "aws", "--dry-run"],
        ),
        (
            "Stop the two ml machines in one batched call, and wait until EC2 reports them stopped.\n"
            "   Scripts add --json; the exit code is 1 if any instance failed:",
            ["instance", "stop", *ml, "-p", "aws", "--wait"],
        ),
        ("They are stopped now; the web machine still runs:", ["instance", "list"]),
        (
            "Every start and stop attempt is in the audit log (written before the call, completed after):",
            ["history", "--limit", "5"],
        ),
    ]
    for number, (explanation, args) in enumerate(steps, start=1):
        _step(number, explanation, args, env)
