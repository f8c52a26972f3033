"""Accounts: password reset by email, and self sign-up with email confirmation when
SIGNUP_ENABLED is on (off by default: staff create users in the admin).

Mail goes through EMAIL_BACKEND: the console locally (the message is printed), SMTP when
EMAIL_HOST is set. A reset link works once: its token is signed over the password hash,
which using it changes. A confirmation link works once: its token is signed over the
account's active flag, which confirming sets. Requests for either mail are limited per
address (MAIL_REQUESTS_PER_HOUR), so the forms cannot be used to flood an inbox.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.views.decorators.http import require_GET, require_http_methods

from config import login, ratelimit

HOUR = 3600


def _mail_limited(request: HttpRequest, scope: str) -> int | None:
    """Seconds to wait when this address asked for MAIL_REQUESTS_PER_HOUR mails already."""
    return ratelimit.hit(
        scope, login.client_ip(request) or "unknown", settings.MAIL_REQUESTS_PER_HOUR, window=HOUR
    )


def _too_many(request: HttpRequest, wait: int, template: str, form: forms.BaseForm) -> HttpResponse:
    minutes = max(1, wait // 60)
    context = {
        "form": form,
        "refusal": f"Too many requests from your address. Try again in about {minutes} minutes.",
    }
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(wait)
    return response


class PasswordResetView(auth_views.PasswordResetView):
    """The reset form; whether the address has an account is never said (same answer)."""

    template_name = "registration/password_reset_form.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = _mail_limited(request, "password-reset")
        if wait is not None:
            return _too_many(request, wait, self.template_name, PasswordResetForm(request.POST))
        return super().post(request, *args, **kwargs)


# --- Sign-up -----------------------------------------------------------------------------


class ConfirmationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "config.accounts.ConfirmationTokenGenerator"

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        return f"{user.pk}{user.is_active}{user.email}{timestamp}"


confirmation_tokens = ConfirmationTokenGenerator()


class SignupForm(UserCreationForm):
    email = forms.EmailField(help_text="The confirmation link is sent here.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "An account with this email address exists: log in or reset its password."
            )
        return email


def _signup_enabled() -> None:
    if not settings.SIGNUP_ENABLED:
        raise Http404


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    _signup_enabled()
    template = "registration/signup.html"
    if request.method == "GET":
        return render(request, template, {"form": SignupForm()})
    form = SignupForm(request.POST)
    wait = _mail_limited(request, "signup")
    if wait is not None:
        return _too_many(request, wait, template, form)
    if not form.is_valid():
        return render(request, template, {"form": form}, status=400)
    user = form.save(commit=False)
    user.is_active = False  # until the address is confirmed
    user.save()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = request.build_absolute_uri(
        reverse("signup-confirm", args=[uid, confirmation_tokens.make_token(user)])
    )
    context = {"user": user, "link": link, "days": settings.PASSWORD_RESET_TIMEOUT // 86400}
    send_mail(
        "Confirm your PhilGEPS Data Explorer account",
        render_to_string("registration/signup_email.txt", context),
        None,
        [user.email],
    )
    return render(request, "registration/signup_sent.html", {"email": user.email}, status=201)


@require_GET
def signup_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    _signup_enabled()
    User = get_user_model()
    try:
        user = User.objects.get(pk=int(urlsafe_base64_decode(uidb64).decode()))
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        user = None
    if user is None or user.is_active or not confirmation_tokens.check_token(user, token):
        return render(request, "registration/signup_confirmed.html", {"valid": False}, status=400)
    user.is_active = True
    user.save(update_fields=["is_active"])
    return render(request, "registration/signup_confirmed.html", {"valid": True})
