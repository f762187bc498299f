"""What every figure writer shares: a headless pyplot, an atomic, byte-stable PNG save, the figure's
source data beside it (``<stem>.csv``: the numbers drawn, which the tests check against the tables), and
the chart kinds more than one figure could use (a radar chart)."""

from __future__ import annotations

from mmpcbench.io import atomic_path


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (jobs have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path) -> None:
    """Write ``fig`` to ``path`` atomically, without the metadata that varies between versions, and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight", metadata={"Software": None})
    pyplot().close(fig)


def save_data(frame, path) -> None:
    """Write a figure's source data (a polars DataFrame: the numbers it draws) as CSV, atomically."""
    with atomic_path(path) as tmp:
        frame.write_csv(tmp, float_precision=6)


def radar_chart(series: dict[str, dict[str, float]], axes: list[str], labels: list[str], title: str, out_png,
                limit: float = 1.0, dashed: list[str] = ()) -> None:
    """A radar chart on the scale [0, ``limit``]: one polygon per entry of ``series`` (name → axis →
    value) over ``axes`` (labelled ``labels``); the entries named in ``dashed`` are drawn dashed and
    marked ‡ (not in the paper) in the legend. A value past ``limit`` is drawn on the rim and its
    entry's legend says how far off the scale it is (the scale is the paper's, not the outliers')."""
    import numpy as np

    plt = pyplot()
    angles = np.linspace(0, 2 * np.pi, len(axes), endpoint=False).tolist()
    fig = plt.figure(figsize=(6, 6.8), dpi=100)
    ax = fig.add_subplot(projection="polar")
    for name, values in series.items():
        raw = [values.get(a, 0.0) for a in axes]
        points = [min(value, limit) for value in raw]
        style = "--" if name in dashed else "-"
        label = name + (" ‡" if name in dashed else "")
        if max(raw) > limit:
            label += f" (off scale: up to {max(raw):.1f})"
        # markers: with fewer than three spokes (a demo of two categories) the polygons are segments
        ax.plot(angles + angles[:1], points + points[:1], linestyle=style, linewidth=1.5, marker="o", markersize=4,
                label=label)
        if name not in dashed:
            ax.fill(angles + angles[:1], points + points[:1], alpha=0.08)
    ax.set_xticks(angles)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylim(0, limit)
    ax.set_title(title, fontsize=10, pad=18)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, fontsize=7, frameon=False)
    save_png(fig, out_png)
