"""Tiny models built from scratch (no hub): a 2-layer BERT and a 2-layer Llama, each with a
tokenizer trained here with `tokenizers`, and reward-model forms of both (one label). The tests use
them, and so does the CPU quickstart:

    .venv/bin/python -m ray_jobs.tiny_models llama models/tiny-llama
"""

from __future__ import annotations

import json
from pathlib import Path

RANDOM_MARKER = "judgeray-random-model.json"  # says "random weights" to the report (a banner), not to any engine

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "answer one is better than answer two",
    "question: what is two plus two? answer: four",
    "a tie means both answers are equally good",
    "good helpful correct answer",
    "bad wrong harmful answer",
    "[0] [1] [2] output (a) output (b)",
] * 20

REWARD_INIT = 0.2  # weights 10x the default spread: rewards of different texts differ by ~1, not ~0.01

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def _mark_random(directory: Path, kind: str) -> None:
    (Path(directory) / RANDOM_MARKER).write_text(
        json.dumps({"random": True, "model": kind, "by": "ray_jobs.tiny_models"})
    )


def _bert_parts(**config):
    """(tokenizer, config) of the tiny BERT; torch is seeded after the tokenizer, before any weights."""
    # heavy: torch, tokenizers and transformers, kept out of `judge --help`
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(
        CORPUS, trainers.WordPieceTrainer(vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    )
    tok.post_processor = processors.BertProcessing(
        ("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]"))
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    torch.manual_seed(0)  # the same tiny model in every test run
    config = BertConfig(
        vocab_size=fast.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        pad_token_id=fast.pad_token_id,
        **config,
    )
    return fast, config


def tiny_bert(directory: Path) -> Path:
    from transformers import BertForSequenceClassification  # heavy: kept out of `judge --help`

    fast, config = _bert_parts()
    BertForSequenceClassification(config).base_model.save_pretrained(directory)
    fast.save_pretrained(directory)
    _mark_random(directory, "tiny bert")
    return directory


def tiny_bert_reward(directory: Path) -> Path:
    """A BERT reward model (one label, no chat template): the form of OpenAssistant's DeBERTa reward models."""
    from transformers import BertForSequenceClassification  # heavy: kept out of `judge --help`

    fast, config = _bert_parts(num_labels=1, initializer_range=REWARD_INIT)
    BertForSequenceClassification(config).save_pretrained(directory)
    fast.save_pretrained(directory)
    _mark_random(directory, "tiny bert reward")
    return directory


def _llama_parts(max_positions: int, **config):
    """(tokenizer with a chat template, config) of the tiny Llama; torch is seeded before any weights."""
    import torch  # heavy: kept out of `judge --help`
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # heavy: kept out of `judge --help`
    from transformers import LlamaConfig, PreTrainedTokenizerFast  # heavy: kept out of `judge --help`

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    return fast, LlamaConfig(
        vocab_size=fast.vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        **config,
    )


def tiny_llama(directory: Path, max_positions: int = 512) -> Path:
    from transformers import LlamaForCausalLM  # heavy: kept out of `judge --help`

    fast, config = _llama_parts(max_positions)
    LlamaForCausalLM(config).save_pretrained(directory)
    fast.save_pretrained(directory)
    _mark_random(directory, "tiny llama")
    return directory


def tiny_llama_reward(directory: Path, num_labels: int = 1, max_positions: int = 512) -> Path:
    """A Llama reward model with a chat template: the form of Skywork-Reward-V2 (num_labels 1)."""
    from transformers import LlamaForSequenceClassification  # heavy: kept out of `judge --help`

    fast, config = _llama_parts(max_positions, num_labels=num_labels, initializer_range=REWARD_INIT)
    LlamaForSequenceClassification(config).save_pretrained(directory)
    fast.save_pretrained(directory)
    _mark_random(directory, "tiny llama reward")
    return directory


if __name__ == "__main__":
    import sys

    kind, out = sys.argv[1], Path(sys.argv[2])
    (tiny_llama(out, max_positions=2048) if kind == "llama" else tiny_bert(out))
    print(f"tiny {kind} written to {out}")
