from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from explorer import demo
from explorer.models import Award


class Command(BaseCommand):
    help = (
        "Prepare a local run: seed demo data into an empty database and give the demo accounts "
        "fresh random passwords, printed here."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--awards", type=int, default=20_000, help="demo awards for an empty database")

    def handle(self, *args: Any, awards: int, **options: Any) -> None:
        if not Award.objects.exists():
            self.stdout.write(f"Empty database: seeding {awards:,} demo awards ...")
            demo.seed(awards=awards, seed=1)
        User = get_user_model()
        lines = []
        for username, staff in (("analyst", False), ("admin", True)):
            password = secrets.token_urlsafe(12)
            user, _ = User.objects.get_or_create(username=username)
            user.is_staff = user.is_superuser = staff
            user.set_password(password)
            user.save()
            lines.append(f"  {username:<8} {password}   {'(staff: admin and imports)' if staff else ''}")
        self.stdout.write(
            self.style.SUCCESS("Local accounts (new passwords on every start):\n" + "\n".join(lines))
        )
