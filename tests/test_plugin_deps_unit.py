"""The requirement checks as pure functions: metadata facts in, reports out (no processes)."""

from __future__ import annotations

import sys

import pytest

from snoozebot import __version__
from snoozebot.errors import PluginIncompatible, UsageError
from snoozebot.host import requirements as rq
from snoozebot.host.discovery import DiscoveredPlugin
from snoozebot.host.installer import resolve_target
from snoozebot.host.requirements import Installed, ProviderFacts, Status, metadata

INSTALLED = {
    "lib": Installed("lib", "1.5.0"),
    "fancy": Installed("fancy", "2.0.0", ("speedups>=3; extra == 'fast'", "always>=1")),
    "speedups": Installed("speedups", "2.0.0"),
}


def lookup(name: str) -> Installed | None:
    return INSTALLED.get(name.lower())


def plugin(name: str, *requires: str, dist: str | None = None) -> DiscoveredPlugin:
    return DiscoveredPlugin(name, f"m:{name}", dist or f"snoozebot-{name}", "1.0.0", None, requires)


def check(*plugins: DiscoveredPlugin, facts: dict[str, ProviderFacts] | None = None, name: str | None = None):
    reports = rq.check_plugins(plugins, names=None if name is None else [name], facts=facts, installed=lookup)
    return {r.name: r for r in reports}


def statuses(report: rq.PluginReport) -> dict[str, Status]:
    return {c.requirement: c.status for c in report.checks}


def test_core_and_library_requirements_against_installed_versions() -> None:
    report = check(plugin("a", "snoozebot>=9", "lib>=1,<2", "absent>=1", "lib>=2"))["a"]
    assert statuses(report) == {
        "snoozebot>=9": Status.WRONG_VERSION,
        "lib<2,>=1": Status.MET,
        "absent>=1": Status.MISSING,
        "lib>=2": Status.WRONG_VERSION,
    }
    core = report.checks[0]
    assert core.kind is rq.Kind.CORE and core.installed == f"snoozebot {__version__}"
    assert core.message == (
        f"plugin 'a' requires snoozebot>=9, but snoozebot {__version__} is installed; "
        f"fix: {sys.executable} -m pip install 'snoozebot>=9'"
    )
    assert len(report.problems) == 3


def test_markers_and_the_plugins_own_extras_are_honoured() -> None:
    report = check(plugin("a", "absent; python_version < '3'", "absent2; extra == 'cli'", "lib"))["a"]
    assert statuses(report) == {"lib": Status.MET}


def test_extras_of_a_required_library_are_checked() -> None:
    ok = check(plugin("a", "fancy>=2"))["a"]
    assert ok.ok
    report = check(plugin("a", "fancy[fast]>=2"))["a"]
    [fancy] = report.checks
    assert fancy.status is Status.MISSING and fancy.requirement == "fancy[fast]>=2"
    assert "without its extra 'fast' (speedups>=3 is needed, speedups 2.0.0 is installed)" in fancy.message
    assert fancy.fix == f"{sys.executable} -m pip install 'fancy[fast]>=2'"


def test_invalid_requirement_is_reported_not_raised() -> None:
    [bad] = check(plugin("a", "lib >>= 1"))["a"].checks
    assert bad.status is Status.INVALID and "report it to the plugin's author" in bad.message


def test_built_in_providers_skip_the_cores_own_requirements() -> None:
    assert check(plugin("aws", "absent>=1", dist="snoozebot"))["aws"].checks == ()


def test_conflict_when_no_version_satisfies_two_plugins() -> None:
    reports = check(plugin("new", "lib>=2"), plugin("old", "lib<2"), plugin("any", "lib>=1"))
    [new] = reports["new"].checks
    assert new.status is Status.CONFLICT
    assert "plugin 'old' (snoozebot-old) requires lib<2: no version satisfies both" in new.message
    assert new.fix == f"snoozebot plugins uninstall old && {sys.executable} -m pip install 'lib>=2'"
    assert reports["old"].ok and reports["any"].ok  # met requirements stay met


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (">=2", "<2", False),
        (">=2", "<3", True),
        (">1.0", "<1.1", True),
        ("==1.*", ">=1.5", True),
        ("==1.*", ">=2", False),
        ("~=1.4", "<1.4", False),
        ("==2.0", "!=2.0", False),
        ("", "<1", True),
    ],
)
def test_overlap_of_specifier_sets(a: str, b: str, overlap: bool) -> None:
    from packaging.specifiers import SpecifierSet

    assert metadata.overlap(SpecifierSet(a), SpecifierSet(b)) is overlap


def facts(version: str = "1.0.0", *requires: str, error: str | None = None, code: str | None = None) -> ProviderFacts:
    return ProviderFacts(version, "1.0", tuple(requires), error, code)


def test_provider_requirements_missing_wrong_version_and_met() -> None:
    plugins = (plugin("up"), plugin("low"), plugin("picky"), plugin("lonely"))
    known = {
        "up": facts("1.0", "low>=1"),
        "low": facts("1.2"),
        "picky": facts("1.0", "low>=5"),
        "lonely": facts("1.0", "nowhere>=2"),
    }
    reports = check(*plugins, facts=known)
    assert statuses(reports["up"])["low>=1"] is Status.MET
    [wrong] = [c for c in reports["picky"].checks if c.kind is rq.Kind.PROVIDER]
    assert wrong.status is Status.WRONG_VERSION and wrong.installed == "provider low 1.2 (snoozebot-low 1.0.0)"
    assert wrong.fix == f"{sys.executable} -m pip install 'snoozebot-low>=5'"
    [missing] = [c for c in reports["lonely"].checks if c.kind is rq.Kind.PROVIDER]
    assert missing.status is Status.MISSING
    assert missing.fix == f"{sys.executable} -m pip install 'snoozebot-nowhere>=2'"
    assert reports["up"].api is not None and reports["up"].api.ok


def test_required_provider_that_cannot_start_is_broken() -> None:
    known = {"up": facts("1.0", "low"), "low": facts(error="plugin 'low' failed to import", code="plugin_load_error")}
    reports = check(plugin("up"), plugin("low"), facts=known)
    [edge] = [c for c in reports["up"].checks if c.kind is rq.Kind.PROVIDER]
    assert edge.status is Status.BROKEN and "failed to import" in edge.message
    assert reports["low"].api is not None and reports["low"].api.status == "unknown"


def test_incompatible_api_is_a_problem_with_an_upgrade_fix() -> None:
    known = {"fut": facts(error="plugin 'fut' 3.1 needs plugin API 2.0, this snoozebot provides API 1.0",
                          code=PluginIncompatible.code)}
    report = check(plugin("fut"), facts=known)["fut"]
    assert report.api is not None and report.api.status == "incompatible"
    assert report.problems == [
        f"plugin 'fut' 3.1 needs plugin API 2.0, this snoozebot provides API 1.0; "
        f"fix: {sys.executable} -m pip install --upgrade snoozebot snoozebot-fut"
    ]


def test_cycles_are_found_through_several_providers() -> None:
    known = {"a": facts("1", "b"), "b": facts("1", "c>=1"), "c": facts("1", "a"), "d": facts("1", "a")}
    reports = check(plugin("a"), plugin("b"), plugin("c"), plugin("d"), facts=known)
    [edge] = [c for c in reports["a"].checks if c.kind is rq.Kind.PROVIDER]
    assert edge.status is Status.CYCLE and "cycle: a -> b -> c -> a" in edge.message
    assert statuses(reports["d"])["a"] is Status.MET  # d only leads into the cycle
    with pytest.raises(PluginIncompatible, match=r"cannot load 'a': .*cycle: a -> b -> c -> a"):
        rq.load_order("a", reports)
    with pytest.raises(PluginIncompatible, match=r"cannot load 'a' \(needed by d\)"):
        rq.load_order("d", reports)


def test_load_order_puts_dependencies_first_once() -> None:
    known = {"top": facts("1", "left", "right"), "left": facts("1", "base"), "right": facts("1", "base"),
             "base": facts("1")}
    reports = check(*(plugin(n) for n in known), facts=known)
    assert rq.load_order("top", reports) == ["base", "left", "right", "top"]


def test_list_without_facts_reports_metadata_only() -> None:
    report = check(plugin("up", "lib"), plugin("low"))["up"]
    assert report.api is None and [c.kind for c in report.checks] == [rq.Kind.LIBRARY]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("acme", "snoozebot-acme"),
        ("snoozebot-acme", "snoozebot-acme"),
        ("acme>=1.2", "acme>=1.2"),
        ("snoozebot-acme[x]>=1", "snoozebot-acme[x]>=1"),
    ],
)
def test_install_target_mapping(target: str, expected: str) -> None:
    assert resolve_target(target) == expected


def test_install_target_paths_and_garbage(tmp_path) -> None:
    wheel = tmp_path / "x-1.0-py3-none-any.whl"
    wheel.write_text("")
    assert resolve_target(str(wheel)) == str(wheel.resolve())
    with pytest.raises(UsageError, match="no such file"):
        resolve_target(str(tmp_path / "missing.whl"))
    with pytest.raises(UsageError, match="neither a path nor a requirement"):
        resolve_target("what is this")


def test_unparsable_versions_count_as_unmet_not_as_crashes() -> None:
    INSTALLED["oddball"] = Installed("oddball", "not-a-version", ("also bad >>>",))
    try:
        [odd] = check(plugin("a", "oddball>=1"))["a"].checks
        assert odd.status is Status.WRONG_VERSION and odd.installed == "oddball not-a-version"
        assert check(plugin("b", "oddball"))["b"].ok
        assert check(plugin("c", "oddball[x]"))["c"].ok  # its unparsable Requires-Dist line is skipped
        known = {"up": facts("1", "low>=1"), "low": facts("dev")}
        reports = check(plugin("up"), plugin("low"), facts=known)
        assert statuses(reports["up"])["low>=1"] is Status.WRONG_VERSION
    finally:
        del INSTALLED["oddball"]


def test_required_provider_claimed_by_two_distributions_is_a_conflict() -> None:
    twice = DiscoveredPlugin("low", "m:low", "snoozebot-low", "1.0", "provider name 'low' is claimed by a and b; uninstall one")
    reports = check(plugin("up"), twice, facts={"up": facts("1", "low")}, name="up")
    [edge] = [c for c in reports["up"].checks if c.kind is rq.Kind.PROVIDER]
    assert edge.status is Status.CONFLICT and "claimed by a and b" in edge.message
    assert edge.fix == f"{sys.executable} -m pip uninstall -y snoozebot-low"


@pytest.mark.parametrize(
    "line",
    [
        "boto3",
        "boto3>=1.34",
        "boto3 >= 1.34, < 2",
        "Foo_Bar.baz (>=1.0,!=1.3)",
        "requests[socks,Security]>=2.31",
        'pytest>=8; extra == "dev"',
        "pytest ; extra=='Dev_Tools'",
        "tomli>=2; python_version < '3.11'",
        'win-only; sys_platform == "win32" and extra == "x"',
        "pkg @ https://example.invalid/pkg-1.0.tar.gz",
        "snoozebot>=0.1,<2",
    ],
)
def test_fast_parser_agrees_with_packaging(line: str) -> None:
    from packaging.requirements import Requirement

    from snoozebot.host import _requirement

    ours, theirs = _requirement.parse(line), Requirement(line)
    assert ours.name == theirs.name and ours.extras == theirs.extras
    assert ours.range == str(theirs.specifier)
    for extra in ("", "dev", "dev-tools", "x"):
        expected = theirs.marker is None or theirs.marker.evaluate({"extra": extra})
        assert ours.applies(extra) is bool(expected), (line, extra)


@pytest.mark.parametrize("line", ["lib >>= 1", "lib[", "lib==1.0 extra", "; extra == 'x'", "lib (>=1"])
def test_fast_parser_rejects_what_packaging_rejects(line: str) -> None:
    from snoozebot.host import _requirement

    with pytest.raises(_requirement.InvalidRequirement):
        _requirement.parse(line)


def test_plain_metadata_needs_no_requirement_grammar() -> None:
    import subprocess

    code = (
        "import sys; from snoozebot.host import _requirement as r; "
        "r.parse('boto3>=1.34'); r.parse('pytest; extra == \"dev\"'); r.parse('snoozebot'); "
        "print('packaging.requirements' in sys.modules, 'packaging.markers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_docs_list_every_status() -> None:
    import re
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", doc, flags=re.MULTILINE))
    assert documented == {s.value for s in Status}
