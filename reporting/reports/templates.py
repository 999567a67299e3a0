"""Jinja2 templates the bureau can edit: ``<workspace>/templates/`` first, then the built-in
ones in the repository's ``templates/``. A broken template is a clear Chinese error naming the
file and line, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reporting.errors import ReportingError

BUILTIN = Path(__file__).resolve().parents[2] / "templates"


class TemplateError(ReportingError):
    """A report template does not parse or refers to something that does not exist."""


def render(name: str, workspace: Path | None, *, autoescape: bool = False, **data: Any) -> str:
    import jinja2

    folders = [
        str(p)
        for p in ((workspace / "templates") if workspace else None, BUILTIN)
        if p is not None and p.is_dir()
    ]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    try:
        template = env.get_template(name)
        return template.render(**data)
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or name
        raise TemplateError(f"模板 {where} 第 {exc.lineno} 行有语法错误：{exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"找不到模板 {name}（在 {'、'.join(folders)} 中）") from exc
    except jinja2.UndefinedError as exc:
        line = _template_line(exc, name)
        raise TemplateError(f"模板 {name}{line}引用了不存在的数据：{exc.message}") from exc
    except (TypeError, ValueError, AttributeError) as exc:
        line = _template_line(exc, name)
        raise TemplateError(f"模板 {name}{line}计算出错：{exc}") from exc


def _template_line(exc: BaseException, name: str) -> str:
    """The template line of a render-time error, from the traceback Jinja rewrites."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(name):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" 第 {line} 行" if line else ""
