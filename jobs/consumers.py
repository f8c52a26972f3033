"""The WebSocket consumer of /ws/jobs/: one user's job fragments, nothing else."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from jobs import progress
from jobs.models import PENDING_STATES, Job


class JobsConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = progress.user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # The layer delivers at most once: start from the database, then relay pushes.
        for html in await _active_fragments(user.pk):
            await self.send(text_data=html)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The page has nothing to say over the socket (htmx's ws extension may send forms)."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections (a thread hop) before every handler;
        # a pushed fragment is relayed without the database, so it skips that (5 % of
        # daphne's CPU in bench/throughput_bench.py).
        if message["type"] == "job.update":
            await self.job_update(message)
        else:
            await super().dispatch(message)

    async def job_update(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["html"])


@database_sync_to_async
def _active_fragments(user_id: int) -> list[str]:
    jobs = Job.objects.filter(owner_id=user_id, state__in=PENDING_STATES).order_by("created_at")
    return [progress.render_status(job, oob=True) for job in jobs]
