"""Plugin requirements end to end: real distributions in a throwaway virtual environment.

The distributions under tests/dists/ are built into wheels once per module and
installed into a virtual environment made by the test. That environment sees
the project's own packages through a ``site.addsitedir`` .pth line (so the
snoozebot under test is the working tree's), and its ``bin/snoozebot`` is a
console script like pip writes; ``sys.executable`` there is the throwaway
interpreter, so ``plugins install`` must land in it. pip never touches the
network: ``PIP_NO_INDEX`` with ``PIP_FIND_LINKS`` pointing at the built wheels.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import leftover_workers

pytestmark = pytest.mark.slow  # builds eight wheels once, then ~50 real CLI runs

DISTS = Path(__file__).parent / "dists"
PROBLEM_DISTS = ["snoozebot-needcore", "snoozebot-needlib", "snoozebot-stale", "snoozebot-cycle",
                 "snoozebot-lower", "snoozebot-upper", "sbtest-lib", "snoozebot-extra"]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    pid: int

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Venv:
    root: Path
    wheels: Path

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    def snoozebot(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
        """Run this environment's ``snoozebot`` console script, as a user types it."""
        proc = subprocess.Popen(
            [str(self.root / "bin" / "snoozebot"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **self.pip_env(), **(env or {})},
        )
        out, err = proc.communicate(timeout=timeout)
        return Run(proc.returncode, out, err, proc.pid)

    def pip_env(self) -> dict[str, str]:
        return {
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(self.wheels),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_BUILD_ISOLATION": "0",  # pip's spelling of --no-build-isolation
        }

    def pip_install(self, *wheels: str) -> None:
        subprocess.run(
            [self.python, "-m", "pip", "install", "-q", "--no-deps", *(str(self.wheel(w)) for w in wheels)],
            check=True, timeout=300, env={**os.environ, **self.pip_env()},
        )

    def wheel(self, dist: str) -> Path:
        [found] = self.wheels.glob(dist.replace("-", "_") + "-*.whl")
        return found

    def installed(self) -> dict[str, str]:
        """What the throwaway environment itself holds (its own site-packages only)."""
        site = self.root / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
        found = {}
        for info in site.glob("*.dist-info"):
            name, _, version = info.name.removesuffix(".dist-info").partition("-")
            found[name.lower().replace("_", "-")] = version
        return found


def _make_venv(root: Path, wheels: Path) -> Venv:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    venv = Venv(root, wheels)
    site = subprocess.run(
        [venv.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()
    project_site = sysconfig.get_paths()["purelib"]
    Path(site, "_snoozebot_project.pth").write_text(f"import site; site.addsitedir({project_site!r})\n")
    script = root / "bin" / "snoozebot"
    script.write_text(
        f"#!{venv.python}\nimport sys\nfrom snoozebot.cli.main import main\n"
        "if __name__ == '__main__':\n    sys.exit(main())\n"
    )
    script.chmod(0o755)
    return venv


def _bad_wheel(wheels: Path) -> Path:
    """Where the corrupted snoozebot-bad wheel lives (not among the wheels pip may find)."""
    return wheels.with_name(f"{wheels.name}-bad") / "snoozebot_bad-1.0.0-py3-none-any.whl"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every distribution under tests/dists built once, plus a corrupted copy of snoozebot-bad."""
    src = tmp_path_factory.mktemp("dists")
    for dist in DISTS.iterdir():
        shutil.copytree(dist, src / dist.name)  # builds write egg-info next to the sources
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(out), *sorted(str(p) for p in src.iterdir())],
        check=True, timeout=600,
    )
    bad = _bad_wheel(out)
    bad.parent.mkdir()
    (out / bad.name).rename(bad)
    with zipfile.ZipFile(bad, "a") as whl:  # pip refuses this file only after installing sbtest-lib
        whl.writestr("../../outside.txt", "x")
    return out


@pytest.fixture(scope="module")
def problems(wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """One environment holding every problem plugin, installed without their dependencies."""
    venv = _make_venv(tmp_path_factory.mktemp("problems") / "venv", wheels)
    venv.pip_install(*PROBLEM_DISTS)
    return venv


@pytest.fixture
def fresh(wheels: Path, tmp_path: Path) -> Venv:
    """An empty throwaway environment for install and uninstall."""
    return _make_venv(tmp_path / "venv", wheels)


@pytest.fixture(autouse=True)
def no_leftover_workers(isolated_home: Path) -> Iterator[None]:
    yield
    assert leftover_workers(isolated_home) == []


def _one_error_line(run: Run) -> str:
    lines = run.stderr.strip().splitlines()
    assert "Traceback" not in run.stderr
    errors = [line for line in lines if line.startswith("snoozebot: error: ")]
    assert len(errors) == 1, run.stderr
    return errors[0]


def _loaded(venv: Venv) -> set[str]:
    return {p["name"] for p in venv.snoozebot("plugins", "list", "--json").json() if p["loaded"]}


# -- plugins check -------------------------------------------------------------


def test_check_names_newer_core_with_installed_version_and_fix(problems: Venv) -> None:
    run = problems.snoozebot("plugins", "check", "needcore")
    assert run.returncode == 1
    [problem] = [line for line in run.stdout.splitlines() if line.startswith("problem:")]
    assert "plugin 'needcore' requires snoozebot>=9, but snoozebot 0.1.0 is installed" in problem
    assert f"fix: {problems.python} -m pip install 'snoozebot>=9'" in problem

    [report] = problems.snoozebot("plugins", "check", "needcore", "--json").json()
    [core] = [r for r in report["requirements"] if r["kind"] == "core"]
    assert core["status"] == "wrong_version" and core["installed"] == "snoozebot 0.1.0"
    assert report["api"]["status"] == "compatible" and report["ok"] is False


def test_check_missing_library_and_conflict_with_another_plugin(problems: Venv) -> None:
    run = problems.snoozebot("plugins", "check", "needlib", "--json")
    assert run.returncode == 1
    [report] = run.json()
    by_req = {r["requirement"]: r for r in report["requirements"]}
    missing = by_req["sbtest-absent-library>=1.0"]
    assert missing["status"] == "missing" and missing["installed"] is None
    assert missing["fix"] == f"{problems.python} -m pip install 'sbtest-absent-library>=1.0'"
    conflict = by_req["sbtest-lib>=2"]
    assert conflict["status"] == "conflict" and conflict["installed"] == "sbtest-lib 1.5.0"
    assert "plugin 'stale' (snoozebot-stale) requires sbtest-lib<2" in conflict["message"]
    assert "snoozebot plugins uninstall stale" in conflict["fix"]
    assert by_req["snoozebot"]["status"] == "met"


def test_check_reports_a_cycle_in_both_directions(problems: Venv) -> None:
    run = problems.snoozebot("plugins", "check", "ping", "--json")
    assert run.returncode == 1
    doc = run.json()
    assert [r["name"] for r in doc] == ["ping"]
    [edge] = [r for r in doc[0]["requirements"] if r["kind"] == "provider"]
    assert edge["status"] == "cycle" and "cycle: ping -> pong -> ping" in edge["message"]
    assert "pip install --upgrade snoozebot-cycle" in edge["fix"]


def test_check_wrong_provider_version_and_healthy_dependency(problems: Venv) -> None:
    run = problems.snoozebot("plugins", "check", "picky")
    assert run.returncode == 1
    assert "plugin 'picky' requires provider lower>=5, but provider lower 1.2.0 " in run.stdout
    assert f"fix: {problems.python} -m pip install 'snoozebot-lower>=5'" in run.stdout

    ok = problems.snoozebot("plugins", "check", "upper")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "lower>=1.0" in ok.stdout and "met" in ok.stdout
    assert "All requirements met" in ok.stderr


def test_check_unknown_provider_exits_3(problems: Venv) -> None:
    run = problems.snoozebot("plugins", "check", "nosuch")
    assert run.returncode == 3
    assert "no provider named 'nosuch'" in _one_error_line(run)


def test_check_and_list_run_no_plugin_code_in_the_host(problems: Venv, tmp_path: Path) -> None:
    log = tmp_path / "imports.log"
    env = {"SBTEST_IMPORT_LOG": str(log)}
    listed = problems.snoozebot("plugins", "list", "--json", env=env)
    assert listed.returncode == 0
    assert not log.exists(), "plugins list imported plugin code"
    by_name = {p["name"]: p for p in listed.json()}
    assert by_name["needcore"]["problems"] == [
        f"plugin 'needcore' requires snoozebot>=9, but snoozebot 0.1.0 is installed; "
        f"fix: {problems.python} -m pip install 'snoozebot>=9'"
    ]
    assert by_name["ping"]["problems"] == []  # provider requirements need a worker: not in list
    assert by_name["upper"]["error"] is None

    table = problems.snoozebot("plugins", "list", env=env)
    assert "needcore" in table.stdout and "requires snoozebot>=9" in table.stdout

    checked = problems.snoozebot("plugins", "check", "ping", env=env)
    assert checked.returncode == 1
    imports = [line.split() for line in log.read_text().splitlines()]
    assert {module for _, _, module in imports} == {"sbtest_cycle"}
    # imported twice, by the ping and pong workers (forked directly, or by the forkserver), never by the CLI
    assert len({pid for pid, _, _ in imports}) == 2
    assert all(int(pid) != checked.pid for pid, _, _ in imports)


# -- load and unload -----------------------------------------------------------


def test_load_refuses_unmet_core_requirement_with_the_fix(problems: Venv) -> None:
    run = problems.snoozebot("plugins", "load", "needcore")
    assert run.returncode == 3
    line = _one_error_line(run)
    assert "cannot load 'needcore'" in line and "requires snoozebot>=9" in line
    assert "snoozebot 0.1.0 is installed" in line and "pip install 'snoozebot>=9'" in line
    assert _loaded(problems) == set()


def test_load_refuses_a_missing_library(problems: Venv) -> None:
    run = problems.snoozebot("plugins", "load", "needlib")
    assert run.returncode == 3
    line = _one_error_line(run)
    assert "sbtest-absent-library>=1.0, which is not installed" in line
    assert "pip install 'sbtest-absent-library>=1.0'" in line


def test_libraries_of_the_entry_points_extra_are_checked_and_the_extra_is_the_fix(problems: Venv) -> None:
    # the built-in providers declare their cloud libraries this way (snoozebot_aws:AwsProvider [aws])
    fix = f"{problems.python} -m pip install 'snoozebot-extra[cloud]'"
    run = problems.snoozebot("plugins", "check", "extra", "--json")
    assert run.returncode == 1
    [report] = run.json()
    [needed] = [r for r in report["requirements"] if r["requirement"] == "snoozebot-extra[cloud]"]
    assert needed["status"] == "missing" and needed["fix"] == fix
    assert "sbtest-absent-cloud-sdk>=1.0 is not installed" in needed["message"]
    load = problems.snoozebot("plugins", "load", "extra")
    assert load.returncode == 3 and fix in _one_error_line(load)
    listed = {p["name"]: p for p in problems.snoozebot("plugins", "list", "--json").json()}
    assert any("snoozebot-extra[cloud]" in problem for problem in listed["extra"]["problems"])
    # a bare check judges it only once it is loaded: skipped, said so, and not among the problems
    bare = problems.snoozebot("plugins", "check", "--json")
    assert "skipped (not loaded; their libraries are not installed): extra (" in bare.stderr
    assert "extra" not in {r["name"] for r in bare.json()}


def test_load_refuses_a_cycle_and_names_it(problems: Venv) -> None:
    run = problems.snoozebot("plugins", "load", "pong")
    assert run.returncode == 3
    assert "cycle: pong -> ping -> pong" in _one_error_line(run)
    assert _loaded(problems) == set()


def test_load_refuses_a_too_old_required_provider(problems: Venv) -> None:
    run = problems.snoozebot("plugins", "load", "picky")
    assert run.returncode == 3
    assert "requires provider lower>=5, but provider lower 1.2.0" in _one_error_line(run)
    assert _loaded(problems) == set()


def test_load_loads_required_provider_first_and_unload_guards_it(problems: Venv) -> None:
    run = problems.snoozebot("plugins", "load", "upper", "--json")
    assert run.returncode == 0, run.stderr
    doc = run.json()
    assert doc["name"] == "upper" and doc["loaded"] and doc["also_loaded"] == ["lower"]
    assert _loaded(problems) == {"upper", "lower"}

    refused = problems.snoozebot("plugins", "unload", "lower")
    assert refused.returncode == 2
    line = _one_error_line(refused)
    assert "cannot unload 'lower'" in line and "upper require it" in line and "--force" in line
    assert _loaded(problems) == {"upper", "lower"}

    forced = problems.snoozebot("plugins", "unload", "lower", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "Unloaded lower." in forced.stderr and "Also unloaded upper" in forced.stderr
    assert _loaded(problems) == set()


def test_unloading_the_dependent_alone_is_fine(problems: Venv) -> None:
    assert problems.snoozebot("plugins", "load", "upper").returncode == 0
    run = problems.snoozebot("plugins", "unload", "upper")
    assert run.returncode == 0 and "Also unloaded" not in run.stderr
    assert _loaded(problems) == {"lower"}


# -- install and uninstall -------------------------------------------------------


def test_install_short_name_from_local_wheels_then_uninstall(fresh: Venv) -> None:
    run = fresh.snoozebot("plugins", "install", "lower")
    assert run.returncode == 0, run.stderr
    assert "Installed snoozebot-lower 1.2.0." in run.stderr
    assert "All requirements met (1 provider(s) checked)." in run.stderr
    assert fresh.installed().get("snoozebot-lower") == "1.2.0"
    assert "lower" in {p["name"] for p in fresh.snoozebot("plugins", "list", "--json").json()}

    again = fresh.snoozebot("plugins", "install", "lower", "--upgrade")  # already there: still checked
    assert again.returncode == 0, again.stderr
    assert "Installed" not in again.stderr and "All requirements met (1 provider(s) checked)." in again.stderr

    gone = fresh.snoozebot("plugins", "uninstall", "lower")
    assert gone.returncode == 0, gone.stderr
    assert "Uninstalled snoozebot-lower (providers: lower)." in gone.stderr
    assert "snoozebot-lower" not in fresh.installed()
    assert "lower" not in {p["name"] for p in fresh.snoozebot("plugins", "list", "--json").json()}


def test_install_reports_a_missing_provider_and_its_fix_works(fresh: Venv) -> None:
    run = fresh.snoozebot("plugins", "install", str(fresh.wheel("snoozebot-upper")), "--json")
    assert run.returncode == 1
    doc = run.json()
    assert doc["added"] == {"snoozebot-upper": "1.0.0"} and sorted(doc["providers"]) == ["picky", "upper"]
    upper = next(r for r in doc["check"] if r["name"] == "upper")
    [edge] = [r for r in upper["requirements"] if r["kind"] == "provider"]
    assert edge["status"] == "missing"
    assert edge["fix"] == f"{fresh.python} -m pip install 'snoozebot-lower>=1.0'"

    fixed = fresh.snoozebot("plugins", "install", "snoozebot-lower>=1.0")
    assert fixed.returncode == 0, fixed.stderr
    assert fresh.snoozebot("plugins", "load", "upper").returncode == 0
    refused = fresh.snoozebot("plugins", "uninstall", "lower")
    assert refused.returncode == 2 and "upper require it" in _one_error_line(refused)
    assert "snoozebot-lower" in fresh.installed()

    forced = fresh.snoozebot("plugins", "uninstall", "lower", "--force")
    assert forced.returncode == 1  # removed, and the check names what it broke
    assert "snoozebot-lower" not in fresh.installed()
    assert "Also unloaded upper, which requires lower." in forced.stderr
    assert "plugin 'upper' requires provider lower>=1.0, which is not installed" in forced.stdout
    assert _loaded(fresh) == set()


def test_install_from_a_project_directory(fresh: Venv, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(DISTS / "snoozebot-stale", src)
    fresh.pip_install("sbtest-lib")
    run = fresh.snoozebot("plugins", "install", str(src))
    assert run.returncode == 0, run.stderr
    assert fresh.installed().get("snoozebot-stale") == "1.0.0"
    assert "sbtest-lib<2" in run.stdout


def test_failed_resolution_changes_nothing(fresh: Venv) -> None:
    before = fresh.installed()
    run = fresh.snoozebot("plugins", "install", str(fresh.wheel("snoozebot-needcore")))
    assert run.returncode == 1
    line = _one_error_line(run)
    assert "pip could not install" in line and "nothing was changed" in line
    assert fresh.installed() == before


def test_pip_failing_midway_leaves_nothing_half_installed(fresh: Venv, wheels: Path) -> None:
    bad = _bad_wheel(wheels)
    run = fresh.snoozebot("plugins", "install", str(bad))
    assert run.returncode == 1
    line = _one_error_line(run)
    assert "pip could not install" in line and "removed again: sbtest-lib" in line
    assert "sbtest-lib" not in fresh.installed() and "snoozebot-bad" not in fresh.installed()


def test_install_and_uninstall_refuse_bad_input(fresh: Venv) -> None:
    builtin = fresh.snoozebot("plugins", "uninstall", "aws")
    assert builtin.returncode == 2 and "part of snoozebot itself" in _one_error_line(builtin)
    unknown = fresh.snoozebot("plugins", "uninstall", "nosuch")
    assert unknown.returncode == 3 and "nosuch" in _one_error_line(unknown)
    bad = fresh.snoozebot("plugins", "install", "not a requirement!")
    assert bad.returncode == 2 and "neither a path nor a requirement" in _one_error_line(bad)
    missing = fresh.snoozebot("plugins", "install", "./no/such/dir")
    assert missing.returncode == 2 and "no such file or directory" in _one_error_line(missing)
