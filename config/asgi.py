"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

from __future__ import annotations

import os

from config.handlers import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django runs each ASGI request's sync code in a thread of its own, so a persistent database
# connection is never reused here: it lingers until garbage collection, and under load the
# server ran PostgreSQL out of connections (bench/throughput_bench.py). Closing each at the
# end of its request instead started a new PostgreSQL backend process for every request,
# so requests borrow from a pool (settings.DB_POOL).
os.environ["DB_POOL"] = "true"
# Django must be set up before anything imports models (the Channels tutorial's order).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from jobs.consumers import JobsConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([path("ws/jobs/", JobsConsumer.as_asgi())]))
        ),
    }
)
