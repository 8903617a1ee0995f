"""PNG heatmap of an eval run (length x depth), drawn with matplotlib's Agg backend.

matplotlib is imported inside the function: `import ropeguard.reports` stays light.
"""

from __future__ import annotations

import io
from pathlib import Path

from ropeguard.evals.results import Run
from ropeguard.files import write_atomic
from ropeguard.redaction import redact_text
from ropeguard.reports.svg import GREEN, RED, YELLOW


def write_heatmap_png(run: Run, path: Path) -> Path:
    """Rows = lengths, columns = depths, same red-yellow-green scale as the HTML report."""
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
    figure, axes = plt.subplots(figsize=(1.0 + 0.7 * len(depths), 1.0 + 0.45 * len(lengths)), dpi=120)
    try:
        masked = np.ma.masked_invalid(grid)  # type: ignore[no-untyped-call]
        image = axes.imshow(masked, cmap=colours, vmin=0.0, vmax=1.0, aspect="auto")
        axes.set_xticks(range(len(depths)), [f"{d:g}" for d in depths])
        axes.set_yticks(range(len(lengths)), [str(n) for n in lengths])
        axes.set_xlabel("depth")
        axes.set_ylabel("length (tokens)")
        # A model name is data, not markup: matplotlib would read "$...$" as mathtext.
        axes.set_title(f"recall: {redact_text(run.info.server.model)}"[:80], fontsize=9, parse_math=False)
        for i in range(len(lengths)):
            for j in range(len(depths)):
                if not np.isnan(grid[i, j]):
                    axes.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8)
        figure.colorbar(image, ax=axes, label="accuracy")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        write_atomic(path, buffer.getvalue())
    finally:
        plt.close(figure)
    return path
