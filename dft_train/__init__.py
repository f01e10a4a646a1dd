"""dft_train: fine-tune a causal LM toward a stat bundle with a distributional loss.

See README.md in this directory; the CLI is ``dft-train`` (:mod:`dft_train.cli`).
"""
