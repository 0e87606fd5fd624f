"""Rendering: one `Issue` in, the email HTML, the web HTML and the text part out.

Owns: the Jinja environment (one per templates folder, cached, the user's
`[templates] dir` searched before digest's own), rendering each template into
one error line when it breaks (`TemplateError`), the stylesheet (`base.css`,
plus `lead.css` for an issue that opens with an editor's note or lead stories),
CSS inlining with premailer (email only, once per rendering), the unsubscribe
placeholder and `personalize`.
`render_issue` renders the full issue (the archive's page and the email of
readers of every section); `render_variant` renders the email and text part of
one reader choice (`digest.render.choice`), once per distinct choice: never
per reader.
What the templates are given is `digest.render.view`; its names are exported
from here too, as the render stage's API. Plain-text typography (display
width, truncation, wrapping) is `digest.render.typography`.

Doesn't own: choosing or ordering stories (`digest.editorial.selection`), writing files
(`digest.web.archive`), building or sending MIME messages (delivery). It is pure:
no network, no database, no clock, no file writes; it only reads templates.
"""

from __future__ import annotations

import functools
import html as html_lib
import logging
import traceback
from dataclasses import dataclass
from pathlib import Path

import jinja2
import premailer
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from digest import bundled
from digest.config import Settings
from digest.errors import TemplateError
from digest.models import Issue
from digest.render.choice import Choice
from digest.render.messages import message
from digest.render.typography import (
    display_width,
    one_line,
    wrap_text,
)
from digest.render.view import (
    COUNTRY_FOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    IssueView,
    SectionView,
    StoryView,
    build_view,
    country_page_href,
    format_date_range,
    format_long_date,
    format_short_date,
    issue_date_range,
    safe_href,
)

__all__ = [
    "COUNTRY_FOLDER",
    "PREMAILER_CALLS",
    "UNSUBSCRIBE_PLACEHOLDER",
    "IssueView",
    "RenderedIssue",
    "SectionView",
    "StoryView",
    "build_view",
    "country_page_href",
    "format_date_range",
    "format_long_date",
    "format_short_date",
    "get_environment",
    "inline_css",
    "issue_date_range",
    "issue_stylesheet",
    "load_stylesheet",
    "personalize",
    "render_issue",
    "render_template",
    "render_variant",
    "safe_href",
]

# How many times premailer ran in this process; tests check it is once per render.
PREMAILER_CALLS = 0

STYLESHEET = "base.css"
# The rules of an issue's lead (the editor's note, lead stories, the compact
# glance bar): added only to issues that have one, see lead.css.
LEAD_STYLESHEET = "lead.css"
EMAIL_TEMPLATE = "issue_email.html.j2"
WEB_TEMPLATE = "issue_web.html.j2"
TEXT_TEMPLATE = "issue.txt.j2"


# cssutils reports every CSS hack it doesn't know at WARNING; our CSS is ours.
logging.getLogger("CSSUTILS").setLevel(logging.ERROR)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedIssue:
    subject: str  # one line, never CR/LF
    html_email: str  # CSS inlined; contains UNSUBSCRIBE_PLACEHOLDER once
    html_web: str  # archive page: <style> kept, generic unsubscribe note ("" for a variant)
    text: str  # plain-text part; contains UNSUBSCRIBE_PLACEHOLDER once
    preheader: str


# --- environment -----------------------------------------------------------------


def _search_path(templates_dir: Path) -> list[str]:
    """The user's folder first, then digest's own: a user may replace one file."""
    folders = [templates_dir, bundled.TEMPLATES_DIR.resolve()]
    return [str(f) for f in dict.fromkeys(folders)]


# The text part wraps the same story in every variant that shows it (readers'
# choices of countries and language): wrapped once per process, not per variant.
_wrap = functools.lru_cache(maxsize=8192)(wrap_text)


@functools.lru_cache(maxsize=8)
def _environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(_search_path(templates_dir)),
        autoescape=select_autoescape(
            enabled_extensions=("html", "xml", "html.j2", "xml.j2"),
            default_for_string=True,
            default=False,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = _wrap
    env.filters["width"] = display_width
    return env


def get_environment(templates_dir: Path) -> Environment:
    """The Jinja environment for `templates_dir` (then digest's own), built once per folder."""
    return _environment(templates_dir.resolve())


@functools.lru_cache(maxsize=8)
def _stylesheet(templates_dir: Path, name: str = STYLESHEET) -> str:
    for folder in _search_path(templates_dir):
        path = Path(folder) / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise TemplateError(
        name,
        f"in none of {', '.join(_search_path(templates_dir))}",
        hint=f"put a {name} into [templates] dir, or reinstall digest",
    )


def load_stylesheet(templates_dir: Path, name: str = STYLESHEET) -> Markup:
    """The stylesheet `name` (`base.css`) of `templates_dir`, marked safe: it is ours,
    and entity-escaping inside <style> would break it (the HTML parser doesn't
    decode entities there)."""
    css = _stylesheet(templates_dir.resolve(), name)
    if "</" in css:
        raise TemplateError(
            str(templates_dir / name),
            "must not contain '</' (it would end the <style> element)",
            hint="remove the '</' from the stylesheet",
        )
    return Markup(css)


def issue_stylesheet(view: IssueView, templates_dir: Path) -> Markup:
    """The CSS of an issue's page, email or web: base.css, and lead.css when the
    issue opens with an editor's note or lead stories (so an issue without them
    is what it always was). Whoever renders an issue template passes this as `css`."""
    css = load_stylesheet(templates_dir)
    if view.lead:
        css += "\n" + load_stylesheet(templates_dir, LEAD_STYLESHEET)
    return css


def _template_line(error: BaseException, fallback: str) -> tuple[str, int | None]:
    # Jinja rewrites tracebacks so that template frames carry the template's own
    # file name and line: the innermost one is where the error is.
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename.endswith(".j2") or frame.filename.endswith(".html"):
            return frame.filename, frame.lineno
    return fallback, None


def _is_ours(filename: str) -> bool:
    return Path(filename).resolve().is_relative_to(bundled.TEMPLATES_DIR.resolve())


def render_template(env: Environment, name: str, /, **context: object) -> str:
    """Render template `name` of `env`. A syntax error, an undefined name or any
    failure inside a template of `[templates] dir` raises `TemplateError` naming
    the file and line; a failure inside digest's own templates stays a bug."""
    hint = (
        "fix that template (a file of [templates] dir replaces digest's own of the same "
        "name; delete it to use digest's again)"
    )
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as e:
        where = e.filename or name
        raise TemplateError(f"{where}:{e.lineno}", f"syntax error: {e.message}", hint=hint) from e
    except jinja2.TemplateNotFound as e:
        raise TemplateError(name, f"template not found ({e.message})", hint=hint) from e
    except jinja2.UndefinedError as e:
        where, line = _template_line(e, name)
        at = f"{where}:{line}" if line else where
        raise TemplateError(at, f"undefined: {e.message}", hint=hint) from e
    except jinja2.TemplateError as e:
        where, line = _template_line(e, name)
        at = f"{where}:{line}" if line else where
        raise TemplateError(at, f"{type(e).__name__}: {e.message or e}", hint=hint) from e
    except Exception as e:
        where, line = _template_line(e, name)
        if line is None or _is_ours(where):
            raise
        raise TemplateError(f"{where}:{line}", f"{type(e).__name__}: {e}", hint=hint) from e


# --- CSS inlining ------------------------------------------------------------------------


def inline_css(document: str) -> str:
    """Inline the <style> rules into style= attributes; leave @media rules in <style>."""
    global PREMAILER_CALLS
    PREMAILER_CALLS += 1
    inliner = premailer.Premailer(
        document,
        base_url=None,  # no href rewriting
        disable_link_rewrites=True,
        allow_network=False,  # never fetch <link rel=stylesheet> or external CSS
        allow_loading_external_files=False,
        keep_style_tags=False,  # the <style> keeps only what can't be inlined: @media
        strip_important=False,  # @media rules need !important to beat inline styles
        remove_classes=False,  # @media rules select by class
        exclude_pseudoclasses=True,
        disable_validation=True,  # our own CSS; cssutils validation only adds noise
        # width/height attributes are set in the template (width="600" for Outlook);
        # premailer would overwrite them with the CSS width:100%.
        disable_basic_attributes=["width", "height"],
        cssutils_logging_level=logging.ERROR,
        align_floating_images=False,
    )
    return str(inliner.transform(pretty_print=False))


# --- public API ---------------------------------------------------------------------------


def render_issue(issue: Issue, settings: Settings) -> RenderedIssue:
    """Render the email HTML (inlined CSS), the web page, the text part and the subject."""
    return _render(issue, settings, None)


def render_variant(issue: Issue, settings: Settings, choice: Choice) -> RenderedIssue:
    """The email and text part of `issue` as a reader of `choice` gets it (its
    sections, its language). No web page (`html_web` is ""): the archive keeps
    the full issue, which `render_issue` renders."""
    return _render(issue, settings, choice)


def _render(issue: Issue, settings: Settings, choice: Choice | None) -> RenderedIssue:
    env = get_environment(settings.templates_dir)
    view = build_view(issue, settings, choice)
    lang = view.lang

    def t(key: str, /, **fields: object) -> str:
        return message(lang, key, **fields)

    context: dict[str, object] = {
        "v": view,
        "t": t,
        "css": issue_stylesheet(view, settings.templates_dir),
        "placeholder": UNSUBSCRIBE_PLACEHOLDER,
    }
    email_source = render_template(env, EMAIL_TEMPLATE, **context)
    html_email = inline_css(email_source)
    html_web = render_template(env, WEB_TEMPLATE, **context) if choice is None else ""
    text = render_template(env, TEXT_TEMPLATE, **context)
    for name, body in ((EMAIL_TEMPLATE, html_email), (TEXT_TEMPLATE, text)):
        if body.count(UNSUBSCRIBE_PLACEHOLDER) != 1:
            source = env.get_template(name).filename or name
            raise TemplateError(
                source,
                "must contain the unsubscribe link ({{ placeholder }}) exactly once",
                hint="every message needs its unsubscribe link (RFC 8058)",
            )
    return RenderedIssue(
        subject=view.subject,
        html_email=html_email,
        html_web=html_web,
        text=text,
        preheader=view.preheader,
    )


def personalize(rendered: str, unsubscribe_url: str, *, html: bool) -> str:
    """Put one subscriber's unsubscribe URL in place of the placeholder.

    The URL must be http(s) and one line; in HTML it is attribute-escaped.
    """
    if UNSUBSCRIBE_PLACEHOLDER not in rendered:
        raise ValueError("the unsubscribe placeholder is not in this document")
    if safe_href(unsubscribe_url) is None or one_line(unsubscribe_url) != unsubscribe_url:
        raise ValueError(f"not a one-line http(s) unsubscribe URL: {unsubscribe_url!r}")
    value = html_lib.escape(unsubscribe_url, quote=True) if html else unsubscribe_url
    return rendered.replace(UNSUBSCRIBE_PLACEHOLDER, value)
