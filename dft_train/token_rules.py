"""Which model tokens start a word and which end a sentence, by the segmenter's rules.

The sentence-length term (DESIGN.md section 6.2) needs, per sampled position,
``w_t`` (probability mass on tokens that start a word) and ``e_t`` (mass on
tokens that end a sentence). Whether a token starts a word depends on the text
before it (``"ing"`` continues a word, ``" the"`` starts one), so the rules are
two boolean masks over the vocabulary per *prefix state*, the class of the
last character generated so far:

* ``WORD``: a letter, digit or symbol; ``PUNCT``: Unicode punctuation (``P*``);
  ``SPACE``: whitespace without a newline since the last visible character;
  ``NEWLINE``: a newline (then maybe spaces) since the last visible character;
  ``GLUED_DOT``: a full stop right after a word character.

The rules mirror the registry's segmenter (:mod:`dft_registry.segment`): a
word is a token that is not all punctuation, so a word starts at a
non-punctuation, non-space character that follows whitespace or punctuation
(``well-known`` and ``don't`` are two words, as spaCy splits them), except
after a full stop glued to a word (``3.5``, ``e.g.``, ``U.S.`` are one word); a
sentence ends at a sentence-final punctuation character (spaCy's sentencizer
list) and at a blank line. A full stop does not end a sentence when the next
token is glued to it or when the segmenter keeps the word before it whole
(``Inc.``): :func:`end_suppression`, decided on the sampled text. A token that ends a sentence does not also start a word, so
the two events are exclusive per position, as the recursion assumes.
:func:`hard_sentence_lengths` applies the same rules to a fixed token sequence;
tests compare it with the segmenter on reference text.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

import torch

WORD, PUNCT, SPACE, NEWLINE, GLUED_DOT = 0, 1, 2, 3, 4
STATES = 5

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


def token_events(text: str, state: int) -> tuple[bool, bool, int, bool]:
    """``(ends_sentence, starts_word, next_state, open_end)`` for a token's ``text`` after ``state``.

    A sentence end wins over a word start inside the same token (they are
    exclusive per position); an empty text (special tokens) changes nothing.
    ``open_end``: the end comes from sentence-final punctuation with nothing
    but punctuation after it in the token (``"."``, ``".)"``), so whether it
    really ends the sentence depends on what follows (``3.5``, ``Inc.``): see
    :func:`end_suppression`. Blank-line ends are never open.
    """
    ends = starts = open_end = blank = False
    for char in text:
        cls = char_class(char)
        if cls == NEWLINE:
            if state == NEWLINE:
                ends = blank = True  # a blank line
            state = NEWLINE
            open_end = False
            continue
        if cls == SPACE:
            if state != NEWLINE:
                state = SPACE
            open_end = False
            continue
        if cls == WORD:
            # "3.5", "e.g", "U.S": a full stop between word characters joins them
            starts = starts or state not in (WORD, GLUED_DOT)
            open_end = False
            state = WORD
            continue
        if char in SENTENCE_END_CHARS:
            ends = open_end = True
        state = GLUED_DOT if (char == "." and state == WORD) else PUNCT
    if ends:
        starts = False
    return ends, starts, state, open_end and not blank


_RULES_CACHE: dict[str, TokenRules] = {}


@dataclass
class TokenRules:
    """Per-vocabulary masks: ``end``, ``start``, ``open_end`` [STATES, V] and ``next_state``.

    ``end`` and ``start`` are float tensors (1.0 where the event happens) so
    ``probs @ start[state]`` gives ``w_t`` directly; ``open_end`` marks the
    ends that a following glued word or an abbreviation cancels;
    ``glued_start`` [V] (bool): the token begins with a word character, so it
    continues whatever came before it without a space.
    """

    end: torch.Tensor
    start: torch.Tensor
    next_state: torch.Tensor  # long [STATES, V]
    open_end: torch.Tensor
    glued_start: torch.Tensor
    texts: list[str]

    @classmethod
    def from_texts(cls, texts: list[str]) -> TokenRules:
        """Rules for a vocabulary given the decoded text of each token id (special = "")."""
        size = len(texts)
        end = torch.zeros(STATES, size)
        start = torch.zeros(STATES, size)
        open_end = torch.zeros(STATES, size)
        next_state = torch.zeros(STATES, size, dtype=torch.long)
        for state in range(STATES):
            for token_id, text in enumerate(texts):
                ends, starts, after, is_open = token_events(text, state)
                end[state, token_id] = float(ends)
                start[state, token_id] = float(starts)
                open_end[state, token_id] = float(is_open)
                next_state[state, token_id] = after
        glued_start = torch.tensor([bool(t) and char_class(t[0]) == WORD for t in texts])
        return cls(end, start, next_state, open_end, glued_start, list(texts))

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


class AbbreviationOracle:
    """Asks the segmenter whether a word keeps its full stop (``Inc.``, ``e.g.``, ``U.S.``).

    ``keeps_period(tail)`` is True when the segmenter reads ``tail + ". Next"``
    as one sentence; answers are cached per tail. Without a segmenter every
    full stop ends a sentence.
    """

    def __init__(self, segmenter=None, max_cache: int = 200_000):
        self.segmenter = segmenter
        self.max_cache = max_cache
        self._cache: dict[str, bool] = {}

    def keeps_period(self, tail: str) -> bool:
        if self.segmenter is None or not tail or not tail[-1].isalnum():
            return False
        answer = self._cache.get(tail)
        if answer is None:
            answer = len(self.segmenter.segment(tail + ". Next")) == 1
            if len(self._cache) < self.max_cache:
                self._cache[tail] = answer
        return answer


def end_suppression(
    rules: TokenRules,
    token_ids: list[int],
    prompt_tail: str = "",
    oracle: AbbreviationOracle | None = None,
) -> list[bool]:
    """Per position of ``token_ids``: True where an *open* end would not end the sentence.

    That is when the next token is glued to it (``3`` ``.`` ``5``, a URL) or
    the text before it ends with an abbreviation the segmenter keeps whole.
    ``prompt_tail``: the text before the first token (only its last
    whitespace-free run matters). The last position is never suppressed by
    a glued token (nothing follows yet).
    """
    tail = prompt_tail.rsplit(None, 1)[-1] if prompt_tail and not prompt_tail[-1].isspace() else ""
    suppressed = []
    for index, token_id in enumerate(token_ids):
        glued = index + 1 < len(token_ids) and bool(rules.glued_start[token_ids[index + 1]])
        suppressed.append(glued or (oracle is not None and oracle.keeps_period(tail)))
        text = rules.texts[token_id] if token_id < len(rules.texts) else ""
        if text:
            tail = (tail + text).rsplit(None, 1)[-1] if not text[-1].isspace() else ""
            tail = tail[-40:]
    return suppressed


def hard_sentence_lengths(
    rules: TokenRules,
    token_ids: list[int],
    start: PrefixState | None = None,
    oracle: AbbreviationOracle | None = None,
) -> tuple[list[int], PrefixState]:
    """Apply the rules to a fixed token sequence: completed sentence lengths (words) and end state.

    The last, unfinished sentence is not in the list; its word count is in the
    returned :class:`PrefixState` (what a prompt passes to the recursion).
    """
    words = start.words if start else 0
    state = start.state if start else SPACE
    lengths: list[int] = []
    suppressed = end_suppression(rules, token_ids, oracle=oracle)
    for token_id, cancel in zip(token_ids, suppressed):
        ends = bool(rules.end[state, token_id]) and not (cancel and rules.open_end[state, token_id])
        if ends and words > 0:
            lengths.append(words)
            words = 0
        if rules.start[state, token_id]:
            words += 1
        state = int(rules.next_state[state, token_id])
    return lengths, PrefixState(words=words, state=state)
