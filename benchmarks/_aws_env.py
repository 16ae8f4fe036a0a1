"""The environment the AWS benchmarks run their commands in: a local EC2, dummy credentials."""

from __future__ import annotations

import os
from pathlib import Path


def bench_env(endpoint: str, scratch: Path) -> dict[str, str]:
    """Every AWS_* variable replaced, an empty config, and a throwaway SNOOZEBOT_HOME under ``scratch``."""
    config = scratch / "config.toml"
    config.write_text("")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "SNOOZEBOT_HOME": str(scratch / "home"),
        "SNOOZEBOT_CONFIG": str(config),
    }
