"""`digest serve`: the readers' web app. Readers join, choose and leave on their own.

Owns: the HTTP side of subscribing (double opt-in), confirming, preferences and
unsubscribing, and the guards around them:

    GET  /subscribe              the form (email, language, countries; default all)
    POST /subscribe              opens a confirmation request and mails its link
                                 (or, for an active address, a reminder): the same
                                 page whatever the address's state (no enumeration)
    GET  /confirm?token=…        a button (link scanners GET every link: a GET never acts)
    POST /confirm                active from now on; a welcome mail with the latest issue
    GET  /preferences?token=…    countries and language, or leave
    POST /preferences
    GET  /unsubscribe?token=…    a confirm button
    POST /unsubscribe?token=…    RFC 8058 one-click: 200, no redirect, idempotent
    GET  /…                      the static archive ([web] archive), index.html at /

Guards: CSRF tokens on every form (Flask-WTF; the one-click POST, which mail
providers send without cookies, is authenticated by its signed token instead); a
honeypot field; per-client-address limits on POST /subscribe (Flask-Limiter,
[web] ip_limit: over it, 429) and per-address limits on confirmation mails
([web] address_limit: over it, the same page and no mail); bodies over
`MAX_BODY` refused unread (413); tokens bound to one subscriber and one purpose,
compared in constant time (`digest.tokens`); confirmation links expire and work
once. Links in mails are built from [web] url, never from the request's Host.

Doesn't own: storage (`digest.state.store`), composing and sending the mails
(`digest.mail.notices`), page markup (`digest.render.pages`), the server
(`digest.web.server`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets as secrets_module
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, request, send_from_directory
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import HTTPException

from digest.config import Settings
from digest.credentials import Secrets
from digest.errors import AddressError, ConfigError, DigestError
from digest.mail.notices import NoticeKind, NoticeLinks, send_notice
from digest.models import Subscriber
from digest.render.messages import message
from digest.render.pages import LANGUAGES, PageView, country_choices, render_page, section_codes
from digest.state.store import Store
from digest.state.subscribers import normalize_address
from digest.tokens import (
    make_confirm_token,
    make_token,
    page_url,
    verify_confirm_token,
    verify_token,
)

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024  # a form is a few hundred bytes; a larger body is refused unread
MAX_TOKEN = 128  # characters; a longer token is not ours
# Fields in one request's query and form together: a link or form of ours has at
# most five (the preferences form); a request with many more is not one of ours.
MAX_FIELDS = 16
ONE_CLICK = "List-Unsubscribe=One-Click"

# Headers on every answer: no scripts at all, no framing, and a token in a URL
# never leaves in a Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class _SessionCookies(SecureCookieSessionInterface):
    """The CSRF cookie is `Secure` whenever the request came over https (directly,
    or through a trusted proxy's X-Forwarded-Proto): a plain-http test server on
    127.0.0.1 still works, and a public https site never sends it in clear."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure)


def _one_token() -> str:
    """The request's token, from its query or its form; "" when there is none, or
    more than one (two tokens are ambiguous: the first must not quietly win, as a
    one-click POST naming two readers would unsubscribe one of them), or the
    request carries more than `MAX_FIELDS` fields."""
    if len(request.args) + len(request.form) > MAX_FIELDS:
        return ""
    tokens = request.values.getlist("token")
    return tokens[0] if len(tokens) == 1 else ""


class _Stores(threading.local):
    """One Store per server thread: opening one per request would cost a schema check."""

    store: Store | None = None


def create_app(
    settings: Settings,
    secrets: Secrets,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Flask:
    """The WSGI app for `settings`. Needs DIGEST_SECRET (`secrets.signing_key`)."""
    key = secrets.require_signing_key()
    web = settings.web
    if not web.url:
        raise ConfigError(
            "digest serve needs the public URL of its pages, for the links it mails",
            file=str(settings.source),
            key="web.url",
            hint="set [web] url (or [archive] base_url) to the https address readers reach",
        )
    lang = settings.digest.language
    app = Flask("digest.web", static_folder=None, template_folder=None)
    app.config.update(
        # Flask's session only carries the CSRF secret; its key is derived, not reused.
        SECRET_KEY=hmac.new(key, b"digest-web-session", hashlib.sha256).digest(),
        SESSION_COOKIE_NAME="digest_csrf",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_MEMORY_SIZE=MAX_BODY,
        MAX_FORM_PARTS=64,
        # Referrer-Policy no-referrer means browsers send no Referer, which
        # Flask-WTF's strict check would demand over https; the per-session
        # token and the SameSite cookie are the protection.
        WTF_CSRF_SSL_STRICT=False,
        WTF_CSRF_TIME_LIMIT=24 * 3600,  # a form left open over lunch still works
    )
    app.session_interface = _SessionCookies()
    csrf = CSRFProtect(app)
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://")
    address_limits = parse_many(web.address_limit)
    address_window = MovingWindowRateLimiter(MemoryStorage())
    stores = _Stores()
    archive_dir = settings.archive.dir.resolve()
    hours = int(web.confirm_within.total_seconds() // 3600)

    @contextmanager
    def store() -> Iterator[Store]:
        if stores.store is None:
            stores.store = Store(settings.storage_path)
        yield stores.store

    def t(k: str, /, **fields: object) -> str:
        return message(lang, k, **fields)

    def base_page(heading: str, **fields: Any) -> PageView:
        return PageView(
            lang=lang,
            site_title=settings.digest.title,
            heading=heading,
            archive_href=(request.script_root + "/") if web.archive else "",
            contact=settings.digest.contact,
            **fields,
        )

    def html(template: str, page: PageView, status: int = 200) -> Response:
        body = render_page(settings, template, page)
        response = Response(body, status=status, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    def say(heading: str, *lines: str, status: int = 200, **fields: Any) -> Response:
        return html("page_message.html.j2", base_page(heading, lines=lines, **fields), status)

    def link(path: str, token: str) -> str:
        return page_url(web.url + path, token)

    def links_for(subscriber: Subscriber, action: str = "") -> NoticeLinks:
        return NoticeLinks(
            action=action,
            preferences=link("preferences", make_token(key, subscriber, "preferences")),
            unsubscribe=page_url(settings.unsubscribe_url, make_token(key, subscriber)),
            latest_issue=latest_issue(),
            expires_hours=hours,
        )

    def latest_issue() -> str | None:
        with store() as s:
            week = s.latest_sent_week()
        return (
            f"{settings.archive.base_url}{week}.html"
            if week and settings.archive.base_url
            else None
        )

    def mail(subscriber: Subscriber, kind: NoticeKind, links: NoticeLinks) -> bool:
        try:
            send_notice(settings, secrets, subscriber, kind, links, clock())
        except DigestError as e:
            # Never the address or the link in the log: the id says who.
            log.warning("subscriber %d: %s mail not sent: %s", subscriber.id, kind, e.message)
            return False
        return True

    # -- the form's values -------------------------------------------------------

    def chosen_countries(values: Sequence[str]) -> tuple[str, ...] | None:
        """The section codes ticked; () for all of them (so sections added later
        reach the reader too); None when none was ticked."""
        allowed = section_codes(settings)
        ticked = set(values)
        picked = tuple(c for c in allowed if c in ticked)
        if not picked:
            return None
        return () if set(picked) == set(allowed) else picked

    def chosen_language(value: str | None) -> str:
        return value if value in {code for code, _ in LANGUAGES} else lang

    def subscribe_form(
        *,
        email: str = "",
        language: str = "",
        countries: Sequence[str] = (),
        errors: Sequence[str] = (),
        status: int = 200,
    ) -> Response:
        page = base_page(
            t("page_subscribe_title", title=settings.digest.title),
            csrf_token=generate_csrf(),
            action=request.script_root + "/subscribe",
            email=email,
            language=language or lang,
            countries=country_choices(settings, lang, countries),
            errors=tuple(errors),
        )
        return html("page_subscribe.html.j2", page, status)

    # -- routes -----------------------------------------------------------------

    @app.get("/subscribe")
    def subscribe_page() -> Response:
        return subscribe_form()

    @app.post("/subscribe")
    @limiter.limit(web.ip_limit, error_message="signups")
    def subscribe() -> Response:
        form = request.form
        raw_email = form.get("email", "")[:320]
        language = chosen_language(form.get("language"))
        countries = chosen_countries(form.getlist("countries"))
        errors = []
        try:
            email = normalize_address(raw_email)
        except AddressError:
            email = ""
            errors.append(t("page_error_email"))
        if countries is None:
            errors.append(t("page_error_countries"))
        if errors:
            return subscribe_form(
                email=raw_email,
                language=language,
                countries=countries or (),
                errors=errors,
                status=400,
            )
        assert countries is not None
        checked = base_page(
            t("page_check_inbox_title"), lines=(t("page_check_inbox", email=email, hours=hours),)
        )
        if form.get("website"):  # the honeypot: a bot filled in a field people never see
            log.info("subscribe: honeypot filled; nothing done")
            return html("page_message.html.j2", checked)
        # Per address: at most [web] address_limit mails, whoever asks. Over it the
        # answer is the same, so it tells nothing about the address.
        address_key = hashlib.sha256(email.casefold().encode()).hexdigest()
        if not all(address_window.test(limit, "address", address_key) for limit in address_limits):
            log.info("subscribe: address limit reached; no mail sent")
            return html("page_message.html.j2", checked)
        for limit in address_limits:
            address_window.hit(limit, "address", address_key)
        nonce = secrets_module.token_urlsafe(16)
        with store() as s:
            signup = s.request_signup(email, language, countries, nonce, clock())
        subscriber = signup.subscriber
        if signup.action == "confirm":
            expires = int((clock() + web.confirm_within).timestamp())
            token = make_confirm_token(key, subscriber, expires)
            sent = mail(
                subscriber,
                NoticeKind.CONFIRM,
                replace(links_for(subscriber), action=link("confirm", token)),
            )
        else:
            sent = mail(subscriber, NoticeKind.ALREADY, links_for(subscriber))
        if not sent:
            return say(t("page_busy_title"), t("page_busy"), status=503)
        return html("page_message.html.j2", checked)

    def confirm_token() -> tuple[Subscriber | None, str]:
        token = _one_token()
        if not token or len(token) > MAX_TOKEN:
            return None, "invalid"
        with store() as s:
            return verify_confirm_token(key, token, s.subscriber, int(clock().timestamp()))

    def link_problem(why: str) -> Response:
        again = ((t("page_subscribe_again"), request.script_root + "/subscribe"),)
        if why == "expired":
            return say(
                t("page_link_expired_title"),
                t("page_link_expired", hours=hours),
                status=410,
                links=again,
            )
        return say(t("page_link_invalid_title"), t("page_link_invalid"), status=400, links=again)

    @app.get("/confirm")
    def confirm_page() -> Response:
        subscriber, why = confirm_token()
        if subscriber is None:
            return link_problem(why)
        return say(
            t("page_confirm_title"),
            t("page_confirm_text", title=settings.digest.title, email=subscriber.email),
            csrf_token=generate_csrf(),
            action=request.script_root + "/confirm?token=" + quote(request.args["token"], safe="."),
            button=t("page_confirm_button"),
        )

    @app.post("/confirm")
    def confirm() -> Response:
        subscriber, why = confirm_token()
        if subscriber is None:
            return link_problem(why)
        with store() as s:
            if not s.confirm_signup(subscriber.id, subscriber.nonce, clock()):
                return link_problem("invalid")  # confirmed by another request meanwhile
            subscriber = s.subscriber(subscriber.id) or subscriber
        links = links_for(subscriber)
        mail(subscriber, NoticeKind.WELCOME, links)
        shown = [(t("page_preferences_link"), links.preferences)]
        if links.latest_issue:
            shown.insert(0, (t("page_latest"), links.latest_issue))
        return say(
            t("page_confirmed_title"),
            t("page_confirmed_text", email=subscriber.email),
            links=tuple(shown),
        )

    def token_subscriber(purpose: str) -> Subscriber | None:
        token = _one_token()
        if not token or len(token) > MAX_TOKEN:
            return None
        with store() as s:
            return verify_token(key, token, s.subscriber, purpose)

    def preferences_form(
        subscriber: Subscriber,
        *,
        saved: bool = False,
        errors: Sequence[str] = (),
        status: int = 200,
    ) -> Response:
        page = base_page(
            t("page_preferences_title"),
            csrf_token=generate_csrf(),
            action=request.script_root
            + "/preferences?token="
            + quote(request.values["token"], safe="."),
            email=subscriber.email,
            language=subscriber.language or lang,
            countries=country_choices(settings, lang, subscriber.countries),
            active=subscriber.status == "active",
            saved=saved,
            errors=tuple(errors),
            subscribe_href=request.script_root + "/subscribe",
        )
        return html("page_preferences.html.j2", page, status)

    @app.get("/preferences")
    def preferences_page() -> Response:
        subscriber = token_subscriber("preferences")
        if subscriber is None:
            return link_problem("invalid")
        return preferences_form(subscriber)

    @app.post("/preferences")
    def preferences() -> Response:
        subscriber = token_subscriber("preferences")
        if subscriber is None:
            return link_problem("invalid")
        if request.form.get("do") == "leave":
            with store() as s:
                s.unsubscribe(subscriber.id, clock())
            return unsubscribed(subscriber)
        countries = chosen_countries(request.form.getlist("countries"))
        if countries is None:
            return preferences_form(subscriber, errors=[t("page_error_countries")], status=400)
        if subscriber.status != "active":
            return preferences_form(subscriber)
        with store() as s:
            s.set_preferences(
                subscriber.id, chosen_language(request.form.get("language")), countries, clock()
            )
            subscriber = s.subscriber(subscriber.id) or subscriber
        return preferences_form(subscriber, saved=True)

    def unsubscribed(subscriber: Subscriber) -> Response:
        return say(
            t("page_unsubscribed_title"),
            t("page_unsubscribed", email=subscriber.email),
            links=((t("page_subscribe_again"), request.script_root + "/subscribe"),),
        )

    @app.get("/unsubscribe")
    def unsubscribe_page() -> Response:
        subscriber = token_subscriber("unsubscribe")
        if subscriber is None:
            return link_problem("invalid")
        return say(
            t("page_unsubscribe_title"),
            t("page_unsubscribe_question", title=settings.digest.title, email=subscriber.email),
            csrf_token=generate_csrf(),
            action=request.script_root
            + "/unsubscribe?token="
            + quote(request.args["token"], safe="."),
            button=t("page_unsubscribe_button"),
            button_secondary=True,
        )

    # RFC 8058: mail providers POST `List-Unsubscribe=One-Click` with no cookie and
    # no CSRF token; the signed token in the URL is what authenticates it.
    @app.post("/unsubscribe")
    def unsubscribe() -> Response:
        subscriber = token_subscriber("unsubscribe")
        if subscriber is None:
            return link_problem("invalid")
        with store() as s:
            s.unsubscribe(subscriber.id, clock())
        return unsubscribed(subscriber)

    csrf.exempt(unsubscribe)

    def archive_file(name: str) -> Response:
        # send_from_directory refuses paths that leave the folder (404).
        return send_from_directory(archive_dir, name, max_age=300)

    @app.get("/")
    def home() -> Response:
        if web.archive and (archive_dir / "index.html").is_file():
            return archive_file("index.html")
        return subscribe_form()

    if web.archive:
        app.add_url_rule("/<path:name>", "archive", archive_file, methods=["GET"])

    # -- answers to errors -------------------------------------------------------

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> Response:
        # A form embedded in another site posts without our token: show the form
        # again, filled in, with one; the reader presses Subscribe once more.
        if request.path == "/subscribe":
            form = request.form
            countries = chosen_countries(form.getlist("countries"))
            return subscribe_form(
                email=form.get("email", "")[:320],
                language=chosen_language(form.get("language")),
                countries=countries or (),
                errors=[t("page_resubmit")],
                status=400,
            )
        log.info("csrf: %s %s refused: %s", request.method, request.path, error.description)
        return say(t("page_bad_request_title"), t("page_bad_request"), status=400)

    @app.errorhandler(429)
    def too_many(error: HTTPException) -> Response:
        response = say(t("page_too_many_title"), t("page_too_many"), status=429)
        response.headers["Retry-After"] = "60"
        return response

    @app.errorhandler(DigestError)
    def busy(error: DigestError) -> Response:
        log.warning("%s %s: 503: %s", request.method, request.path, error.message)
        return say(t("page_busy_title"), t("page_busy"), status=503)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        code = error.code or 500
        if code == 404:
            return say(t("page_not_found_title"), status=404)
        if code == 405:
            response = say(t("page_bad_request_title"), status=405)
            response.headers["Allow"] = ", ".join(error.valid_methods or ())  # type: ignore[attr-defined]
            return response
        return say(t("page_bad_request_title"), t("page_bad_request"), status=code)

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app
