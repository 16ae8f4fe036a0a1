"""Fleets: a target is one provider fanned out over scopes (accounts, regions, projects).

A ``[targets.NAME]`` table names a provider and its options. Every option whose
value is an array fans out: the scopes are the cartesian product of the arrays,
and ``{NAME}`` in any value is replaced by option ``NAME``'s value in that scope.
Plain values are shared by every scope. A provider may expand words of its own
(aws: ``region = "all"``, ``account = "organization"``) through the plugin API 1.1
capability ``expand_options``; see ``docs/fleets.md``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from snoozebot.config import Config
from snoozebot.errors import UsageError

__all__ = ["Expander", "Scope", "choose_scopes", "expand_target", "scope_matches"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

Expander = Callable[[str, Mapping[str, str]], Mapping[str, list[str]]]
"""Asks provider NAME to expand the words it knows among these options: ``{option: [values]}``."""


@dataclass(frozen=True, eq=False)
class Scope:
    """One place a command covers: a provider with the options of that place.

    ``target`` is the target's name (None for ``-p``); ``labels`` are the options
    that came from arrays or provider expansion (the JSON ``scope``).
    """

    provider: str
    options: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        """A hashable identity of the options (workers keep one provider object per key)."""
        return tuple(sorted(self.options.items()))

    def _identity(self) -> tuple[object, ...]:
        return (self.provider, self.target, self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scope) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def describe(self) -> str:
        """``target prod (account=1111, region=eu-west-1)``, or the provider for ``-p``."""
        where = ", ".join(f"{k}={v}" for k, v in self.labels.items())
        name = f"target {self.target}" if self.target else self.provider
        return f"{name} ({where})" if where else name

    def labels_json(self) -> str:
        """The labels as compact JSON (the audit log's ``scope`` column)."""
        return json.dumps(dict(self.labels), separators=(",", ":"), sort_keys=True)


def _text(target: str, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise UsageError(f"[targets.{target}] {key}: a value must be a string, a number or an array of them")


def _values(target: str, table: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    plain: dict[str, str] = {}
    arrays: dict[str, list[str]] = {}
    for key, value in table.items():
        if key == "provider":
            continue
        if isinstance(value, list):
            if not value:
                raise UsageError(f"[targets.{target}] {key}: an empty array gives no scope")
            arrays[key] = [_text(target, key, v) for v in value]
        else:
            plain[key] = _text(target, key, value)
    return plain, arrays


def _substitute(target: str, options: dict[str, str]) -> dict[str, str]:
    def fill(key: str, value: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in options or name == key:
                known = ", ".join(sorted(k for k in options if k != key)) or "none"
                raise UsageError(f"[targets.{target}] {key}: unknown option {{{name}}} (options: {known})")
            return options[name]

        return _PLACEHOLDER.sub(one, value)

    return {key: fill(key, value) for key, value in options.items()}


def expand_target(
    name: str,
    table: Mapping[str, Any],
    *,
    base: Mapping[str, str],
    expander: Expander | None = None,
) -> list[Scope]:
    """The scopes of target ``name`` (its ``[targets.NAME]`` table), on top of ``base`` options."""
    provider = table.get("provider")
    if not isinstance(provider, str) or not provider:
        raise UsageError(f"[targets.{name}] needs provider = \"NAME\" (e.g. provider = \"aws\")")
    plain, arrays = _values(name, table)
    if expander is not None:
        expanded = expander(provider, {**base, **plain})
        for key, values in expanded.items():
            if not values:
                raise UsageError(f"[targets.{name}] {key} = {plain.get(key)!r}: the provider found none")
            plain.pop(key, None)
            arrays[key] = list(values)
    scopes = []
    for combination in itertools.product(*arrays.values()):
        labels = dict(zip(arrays, combination, strict=True))
        options = _substitute(name, {**base, **plain, **labels})
        scopes.append(Scope(provider, options, name, {k: options[k] for k in labels}))
    return scopes


def scope_matches(scope: Scope, filters: Mapping[str, str]) -> bool:
    """Whether every ``--scope KEY=VALUE`` holds in this scope's options."""
    return all(scope.options.get(key) == value for key, value in filters.items())


def choose_scopes(
    config: Config,
    *,
    providers: Iterable[str],
    targets: Iterable[str],
    filters: Mapping[str, str],
    overrides: Mapping[str, str],
    default_providers: Callable[[], list[str]],
    expander: Expander | None = None,
) -> list[Scope]:
    """The scopes a command covers: each ``-p`` and ``-t``; without them, every configured target,
    else every provider ``default_providers()`` names (the loaded set). Unknown targets, an empty
    array, an unknown ``{NAME}`` or ``--scope`` matching nothing are usage errors (exit 2)."""
    tables = config.table("targets")
    chosen_targets = list(dict.fromkeys(targets))
    chosen_providers = list(dict.fromkeys(providers))
    if not chosen_targets and not chosen_providers:
        if tables:
            chosen_targets = list(tables)
        else:
            chosen_providers = default_providers()
    for name in chosen_targets:
        if not isinstance(tables.get(name), dict):
            known = ", ".join(sorted(tables)) or "none configured"
            raise UsageError(f"unknown target {name!r} (targets: {known})")
    scopes = [Scope(p, config.provider_options(p, overrides)) for p in chosen_providers]
    for name in chosen_targets:
        table = tables[name]
        provider = table.get("provider")
        base = config.provider_options(provider, {}) if isinstance(provider, str) else {}
        found = expand_target(name, table, base=base, expander=expander)
        scopes += [Scope(s.provider, {**s.options, **overrides}, s.target, s.labels) for s in found]
    if filters:
        scopes = [s for s in scopes if scope_matches(s, filters)]
        if not scopes:
            wanted = " ".join(f"--scope {k}={v}" for k, v in filters.items())
            raise UsageError(f"no scope matches {wanted}")
    return scopes
