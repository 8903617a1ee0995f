"""PNG heatmap of an eval run (length x depth), drawn with matplotlib's Agg backend.

matplotlib is imported inside the function: `import ropeguard.reports` stays light.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

from ropeguard.evals.results import Run
from ropeguard.files import write_atomic
from ropeguard.redaction import redact_text
from ropeguard.reports.svg import GREEN, RED, YELLOW


def write_heatmap_png(run: Run, path: Path, *, title: str | None = None, headline: str | None = None) -> Path:
    """Rows = prompt lengths, columns = needle depths, same red-yellow-green scale as the HTML report.

    `title` names the configuration (two runs of one model must not get the same picture title);
    `headline`, the served-length mismatch, goes under it in the warning colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LinearSegmentedColormap

    summary = run.summary
    lengths = sorted(set(run.info.config.lengths) | set(summary.lengths))
    depths = sorted(set(run.info.config.depths) | {c.depth for c in summary.cells})
    grid = np.full((len(lengths), len(depths)), np.nan)
    for cell in summary.cells:
        if cell.accuracy is not None and cell.length in lengths and cell.depth in depths:
            grid[lengths.index(cell.length), depths.index(cell.depth)] = cell.accuracy
    colours = LinearSegmentedColormap.from_list(
        "ropeguard", [tuple(c / 255 for c in rgb) for rgb in (RED, YELLOW, GREEN)]
    ).with_extremes(bad="#dcdcdc")
    # Wide enough for the axis labels and a two-line title, whatever the grid's size.
    figure, axes = plt.subplots(
        figsize=(max(5.5, 1.6 + 0.7 * len(depths)), 1.6 + 0.45 * len(lengths)), dpi=120
    )
    try:
        masked = np.ma.masked_invalid(grid)  # type: ignore[no-untyped-call]
        image = axes.imshow(masked, cmap=colours, vmin=0.0, vmax=1.0, aspect="auto")
        axes.set_xticks(range(len(depths)), [f"{d * 100:g}%" for d in depths])
        axes.set_yticks(range(len(lengths)), [str(n) for n in lengths])
        axes.set_xlabel("needle depth (% into the prompt)")
        axes.set_ylabel("prompt length (tokens)")
        # A model name is data, not markup: matplotlib would read "$...$" as mathtext.
        name = f"{textwrap.fill(redact_text(title), 64)}\n" if title else ""
        axes.set_title(
            name + f"recall of {run.info.config.task}: {redact_text(run.info.server.model)}"[:80],
            fontsize=9,
            parse_math=False,
            loc="left",
        )
        if headline:
            figure.text(
                0.01,
                0.01,
                textwrap.fill("Warning: " + redact_text(headline), 84),
                fontsize=7,
                color="#7a3800",
                parse_math=False,
            )
        for i in range(len(lengths)):
            for j in range(len(depths)):
                if not np.isnan(grid[i, j]):
                    axes.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8)
        figure.colorbar(image, ax=axes, label="accuracy")
        figure.tight_layout(rect=(0.0, 0.12 if headline else 0.0, 1.0, 1.0))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        write_atomic(path, buffer.getvalue())
    finally:
        plt.close(figure)
    return path
