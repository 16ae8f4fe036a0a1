"""One requirement string (``Requires-Dist`` or ``requires_plugins``), parsed cheaply.

``plugins list`` checks every plugin's metadata on each run (nothing caches the
result), so parsing sits on the start-up path. Most lines are plain
(``boto3>=1.34``) or belong to one of the distribution's own extras
(``pytest; extra == "dev"``); those are parsed here with one regular
expression and :class:`~packaging.specifiers.SpecifierSet`.
Anything else (other markers, URLs) goes to :class:`packaging.requirements.Requirement`,
whose grammar and marker evaluation are the standard. Both give the same result.

The fast path buys 11 ms of CPU of ``plugins list`` (0.07x the one-command
Typer app it is held to; benchmarks/bench_host.py, "list, packaging"), mostly
the import of packaging's requirement grammar, which would put ``plugins list``
over its 1.25x budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.markers import Marker
    from packaging.specifiers import SpecifierSet

__all__ = ["InvalidRequirement", "ParsedRequirement", "canonical", "parse"]

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_PLAIN = re.compile(
    rf"^\s*(?P<name>{_NAME})\s*(?:\[(?P<extras>[^\]]*)\])?\s*(?P<spec>\([^()@;]*\)|[^()@;]*)\s*$"
)
_EXTRA_ONLY = re.compile(r"""^\s*extra\s*==\s*(?P<q>['"])(?P<extra>[^'"]+)(?P=q)\s*$""")
_EXTRA_NAME = re.compile(rf"^{_NAME}$")


class InvalidRequirement(ValueError):
    """The string is not a valid requirement."""


def canonical(name: str) -> str:
    """The PEP 503 normalised form of a project or extra name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class ParsedRequirement:
    """A requirement's name, extras, version range and where it applies."""

    name: str
    extras: frozenset[str] = frozenset()
    specifier: SpecifierSet | None = None
    marker: Marker | None = None
    only_for_extra: str | None = None  # set when the marker is exactly ``extra == "..."``

    def applies(self, extra: str = "") -> bool:
        """Whether it applies here, with ``extra`` requested (the plugin's own extras never are)."""
        if self.only_for_extra is not None:
            return bool(extra) and canonical(extra) == self.only_for_extra
        return self.marker is None or bool(self.marker.evaluate({"extra": extra}))

    def satisfied_by(self, version: str) -> bool:
        """Whether ``version`` is in range; a version that does not parse never is."""
        if self.specifier is None:
            return True
        from packaging.version import InvalidVersion

        try:
            return self.specifier.contains(version, prereleases=True)
        except InvalidVersion:
            return False

    @property
    def range(self) -> str:
        """The version range as text (``""`` for any version)."""
        return str(self.specifier) if self.specifier is not None else ""

    @property
    def pip_spec(self) -> str:
        """What ``pip install`` is given: name, extras and range, no marker."""
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return f"{self.name}{extras}{self.range}"


def parse(text: str) -> ParsedRequirement:
    """Parse one requirement string; raises InvalidRequirement."""
    head, _, marker = text.partition(";")
    only = _EXTRA_ONLY.match(marker) if marker.strip() else None
    plain = _PLAIN.match(head) if (only or not marker.strip()) else None
    if plain is not None:
        extras = [e.strip() for e in (plain["extras"] or "").split(",") if e.strip()]
        spec = plain["spec"].strip().removeprefix("(").removesuffix(")").strip()
        specifier = _range(spec) if spec else None
        if all(_EXTRA_NAME.match(e) for e in extras) and (specifier is not None or not spec):
            return ParsedRequirement(
                plain["name"],
                frozenset(extras),
                specifier,
                only_for_extra=canonical(only["extra"]) if only else None,
            )
    return _standard(text)  # packaging parses the rest, and words the errors


def _range(spec: str) -> SpecifierSet | None:
    """The version range ``spec``, or None when it does not parse."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(spec)
    except InvalidSpecifier:
        return None


def _standard(text: str) -> ParsedRequirement:
    from packaging.requirements import InvalidRequirement as PackagingInvalid
    from packaging.requirements import Requirement

    try:
        req = Requirement(text)
    except PackagingInvalid as exc:
        raise InvalidRequirement(str(exc)) from None
    return ParsedRequirement(
        req.name, frozenset(req.extras), req.specifier if str(req.specifier) else None, req.marker
    )
