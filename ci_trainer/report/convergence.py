"""The convergence section: Mermaid charts of validation F1 and training loss per epoch."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from ci_trainer.backend_types import ConvergencePoint
from ci_trainer.report.markdown import fenced
from ci_trainer.result import RunResult

MAX_CHART_POINTS = 60  # Mermaid charts get unreadable (and slow) beyond this


def _chart_points(points: Sequence[ConvergencePoint]) -> list[ConvergencePoint]:
    """At most MAX_CHART_POINTS evenly spread points, always keeping the last epoch."""
    if len(points) <= MAX_CHART_POINTS:
        return list(points)
    step = math.ceil(len(points) / MAX_CHART_POINTS)
    chosen = list(points[::step])
    if chosen[-1] is not points[-1]:
        chosen[-1] = points[-1]
    return chosen


def _chart(title: str, axis: str, epochs: list[int], values: list[float], top: float) -> str:
    return fenced(
        "\n".join(
            [
                "xychart-beta",
                f'    title "{title}"',
                f'    x-axis "epoch" [{", ".join(str(epoch) for epoch in epochs)}]',
                f'    y-axis "{axis}" 0 --> {top:.4g}',
                f"    line [{', '.join(f'{value:.4f}' for value in values)}]",
            ]
        ),
        "mermaid",
    )


def _series(
    points: Sequence[ConvergencePoint], pick: Callable[[ConvergencePoint], float | None]
) -> tuple[list[int], list[float]]:
    epochs, values = [], []
    for point in points:
        value = pick(point)
        if value is not None and math.isfinite(value):
            epochs.append(point.epoch)
            values.append(value)
    return epochs, values


def convergence_section(result: RunResult) -> str | None:
    points = _chart_points(result.convergence)
    charts = []
    epochs, f1 = _series(points, lambda p: p.validation_f1)
    if len(f1) >= 2:
        charts.append(_chart("Validation F1 per epoch", "F1", epochs, f1, 1.0))
    epochs, loss = _series(points, lambda p: p.train_loss)
    if len(loss) >= 2:
        charts.append(_chart("Training loss per epoch", "loss", epochs, loss, max(loss) * 1.1))
    if not charts:
        return None
    note = f"{len(result.convergence)} epochs reported by the service"
    if len(points) < len(result.convergence):
        note += f"; every {math.ceil(len(result.convergence) / MAX_CHART_POINTS)}th shown"
    return "### Convergence\n\n" + "\n\n".join(charts) + f"\n\n<sub>{note}.</sub>"
