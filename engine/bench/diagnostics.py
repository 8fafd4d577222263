"""Diagnostics of every family's configs at random init: colour drift, repetition, seams.

The numbers come from :func:`engine.metrics.diagnostics.diagnose` on ``build_random`` models (a
trained checkpoint is checked by ``everscape eval --diagnostics`` and in its model card). At
random init they show what the architecture alone does: e.g. a family whose untrained output
already correlates one coordinate period apart must rely on training to break the echo.
``--quick`` bounds each row: fewer, smaller frames and the longest periods only (``quick_diagnose``).
"""

from __future__ import annotations

from engine.bench import BenchContext, Row, benchmark
from engine.bench.render_speed import configs_to_measure
from engine.geometry import Rect
from engine.metrics.diagnostics import DiagnosticOptions, colour_drift, diagnose, repetition, seam_error
from engine.models.base import Generator
from engine.models.registry import build_random
from engine.render import Renderer
from engine.world import World

#: ``--quick``: one far distance (two far sets, so 59 re-splits can still fail one at p 0.05), four
#: 32 px frames per set: the same checks, a fraction of ``eval --quick``'s renders and splits.
BENCH_QUICK = DiagnosticOptions(frame=32, frames=4, distances=(10**9,), seam_rect=(150, 100), permutations=59)
QUICK_PERIODS = 1  # --quick: repetition at the longest period only (alis:tiny has eleven)


def quick_diagnose(model: Generator, ref: str, options: DiagnosticOptions, device: str) -> dict:
    """:func:`diagnose`'s drift, repetition (at the :data:`QUICK_PERIODS` longest coordinate periods)
    and seams, without the lattice check: a bounded smoke figure for ``--quick``."""
    renderer = Renderer(model, device)
    world = World(model=ref, seed=options.seed)
    periods = sorted(model.coordinate_periods(), reverse=True)[:QUICK_PERIODS]
    return {
        "coordinate_periods": periods,
        "drift": colour_drift(renderer, world, options),
        "repetition": repetition(renderer, world, periods, options),
        "seams": seam_error(renderer, world, Rect(10**9 + 7, -333, *options.seam_rect), options.seam_tiles),
    }


@benchmark(
    "diagnostics",
    quick_limit=f"test configs; 32 px frames, 4 per set, far sets at +-1e9, 59 re-splits, {QUICK_PERIODS} periods",
)
def diagnostics(ctx: BenchContext) -> list[Row]:
    rows = []
    for family, config in configs_to_measure(ctx):
        ref = f"{family}:{config}"
        model = build_random(family, config)
        if ctx.quick:
            report = quick_diagnose(model, ref, BENCH_QUICK, ctx.device)
        else:
            report = diagnose(model, ref, DiagnosticOptions(), ctx.device)
        drift, rep = report["drift"], report["repetition"]
        rows.append(
            {
                "model": ref,
                "periods_px": ",".join(str(p) for p in report["coordinate_periods"]) or "-",
                "drift_swd_p_adjusted": drift["worst_p_adjusted"],
                "drift_mean_shift_u8": drift["worst_mean_shift_u8"],
                "drift_std_ratio": drift["worst_std_ratio"],
                "drift_pass": drift["pass"],
                "repetition_score": rep["worst_score"],
                "repetition_by_period": " ".join(f"{r['period']}:{r['score']:.2f}" for r in rep["periods"]) or "-",
                "repetition_pass": rep["pass"],
                "seam_max_abs_u8": report["seams"]["seam_max_abs_u8"],
            }
        )
    return rows
