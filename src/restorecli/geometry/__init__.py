"""Geometry of the codebook: Chebyshev centers of its Voronoi cells, and their disk cache."""

from restorecli.geometry.cache import (
    CACHE_ENV,
    cache_path,
    default_cache_dir,
    load_or_build,
    table_key,
)
from restorecli.geometry.chebyshev import (
    ALGORITHM_VERSION,
    DEFAULT_BOX_MARGIN,
    ChebyshevStats,
    chebyshev_centers,
    codebook_box,
)

__all__ = [
    "ALGORITHM_VERSION",
    "CACHE_ENV",
    "DEFAULT_BOX_MARGIN",
    "ChebyshevStats",
    "cache_path",
    "chebyshev_centers",
    "codebook_box",
    "default_cache_dir",
    "load_or_build",
    "table_key",
]
