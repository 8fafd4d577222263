"""Quality metrics that need no downloaded weights: SWD and its ∞ and scale-invariant variants.

- :mod:`engine.metrics.swd` — sliced Wasserstein distance on Laplacian-pyramid patches (Karras et
  al., 2018), reported x 1e3 per level and averaged;
- :mod:`engine.metrics.infinite` — frames, ∞-SWD along one strip (ALIS), ScaleInv-SWD (InfinityGAN);
- :mod:`engine.metrics.realdata` — real crops from a file, a folder or a basemap map;
- :mod:`engine.metrics.evaluate` — all of them for one model, as JSON (``everscape eval``).
"""

from engine.metrics.swd import Descriptors, SWDConfig, SWDResult, describe, swd, swd_descriptors

__all__ = ["Descriptors", "SWDConfig", "SWDResult", "describe", "swd", "swd_descriptors"]
