"""Browser tests: Debian's headless Chromium driven by pytest-playwright against daphne.

The server is the session's daphne process (tests.services) on the test database, so
data the tests create must be committed (`daphne` fixture implies `transactional_db`).
Browser tests run last (see tests/conftest.py): Playwright's sync API keeps an event
loop on the main thread for the session, which async_to_sync in other tests refuses.
Screenshots go to tests/artifacts/ (ignored by git, kept by CI as evidence).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import BrowserContext, Page

from tests.conftest import CHROMIUM
from tests.services import Daphne

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Playwright's own browser download is unavailable here: use the Debian package.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API runs its event loop on this thread, so Django's guard takes the
    # test's own ORM calls for async code. They are not: allow them in this process only
    # (service_env() keeps the flag away from the daphne and worker processes).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")


@pytest.fixture
def live(daphne: Daphne) -> Daphne:
    return daphne


def session_cookie(user: Any, server: Daphne) -> dict[str, Any]:
    """A logged-in session for `user`, as a cookie the browser can carry."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return {"name": settings.SESSION_COOKIE_NAME, "value": store.session_key, "url": server.url}


@pytest.fixture
def login(live: Daphne, new_context: Callable[..., BrowserContext]) -> Callable[[Any], Page]:
    """login(user) -> a page in its own browser context, signed in as that user."""

    def open_as(user: Any) -> Page:
        context = new_context(base_url=live.url)
        context.set_default_timeout(20_000)
        context.add_cookies([session_cookie(user, live)])
        return context.new_page()

    return open_as


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
