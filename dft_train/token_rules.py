"""Which model tokens start a word and which end a sentence, by the segmenter's rules.

The sentence-length term (DESIGN.md section 6.2) needs, per sampled position,
``w_t`` (probability mass on tokens that start a word) and ``e_t`` (mass on
tokens that end a sentence). Whether a token starts a word depends on the text
before it (``"ing"`` continues a word, ``" the"`` starts one), so the rules are
two boolean masks over the vocabulary per *prefix state*, the class of the
last character generated so far:

* ``WORD``: a letter, digit or symbol; ``PUNCT``: Unicode punctuation (``P*``);
  ``SPACE``: whitespace without a newline since the last visible character;
  ``NEWLINE``: a newline (then maybe spaces) since the last visible character.

The rules mirror the registry's segmenter (:mod:`dft_registry.segment`): a
word is a token that is not all punctuation, so a word starts at a
non-punctuation, non-space character that follows whitespace or punctuation
(``well-known`` and ``don't`` are two words, as spaCy splits them); a sentence
ends at a sentence-final punctuation character (spaCy's sentencizer list) and
at a blank line. A token that ends a sentence does not also start a word, so
the two events are exclusive per position, as the recursion assumes.
:func:`hard_sentence_lengths` applies the same rules to a fixed token sequence;
tests compare it with the segmenter on reference text.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

import torch

WORD, PUNCT, SPACE, NEWLINE = 0, 1, 2, 3
STATES = 4

# spaCy's Sentencizer.default_punct_chars (the common ones; the rest are rare scripts)
SENTENCE_END_CHARS = frozenset("!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷﹒﹖﹗！．？｡。")


def char_class(char: str) -> int:
    """WORD, PUNCT, SPACE or NEWLINE for one character."""
    if char in "\n\r\u2028\u2029":
        return NEWLINE
    if char.isspace():
        return SPACE
    if unicodedata.category(char)[0] == "P":
        return PUNCT
    return WORD


def token_events(text: str, state: int) -> tuple[bool, bool, int]:
    """``(ends_sentence, starts_word, next_state)`` for a token's ``text`` after ``state``.

    A sentence end wins over a word start inside the same token (they are
    exclusive per position); an empty text (special tokens) changes nothing.
    """
    ends = starts = False
    for char in text:
        cls = char_class(char)
        if cls == NEWLINE:
            if state == NEWLINE:
                ends = True  # a blank line
            state = NEWLINE
            continue
        if cls == SPACE:
            if state != NEWLINE:
                state = SPACE
            continue
        if cls == WORD and state != WORD:
            starts = True
        elif cls == PUNCT and char in SENTENCE_END_CHARS:
            ends = True
        state = cls
    if ends:
        starts = False
    return ends, starts, state


_RULES_CACHE: dict[str, TokenRules] = {}


@dataclass
class TokenRules:
    """Per-vocabulary masks: ``end[state, v]``, ``start[state, v]`` and ``next_state[state, v]``.

    ``end`` and ``start`` are float tensors [STATES, V] (1.0 where the event
    happens) so ``probs @ start[state].T`` gives ``w_t`` directly.
    """

    end: torch.Tensor
    start: torch.Tensor
    next_state: torch.Tensor  # long [STATES, V]

    @classmethod
    def from_texts(cls, texts: list[str]) -> TokenRules:
        """Rules for a vocabulary given the decoded text of each token id (special = "")."""
        size = len(texts)
        end = torch.zeros(STATES, size)
        start = torch.zeros(STATES, size)
        next_state = torch.zeros(STATES, size, dtype=torch.long)
        for state in range(STATES):
            for token_id, text in enumerate(texts):
                ends, starts, after = token_events(text, state)
                end[state, token_id] = float(ends)
                start[state, token_id] = float(starts)
                next_state[state, token_id] = after
        return cls(end=end, start=start, next_state=next_state)

    @classmethod
    def from_tokenizer(cls, tokenizer, vocab_size: int | None = None) -> TokenRules:
        """Rules for a Hugging Face tokenizer; ids past the tokenizer (padded rows) get "".

        Memoised per process by the token texts (building them takes ~2 s for 50k tokens).
        """
        texts = token_texts(tokenizer, vocab_size)
        key = hashlib.sha256("\x00".join(texts).encode("utf-8", "surrogatepass")).hexdigest()
        if key not in _RULES_CACHE:
            _RULES_CACHE.clear()  # keep one vocabulary's masks at a time
            _RULES_CACHE[key] = cls.from_texts(texts)
        return _RULES_CACHE[key]

    def states_along(
        self, token_ids: torch.Tensor, initial: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Prefix state *before* each position of ``token_ids`` [B, T] -> long [B, T]."""
        batch, length = token_ids.shape
        state = (
            torch.full((batch,), SPACE, dtype=torch.long) if initial is None else initial.clone()
        )
        states = torch.empty(batch, length, dtype=torch.long)
        table = self.next_state.to(token_ids.device)
        for t in range(length):
            states[:, t] = state
            state = table[state.to(table.device), token_ids[:, t]].cpu()
        return states.to(token_ids.device)


def token_texts(tokenizer, vocab_size: int | None = None) -> list[str]:
    """The decoded text of every token id on its own; special tokens decode to ""."""
    size = max(vocab_size or 0, len(tokenizer))
    ids = list(range(len(tokenizer)))
    texts = tokenizer.batch_decode(
        [[i] for i in ids], skip_special_tokens=False, clean_up_tokenization_spaces=False
    )
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    texts = ["" if i in special else text for i, text in zip(ids, texts)]
    return texts + [""] * (size - len(texts))


@dataclass
class PrefixState:
    """Where a prompt leaves the sentence-length process: words so far and char state."""

    words: int
    state: int


def hard_sentence_lengths(
    rules: TokenRules, token_ids: list[int], start: PrefixState | None = None
) -> tuple[list[int], PrefixState]:
    """Apply the rules to a fixed token sequence: completed sentence lengths (words) and end state.

    The last, unfinished sentence is not in the list; its word count is in the
    returned :class:`PrefixState` (what a prompt passes to the recursion).
    """
    words = start.words if start else 0
    state = start.state if start else SPACE
    lengths: list[int] = []
    for token_id in token_ids:
        if rules.end[state, token_id] and words > 0:
            lengths.append(words)
            words = 0
        if rules.start[state, token_id]:
            words += 1
        state = int(rules.next_state[state, token_id])
    return lengths, PrefixState(words=words, state=state)
