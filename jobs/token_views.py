"""The API tokens page: a user creates (named), lists (with when each was last used) and
revokes their own tokens. A key is shown once, in the answer to its creation; only its
hash is stored (jobs/models.py). Revoking deletes the row, so the next request with that
key is a 401 (every API request looks its token up)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from config.handlers import Request
from jobs.models import ApiToken

MAX_TOKENS = 20


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What it is for, e.g. “nightly export script”.")

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the token a name.")
        return name


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: Request) -> HttpResponse:
    mine = ApiToken.objects.filter(user=request.user).order_by("-created_at")
    form = TokenForm(request.POST if request.method == "POST" else None)
    context: dict[str, object] = {"form": form, "tokens": mine, "max_tokens": MAX_TOKENS}
    if request.method == "POST":
        if mine.count() >= MAX_TOKENS:
            form.add_error(None, f"You have {MAX_TOKENS} tokens, the most one user may: revoke one first.")
        if not form.is_valid():
            return render(request, "jobs/tokens.html", context, status=400)
        # The key goes into this answer only (Cache-Control: no-store, as every page of a
        # logged-in user): reloading or going back does not show it again.
        context["new_key"] = ApiToken.issue(request.user, form.cleaned_data["name"])
        context["new_name"] = form.cleaned_data["name"]
        context["form"] = TokenForm()
        return render(request, "jobs/tokens.html", context, status=201)
    return render(request, "jobs/tokens.html", context)


@login_required
@require_POST
def revoke(request: Request, token_id: int) -> HttpResponse:
    deleted, _ = ApiToken.objects.filter(pk=token_id, user=request.user).delete()
    if not deleted:
        raise Http404
    messages.success(request, "The token is revoked: requests with it are refused from now on.")
    return redirect("jobs:tokens")
