from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from explorer.search import SearchForm, awards_matching


@login_required
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    awards = awards_matching(form.cleaned_data if form.is_valid() else {})
    awards = awards.select_related("organization", "supplier")[:50]
    return render(request, "explorer/search.html", {"form": form, "awards": awards})
