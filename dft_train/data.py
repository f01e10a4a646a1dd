"""Training batches: fixed-length token blocks of text for CE, or bare step tickets without text.

Inputs for ``--data``: ``.txt``/``.md`` files (one document each) and
``.jsonl`` files (a ``text`` field per line), given as files, directories or
globs. Documents are tokenised, joined with EOS and cut into blocks of
``block_tokens`` tokens (the tail shorter than a block is dropped).
"""

from __future__ import annotations

import glob
import json
import random
from pathlib import Path

import torch
from torch.utils.data import Dataset

from dft_registry.errors import TrainError

TEXT_SUFFIXES = {".txt", ".md", ".jsonl"}


def expand_inputs(patterns: list[str]) -> list[Path]:
    """Files named by paths, directories (recursively) or globs, sorted; errors name the input."""
    files: list[Path] = []
    for pattern in patterns:
        path = Path(pattern).expanduser()
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in TEXT_SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
            if not matches:
                raise TrainError(f"--data {pattern}: no such file, directory or glob match")
            files += [p for p in matches if p.is_file()]
    if not files:
        raise TrainError(f"--data {' '.join(patterns)}: no .txt, .md or .jsonl files found")
    return files


def read_documents(files: list[Path]) -> list[str]:
    documents = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise TrainError(f"--data {path}: not UTF-8 text") from None
        if path.suffix == ".jsonl":
            for number, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    documents.append(str(json.loads(line)["text"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise TrainError(
                        f"--data {path}:{number}: expected a JSON object with a 'text' field"
                    ) from None
        elif text.strip():
            documents.append(text)
    return documents


class TextBlocks(Dataset):
    """Blocks of ``block_tokens`` token ids; each item is ``{"input_ids", "attention_mask", "labels"}``."""

    def __init__(self, documents: list[str], tokenizer, block_tokens: int):
        ids: list[int] = []
        for encoded in tokenizer(documents, add_special_tokens=False)["input_ids"]:
            ids += encoded + [tokenizer.eos_token_id]
        count = len(ids) // block_tokens
        if count == 0:
            raise TrainError(
                f"--data holds {len(ids)} tokens, fewer than one block of {block_tokens}; "
                "add text or lower --max-seq-length"
            )
        self.blocks = torch.tensor(ids[: count * block_tokens]).view(count, block_tokens)

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        block = self.blocks[index]
        return {
            "input_ids": block,
            "attention_mask": torch.ones_like(block),
            "labels": block.clone(),
        }


class StepTickets(Dataset):
    """A dataset without text: item i is ``{"ticket": i}``, one per training example slot."""

    def __init__(self, length: int):
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"ticket": torch.tensor(index)}


def read_prompts(path: str) -> list[str]:
    try:
        prompts = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    except OSError as exc:
        raise TrainError(f"--prompts {path}: {exc.strerror or exc}") from None
    prompts = [p for p in prompts if p]
    if not prompts:
        raise TrainError(f"--prompts {path}: no non-empty lines")
    return prompts


class PromptSampler:
    """Draws prompts (with replacement, weighted) reproducibly per step: ``draw(n, step)``."""

    def __init__(self, prompts: list[str], weights: list[float] | None = None, seed: int = 0):
        if not prompts:
            raise TrainError(
                "no prompts to sample from: the bundle has no openers; pass --prompts FILE"
            )
        self.prompts = prompts
        self.weights = weights
        self.seed = seed

    @classmethod
    def from_bundle(cls, bundle, seed: int = 0) -> PromptSampler:
        openers = bundle.table("openers")
        return cls(
            openers.column("opener").to_pylist(),
            [float(c) for c in openers.column("count").to_pylist()],
            seed,
        )

    def draw(self, count: int, step: int) -> list[str]:
        return random.Random(self.seed * 1_000_003 + step).choices(
            self.prompts, self.weights, k=count
        )
