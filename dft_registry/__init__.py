"""dft_registry: versioned corpus-statistics bundles (Parquet + manifest) and their catalog.

Quick start::

    import dft_registry
    result = dft_registry.build("mydomain", "corpus/")      # -> BuildResult
    bundle = dft_registry.load("mydomain@v1")               # -> Bundle
    bundle.table("unigrams"); bundle.connect().sql("SELECT * FROM sentence_lengths")
"""

__version__ = "0.1.0"

from .errors import DftError


def build(*args, **kwargs):
    """See :func:`dft_registry.pipeline.build`."""
    from .pipeline import build as _build

    return _build(*args, **kwargs)


def load(*args, **kwargs):
    """See :func:`dft_registry.bundle.load`."""
    from .bundle import load as _load

    return _load(*args, **kwargs)


__all__ = ["DftError", "__version__", "build", "load"]
