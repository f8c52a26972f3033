"""The login page, throttled: django-axes locks a username out from one address after
LOGIN_FAILURE_LIMIT wrong passwords for LOGIN_LOCKOUT_MINUTES, and the password hashes a
process computes at once are bounded.

Each login costs a PBKDF2 hash (about 0.7 s of CPU under load; an unknown username costs
one too, so that timing does not tell which names exist). A locked-out attempt is refused
by axes' backend before any hash is computed; the others wait for one of
LOGIN_HASH_CONCURRENCY slots, for at most WAIT_SECONDS, so a flood of logins holds that
many threads' worth of CPU and the rest of the site keeps answering. The admin's login
page sends people here (config/urls.py), so it is throttled the same way.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

WAIT_SECONDS = 5.0
_hashing = threading.BoundedSemaphore(settings.LOGIN_HASH_CONCURRENCY)

BUSY = "Too many people are logging in at this moment. Try again in a few seconds."


def lockout_message() -> str:
    minutes = settings.LOGIN_LOCKOUT_MINUTES
    return (
        f"Too many failed logins: this username is locked from your address for {minutes} minutes "
        f"after {settings.AXES_FAILURE_LIMIT} wrong passwords. Try again later, or ask an "
        "administrator to unlock it."
    )


class LoginView(auth_views.LoginView):
    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "signup_enabled": settings.SIGNUP_ENABLED}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Validating the form is what hashes the password (AuthenticationForm.clean).
        if not _hashing.acquire(timeout=WAIT_SECONDS):
            return _login_page(request, BUSY, status=503)
        try:
            return super().post(request, *args, **kwargs)
        finally:
            _hashing.release()


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """axes' answer to a locked-out attempt (AXES_LOCKOUT_CALLABLE): the login page, 429."""
    return _login_page(request, lockout_message(), status=429)


def _login_page(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    form = AuthenticationForm(request, data=None, initial={"username": request.POST.get("username", "")})
    context = {
        "form": form,
        "refusal": message,
        "next": request.POST.get("next", ""),
        "signup_enabled": settings.SIGNUP_ENABLED,
    }
    return render(request, "registration/login.html", context, status=status)


def client_ip(request: HttpRequest) -> str | None:
    """The address axes counts failures for (AXES_CLIENT_IP_CALLABLE): daphne's, which
    honours X-Forwarded-For only behind the proxy (--proxy-headers). Reading the header
    here would let anyone pick a new address for each guess."""
    return request.META.get("REMOTE_ADDR")
