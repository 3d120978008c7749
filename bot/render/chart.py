"""The digest's trend chart: critical and high findings per watched image over the past weeks, as a PNG.
Pure: weekly histories in, PNG bytes and a one-sentence description out (matplotlib's Agg backend, no display).

With one week of history there is no trend to draw yet: the chart says so in words (and in its description),
rather than showing a plot of single dots. The description is also written into the PNG (its Description text
chunk) and used as the upload's alt text.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from workers.digests.trends import Weeks, periods

MAX_LINES = 8  # images drawn, worst first; the rest would be an unreadable tangle
WIDTH, HEIGHT, DPI = 9.0, 5.0, 100  # 900 x 500 pixels


@dataclass(frozen=True)
class Chart:
    png: bytes
    description: str
    weeks: int  # periods on the x axis


def load_backend() -> None:
    """Import matplotlib with its Agg backend (a worker does it before its first digest; the bot never)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure  # noqa: F401
    import matplotlib.ticker  # noqa: F401


def trend_chart(history: dict[str, Weeks], period: str) -> Chart:
    load_backend()
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    axis = periods(history.values())
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    if len(axis) < 2:
        description = (
            f"One week of history so far (week {period}): the trend of critical and high findings starts with "
            "next week's digest."
        )
        ax = figure.subplots()
        ax.axis("off")
        ax.text(0.5, 0.6, "One week of history so far", ha="center", va="center", fontsize=20)
        ax.text(0.5, 0.42, _this_week(history, period), ha="center", va="center", fontsize=12, wrap=True)
        ax.text(0.5, 0.25, "The trend starts with next week's digest.", ha="center", va="center", fontsize=12)
        return Chart(_png(figure, description), description, len(axis))
    worst = sorted(history, key=lambda ref: _latest_total(history[ref]), reverse=True)[:MAX_LINES]
    critical_ax, high_ax = figure.subplots(1, 2, sharex=True)
    labels = [p.split("-W")[1].lstrip("0") for p in axis]
    for reference in worst:
        weeks = history[reference]
        xs = [i for i, p in enumerate(axis) if p in weeks]
        name = reference.removeprefix("docker.io/library/")
        critical_ax.plot(xs, [weeks[axis[i]].open_critical for i in xs], marker="o", label=name)
        high_ax.plot(xs, [weeks[axis[i]].open_high for i in xs], marker="o", label=name)
    for ax, title in ((critical_ax, "Critical (open)"), (high_ax, "High (open)")):
        ax.set_title(title)
        ax.set_xlabel("ISO week")
        ax.set_xticks(range(len(axis)), labels, fontsize=8)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    high_ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    # fixed margins with room for the legend: tight_layout measured every text first and cost a third of a digest
    figure.subplots_adjust(left=0.06, right=0.78, bottom=0.12, top=0.9, wspace=0.22)
    shown = f"the {len(worst)} worst of {len(history)}" if len(history) > len(worst) else f"{len(worst)}"
    description = (
        f"Open critical and high findings of {shown} watched image{'s' if len(worst) != 1 else ''} "
        f"over {len(axis)} weeks, {axis[0]} to {axis[-1]}."
    )
    return Chart(_png(figure, description), description, len(axis))


def _this_week(history: dict[str, Weeks], period: str) -> str:
    critical = sum(w[period].open_critical for w in history.values() if period in w)
    high = sum(w[period].open_high for w in history.values() if period in w)
    images = f"{len(history)} image{'s' if len(history) != 1 else ''}"
    return f"This week: {critical} critical and {high} high open across {images}."


def _latest_total(weeks: Weeks) -> int:
    latest = weeks[max(weeks)] if weeks else None
    return latest.open_critical * 1000 + latest.open_high if latest else -1


def _png(figure, description: str) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Title": "chainscan trend", "Description": description})
    return out.getvalue()
