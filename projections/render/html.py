"""HTML through jinja2 templates (projections/templates/), autoescaped: a name or reference
with HTML in it is shown as text, never run. The web pages use the same environment."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context as JinjaContext

from ledger.money import format_kronor
from projections.labels import code, label
from projections.render.cells import display
from projections.render.meta import meta_lines
from projections.reports import Column, Report


@pass_context
def _t(ctx: JinjaContext, key: str) -> str:
    return label(key, ctx.get("lang", "sv"))


@pass_context
def _code(ctx: JinjaContext, value: str) -> str:
    return code(value, ctx.get("lang", "sv"))


@pass_context
def _cell(ctx: JinjaContext, value: Any, column: Column) -> str:
    return display(value, column, ctx.get("lang", "sv"))


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("projections", "templates"),
        autoescape=select_autoescape(("html", "svg", "xml"), default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(t=_t, code=_code, cell=_cell)
    env.filters["kr"] = format_kronor
    return env


def render_template(template: str, /, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def render_html(report: Report) -> bytes:
    page = render_template("report.html", report=report, lang=report.lang, meta=meta_lines(report))
    return page.encode("utf-8")
