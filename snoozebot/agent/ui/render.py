"""Jinja2 rendering for the web UI, and the security headers every UI answer carries.

Autoescaping is on for every template, whatever its name: instance names,
tags and plugin error messages come from clouds and plugins, and they are
always shown as text. The Content-Security-Policy admits scripts, styles and
images from the agent itself only, so no inline script can run even if some
markup slipped through.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

from snoozebot import __version__

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "TEMPLATES", "environment", "render"]

TEMPLATES = Path(__file__).with_name("templates")

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@cache
def environment() -> jinja2.Environment:
    """The template environment (built on first use)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["version"] = __version__
    return env


def render(template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context``, never cached by the browser."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
