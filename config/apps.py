"""django.contrib.staticfiles, without the files this site never serves."""

from __future__ import annotations

from django.contrib.staticfiles.apps import StaticFilesConfig


class StaticFiles(StaticFilesConfig):
    # django-ninja ships ReDoc beside Swagger UI; the docs page is Swagger UI only
    # (config/api.py), and ReDoc's 4 MB would only slow collectstatic's compression.
    ignore_patterns = [*StaticFilesConfig.ignore_patterns, "redoc.standalone.js*"]
