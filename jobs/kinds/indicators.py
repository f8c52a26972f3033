"""The `indicators` kind: recompute the procurement indicators over every process (after
their settings change). Staff only; the computation is explorer/indicators/engine.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from explorer.indicators import CODES, INDICATORS, engine
from jobs.kinds.base import KindSpec, ListOrOneField, Outcome, ParamsForm, Run


class IndicatorsForm(ParamsForm):
    codes = ListOrOneField(
        choices=[(code, f"{code} {INDICATORS[code].label}") for code in CODES],
        required=False,
        help_text="The indicators to recompute; all of them when empty.",
    )

    def normalized(self) -> dict[str, Any]:
        chosen = self.cleaned_data.get("codes") or []
        return {"codes": [code for code in CODES if code in chosen]}


def recompute(run: Run) -> Outcome:
    codes = run.params.get("codes") or list(CODES)

    def progress(step: int, total: int, message: str) -> None:
        run.reporter.update(step, total=total, message=message, force=True)

    done = engine.compute_all(codes=codes, progress=progress)
    run.reporter.update(len(codes) + 1, total=len(codes) + 1, message="Done", force=True)
    return Outcome(
        result={
            "results": done.results,
            "seconds": done.seconds,
            "awards_changed": done.awards_changed,
            "notices_changed": done.notices_changed,
        }
    )


def title(params: Mapping[str, Any]) -> str:
    codes = params.get("codes") or []
    return f"Recompute indicators {', '.join(codes)}" if codes else "Recompute every indicator"


KIND = KindSpec(
    name="indicators",
    label="Indicators",
    form=IndicatorsForm,
    run=recompute,
    title=title,
    queue="bulk",
    staff_only=True,
    params_template="jobs/kinds/indicators_params.html",
)
