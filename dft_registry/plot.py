"""Plots of one or more bundles with matplotlib's Agg backend (no display, no pyplot state).

Three panels, every bundle on each: the sentence-length distribution (share of
sentences per length in words), the rank-frequency (Zipf) curve of words on
log-log axes, and the entropy profile (mean lexical entropy of a window, bits,
against the window size in words, with ± one standard deviation).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .bundle import Bundle

PANELS = ("sentence_lengths", "zipf", "entropy")
TITLES = {
    "sentence_lengths": "Sentence length",
    "zipf": "Rank–frequency (Zipf)",
    "entropy": "Entropy profile",
}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def sentence_length_panel(ax, bundles: Sequence[Bundle], max_length: int | None = None) -> None:
    """Share of sentences per length (words), as one step line per bundle."""
    upper = 0
    for bundle in bundles:
        table = bundle.table("sentence_lengths")
        lengths = table.column("length").to_numpy()
        counts = table.column("count").to_numpy().astype(float)
        if counts.sum() == 0:
            continue
        share = counts / counts.sum()
        order = np.argsort(lengths)
        ax.step(lengths[order], share[order], where="mid", label=bundle.ref, linewidth=1.4)
        cumulative = np.cumsum(share[order])
        upper = max(upper, int(lengths[order][min(np.searchsorted(cumulative, 0.99),
                                                  len(order) - 1)]))
    ax.set_xlim(0, max_length or max(upper + 1, 10))
    ax.set_xlabel("words per sentence")
    ax.set_ylabel("share of sentences")
    ax.set_title(TITLES["sentence_lengths"])


def zipf_panel(ax, bundles: Sequence[Bundle]) -> None:
    """Word frequency (per million words) against frequency rank, log-log."""
    for bundle in bundles:
        table = bundle.table("unigrams")
        punct = table.column("is_punct").to_numpy(zero_copy_only=False)
        counts = np.sort(table.column("count").to_numpy()[~punct].astype(float))[::-1]
        if counts.size == 0:
            continue
        ranks = np.arange(1, counts.size + 1)
        ax.loglog(ranks, counts * 1e6 / counts.sum(), label=bundle.ref, linewidth=1.4)
    ax.set_xlabel("rank")
    ax.set_ylabel("frequency per million words")
    ax.set_title(TITLES["zipf"])


def entropy_panel(ax, bundles: Sequence[Bundle]) -> None:
    """Mean lexical entropy (bits) of a window against its size (words), ± one std."""
    ticks: set[int] = set()
    for bundle in bundles:
        rows = bundle.table("entropy").to_pylist()
        mean = {r["window"]: r["value"] for r in rows if r["metric"] == "lexical_entropy_mean"}
        std = {r["window"]: r["value"] for r in rows if r["metric"] == "lexical_entropy_std"}
        windows = sorted(w for w in mean if w > 0)
        if not windows:
            continue
        ticks.update(windows)
        y = np.array([mean[w] for w in windows])
        s = np.array([std.get(w, 0.0) for w in windows])
        line, = ax.plot(windows, y, marker="o", label=bundle.ref, linewidth=1.4)
        ax.fill_between(windows, y - s, y + s, alpha=0.15, color=line.get_color())
    ax.set_xscale("log", base=2)
    if ticks:
        ax.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)])
        ax.minorticks_off()
    ax.set_xlabel("window size (words)")
    ax.set_ylabel("lexical entropy (bits)")
    ax.set_title(TITLES["entropy"])


DRAW = {"sentence_lengths": sentence_length_panel, "zipf": zipf_panel, "entropy": entropy_panel}


def plot_bundles(bundles: Sequence[Bundle], panels: Sequence[str] = PANELS, title: str | None = None):
    """A matplotlib Figure with one panel per statistic and every bundle on each."""
    figure = _figure(5.0 * len(panels), 4.0)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        DRAW[panel](ax, bundles)
        ax.grid(True, alpha=0.3, which="both", linewidth=0.5)
        if len(bundles) > 1 or panel == panels[0]:
            ax.legend(fontsize="small")
    figure.suptitle(title or " vs ".join(b.ref for b in bundles))
    return figure


def save_plot(bundles: Sequence[Bundle], out: str | Path, panels: Sequence[str] = PANELS,
              title: str | None = None) -> Path:
    """Write the figure of ``plot_bundles`` to ``out`` (format from the suffix: .png, .svg, .pdf)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_bundles(bundles, panels, title).savefig(out)
    return out


def png_bytes(bundles: Sequence[Bundle], panels: Sequence[str] = PANELS, title: str | None = None) -> bytes:
    """The figure as PNG bytes (for embedding in HTML)."""
    buffer = io.BytesIO()
    plot_bundles(bundles, panels, title).savefig(buffer, format="png")
    return buffer.getvalue()
