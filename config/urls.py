from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from config.login import LoginView


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico on their own (pages link the SVG one too)."""
    return HttpResponseRedirect(static("img/favicon.ico"))


urlpatterns = [
    path("favicon.ico", favicon),
    # One login page for the site and the admin, so both are throttled (config/login.py).
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/ocds/", include("explorer.ocds_urls")),
    path("", include("jobs.urls")),
    path("", include("explorer.urls")),
]
