"""The install lines of the docs, run as printed into fresh virtual environments, offline.

The package index's ``snoozebot`` is someone else's project, so every page
installs Snoozebot from a checkout or from a wheel built from one. The slow
tests take the user guide's and the plugin guide's marked blocks
(``<!-- install: NAME -->``) out of the docs and run them with bash in a fresh
home holding a copy of this checkout: a changed block is what runs next time.
pip sees no index at all (``PIP_NO_INDEX``, no pip.conf); the dependencies come
from a wheelhouse that ``pip download`` fills once per set of pins (cached
under artifacts/), so nothing but our own wheel can satisfy ``snoozebot``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from test_plugin_guide import _files_in_guide

from snoozebot import __version__

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = ["README.md", *(f"docs/{p}.md" for p in ("user-guide", "aws", "gcp", "azure", "agent", "ui", "plugin-guide"))]
"""The pages that tell users how to install Snoozebot."""
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "artifacts", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "results"
)
WRONG = re.compile(r"pip install (-\S+ )*['\"]?snoozebot(\[[^\]]*\])?['\"]?(\s|$)", re.M)
"""``pip install snoozebot`` or ``pip install 'snoozebot[aws]'``: the index's package, not ours."""


def block(page: str, name: str) -> str:
    """The ``sh`` block marked ``<!-- install: NAME -->`` in ``page``."""
    found = re.findall(rf"<!-- install: {name} -->\n```sh\n(.*?)\n```", (ROOT / page).read_text(), re.S)
    assert len(found) == 1, f"{page} has no single block marked install: {name}"
    return str(found[0])


def test_no_page_installs_snoozebot_by_name() -> None:
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    wrong = {p.name: WRONG.findall(p.read_text()) for p in pages if p.name != "cli.md"}  # cli.md: --help text
    assert {name: hits for name, hits in wrong.items() if hits} == {}


@pytest.mark.parametrize("page", PAGES)
def test_each_page_shows_an_install_we_run_and_warns_about_the_name(page: str) -> None:
    text = (ROOT / page).read_text()
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    if page != "docs/plugin-guide.md":
        shown = re.findall(r"pip install '(?:\.|dist/snoozebot-[^']+\.whl)\[([\w,]+)\]'", text)
        assert shown, f"{page} shows no install from a checkout or a wheel"
        assert {e for extra in shown for e in extra.split(",")} <= extras
    assert "someone else's project" in text, f"{page} does not warn about the name on the package index"


def test_the_documented_wheel_is_the_one_the_build_makes() -> None:
    assert f"dist/snoozebot-{__version__}-py3-none-any.whl[aws]" in block("docs/user-guide.md", "wheel")


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """Wheels of our dependencies, the aws extra's and setuptools (to build), at the pinned versions."""
    pins = (ROOT / "constraints.txt").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    house = ROOT / "artifacts" / f"wheelhouse-{hashlib.sha256(pins).hexdigest()[:12]}"
    if not (house / "complete").exists():
        for stale in house.parent.glob("wheelhouse-*"):  # for pins no longer in force
            shutil.rmtree(stale)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(house),
             "--constraint", str(ROOT / "constraints.txt"), f"{ROOT}[aws]", "setuptools>=68"],
            check=True, timeout=600,
        )
        (house / "complete").touch()
    return house


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A user's home holding a copy of this checkout in ~/snoozebot and the guide's plugin in ~/snoozebot-acme."""
    home = tmp_path / "home"
    shutil.copytree(ROOT, home / "snoozebot", ignore=NOT_COPIED)
    acme = home / "snoozebot-acme"
    acme.mkdir()
    for name, body in _files_in_guide().items():
        (acme / name).write_text(body)
    return home


def _environment(home: Path, wheelhouse: Path) -> dict[str, str]:
    """A login-like environment: a python3 on PATH (no venv), pip offline with only the wheelhouse."""
    shims = home.parent / "bin"
    shims.mkdir()
    (shims / "python3").symlink_to(os.path.realpath(sys.executable))
    return {
        "HOME": str(home), "PATH": f"{shims}:/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": str(home.parent),
        "SNOOZEBOT_HOME": str(home / "state"),
        "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
    }


def _bash(script: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    return done.stdout


def _providers(venv: Path, env: dict[str, str]) -> dict[str, dict[str, object]]:
    listed = subprocess.run(
        [str(venv / "bin" / "snoozebot"), "plugins", "list", "--json"], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert listed.returncode == 0, listed.stderr
    return {p["name"]: p for p in json.loads(listed.stdout)}


def _snoozebot_of(venv: Path) -> tuple[str, str]:
    """Where the venv's ``snoozebot`` distribution lives, and its version."""
    code = "import importlib.metadata as m; d = m.distribution('snoozebot'); print(d.locate_file(''), d.version)"
    where, version = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", code], capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split()
    return where, version


@pytest.mark.slow
def test_the_user_guides_install_from_a_checkout(home: Path, wheelhouse: Path) -> None:
    env = _environment(home, wheelhouse)
    out = _bash(block("docs/user-guide.md", "checkout"), home / "snoozebot", env)
    assert f"snoozebot {__version__}" in out
    venv = home / ".venvs" / "snoozebot"
    where, version = _snoozebot_of(venv)
    assert version == __version__ and where.startswith(str(venv))  # installed, not run from the checkout
    assert _providers(venv, env)["aws"]["problems"] == []


@pytest.mark.slow
def test_the_wheel_install_then_the_plugin_guides_example(home: Path, wheelhouse: Path) -> None:
    env = _environment(home, wheelhouse)
    plugin = [line for line in block("docs/plugin-guide.md", "plugin").splitlines() if line.startswith("pip ")]
    assert plugin == ["pip install ./snoozebot-acme"]
    out = _bash("\n".join([block("docs/user-guide.md", "wheel"), "cd ~", *plugin]), home / "snoozebot", env)
    assert f"snoozebot {__version__}" in out
    venv = home / ".venvs" / "snoozebot"
    providers = _providers(venv, env)
    assert providers["acme"]["distribution"] == "snoozebot-acme" and providers["aws"]["problems"] == []

    _bash(block("docs/plugin-guide.md", "plugin-fresh"), home, env)  # the wheel in ~/snoozebot/dist
    fresh = home / ".venvs" / "acme"
    where, version = _snoozebot_of(fresh)
    assert version == __version__ and where.startswith(str(fresh))
    assert _providers(fresh, env)["acme"]["version"] == "1.2.0"
