"""The `ping` kind: does nothing, to prove (and measure) the whole path from the API to
the socket. Staff only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobs.kinds.base import KindSpec, Outcome, ParamsForm, Run


def pong(run: Run) -> Outcome:
    return Outcome(result={"pong": True})


def title(params: Mapping[str, Any]) -> str:
    return "Pipeline check"


KIND = KindSpec(name="ping", label="Pipeline check", form=ParamsForm, run=pong, title=title, staff_only=True)
