"""The digest chart: stories and items per day by topic, as a PNG (pure: data in, bytes out).

matplotlib (Agg backend, no display) is imported on the first chart, not when diplo starts:
the import alone takes about a second. The output is deterministic for the same data and
matplotlib version (no timestamp or version in the file), 800 × 400 pixels.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

WIDTH, HEIGHT, DPI = 8.0, 4.0, 100  # inches at DPI: 800 × 400 pixels
OTHER = "other"
# Colour-blind-safe palette (Okabe–Ito), one colour per topic in the order drawn; grey: other.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHER_COLOUR = "#999999"
_lock = threading.Lock()  # pyplot's figure registry is not thread-safe; we avoid it, but
# matplotlib's font cache is built on first use: one chart at a time is plenty


@dataclass(frozen=True, slots=True)
class ChartData:
    """Counts per day (oldest first) for each topic, in the order the topics are drawn."""

    title: str
    days: tuple[date, ...]
    items: Mapping[str, tuple[int, ...]]
    stories: Mapping[str, tuple[int, ...]]

    @property
    def empty(self) -> bool:
        """Nothing to draw: no item and no story on any day."""
        return not any(sum(v) for v in (*self.items.values(), *self.stories.values()))


def _colour(topic: str, n: int) -> str:
    return OTHER_COLOUR if topic == OTHER else PALETTE[n % len(PALETTE)]


def _stacked(ax: Any, labels: list[str], series: Mapping[str, tuple[int, ...]], title: str) -> None:
    bottom = [0] * len(labels)
    for n, (topic, counts) in enumerate(series.items()):
        ax.bar(labels, counts, bottom=bottom, color=_colour(topic, n), label=topic, width=0.7)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_title(title, fontsize=11, loc="left")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylim(0, max([*bottom, 1]) * 1.15)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="both", labelsize=9)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for x, total in enumerate(bottom):
        if total:
            ax.annotate(
                str(total),
                (x, total),
                ha="center",
                va="bottom",
                fontsize=8,
                xytext=(0, 2),
                textcoords="offset points",
            )


def digest_chart(data: ChartData) -> bytes:
    """Two panels side by side, items and stories per day, bars stacked by topic; PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [f"{d:%a}\n{d.day} {d:%b}" for d in data.days]
    with _lock:
        fig = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
        FigureCanvasAgg(fig)
        items_ax, stories_ax = fig.subplots(1, 2, sharex=True)
        _stacked(items_ax, labels, data.items, "Reports per day")
        _stacked(stories_ax, labels, data.stories, "Stories per day")
        fig.suptitle(data.title, fontsize=12, x=0.01, ha="left")
        topics = list(data.items) or list(data.stories)
        if topics:
            handles, names = items_ax.get_legend_handles_labels()
            if not handles:
                handles, names = stories_ax.get_legend_handles_labels()
            fig.legend(
                handles,
                names,
                loc="lower center",
                ncol=min(len(names), 7),
                fontsize=9,
                frameon=False,
            )
        fig.subplots_adjust(left=0.06, right=0.99, top=0.84, bottom=0.22, wspace=0.15)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()
