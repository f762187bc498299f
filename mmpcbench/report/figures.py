"""What every figure writer shares: a headless pyplot and an atomic, byte-stable PNG save."""

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
