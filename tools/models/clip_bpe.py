"""CLIP's byte-level BPE tokenizer, built from the merges file, and its tokenizer.json.

Vocabulary layout (49,408 tokens): 256 byte symbols, the same with "</w>", one token per merge,
then <|startoftext|> (49406) and <|endoftext|> (49407).
"""
from __future__ import annotations

import gzip
import html
import json
import re
from functools import lru_cache
from pathlib import Path

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
CONTEXT = 77
# The pre-tokenizer of OpenAI's CLIP; Python's `re` has no \p{L}, so letters are [^\W\d_].
_PAT = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+",
                  re.IGNORECASE)
# The same pattern as tokenizer.json gives it to the Hugging Face tokenizers (Oniguruma syntax).
HF_SPLIT = r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def read_merges(path: Path) -> list[tuple[str, str]]:
    lines = gzip.open(path, "rt", encoding="utf-8").read().split("\n")
    merges = lines[1:49152 - 256 - 2 + 1]
    return [tuple(m.split()) for m in merges]  # type: ignore[misc]


class ClipTokenizer:
    def __init__(self, merges_path: Path):
        self.byte_encoder = bytes_to_unicode()
        self.merges = read_merges(merges_path)
        vocab = list(self.byte_encoder.values())
        vocab += [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in self.merges]
        vocab += [BOS, EOS]
        self.vocab = vocab
        self.encoder = {t: i for i, t in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self._bpe = lru_cache(maxsize=10000)(self._bpe_uncached)

    def _bpe_uncached(self, token: str) -> tuple[str, ...]:
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(word, word[1:]))]
            rank, _ = min(pairs)
            if rank == 1 << 30:
                break
            a, b = self.merges[rank]
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        return tuple(word)

    def encode(self, text: str, context: int | None = CONTEXT, pad: bool = False) -> list[int]:
        text = re.sub(r"\s+", " ", html.unescape(html.unescape(text))).strip().lower()
        ids = [self.encoder[BOS]]
        for tok in _PAT.findall(text):
            tok = "".join(self.byte_encoder[b] for b in tok.encode("utf-8"))
            ids += [self.encoder[t] for t in self._bpe(tok)]
        ids.append(self.encoder[EOS])
        if context is not None:
            if len(ids) > context:
                ids = ids[:context]
                ids[-1] = self.encoder[EOS]
            if pad:
                ids += [0] * (context - len(ids))
        return ids

    def tokenizer_json(self) -> dict:
        """The Hugging Face tokenizers format used by the CLIP exports on the Hub."""
        def added(i: int, content: str) -> dict:
            return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
                    "normalized": True, "special": True}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [added(49406, BOS), added(49407, EOS)],
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "NFC"},
                {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
                {"type": "Lowercase"},
            ]},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": HF_SPLIT}, "behavior": "Removed", "invert": True},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            ]},
            "post_processor": {"type": "RobertaProcessing", "sep": [EOS, 49407], "cls": [BOS, 49406],
                               "trim_offsets": False, "add_prefix_space": False},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": EOS, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False,
                      "vocab": self.encoder, "merges": [" ".join(m) for m in self.merges]},
        }


def tokenizer_config() -> dict:
    return {
        "add_prefix_space": False,
        "bos_token": BOS, "eos_token": EOS, "pad_token": EOS, "unk_token": EOS,
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "errors": "replace",
        "model_max_length": CONTEXT,
        "tokenizer_class": "CLIPTokenizer",
    }


if __name__ == "__main__":
    import sys
    tok = ClipTokenizer(Path(sys.argv[1]))
    for t in sys.argv[2:]:
        print(t, tok.encode(t))
