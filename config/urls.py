from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from config.api import api
from config.login import LoginView

urlpatterns = [
    # One login page for the site and the admin, so both are throttled (config/login.py).
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("jobs.urls")),  # /api/jobs/ (jobs/api.py) before the API v1 below
    path("api/", api.urls),
    path("", include("explorer.urls")),
]
