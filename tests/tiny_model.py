"""Write a tiny random Llama chat model (with its own BPE tokenizer) for tests against a real vLLM.

    python tests/tiny_model.py OUT_DIR

Runs offline inside the vLLM environment (needs torch, transformers, tokenizers). The weights are
random, so what the model says means nothing: tests read log-probabilities and protocol behaviour.
Design constraints:
- head_dim = hidden_size / heads = 32: vLLM's CPU attention rejects head_dim 16 on the first request;
- answer labels ("A", "B", "1", "2", " A") are single tokens, as in real survey prompts;
- a chat template, so /v1/chat/completions works.
Adapted from ../shared/tools/vllm-cpu/build_tiny_model.py.
"""

from __future__ import annotations

import random
import string
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
VOCABULARY = (
    "the a of to and in is it that yes no agree disagree strongly somewhat neither important very "
    "not at all people country family work religion government trust survey question answer "
    "option choose one number scale user assistant system "
    "A B C D E F G H I J 0 1 2 3 4 5 6 7 8 9 10"
).split()
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def training_text(rng: random.Random, lines: int = 3000) -> str:
    sentences = (
        " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(3, 12))) + "." for _ in range(lines)
    )
    return "\n".join(sentences) + "\n" + string.printable


def build_tokenizer(text: str) -> PreTrainedTokenizerFast:
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=1000,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator([text], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|begin_of_text|>",
        eos_token="<|im_end|>",
        pad_token="<|pad|>",
        unk_token=None,
        model_max_length=512,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    torch.manual_seed(0)

    tokenizer = build_tokenizer(training_text(rng))
    for label in ["A", "B", "1", "2", " A"]:
        ids = tokenizer.encode(label, add_special_tokens=False)
        if len(ids) != 1:
            raise SystemExit(f"label {label!r} is {len(ids)} tokens, expected 1")
    tokenizer.save_pretrained(out)

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        num_attention_heads=4,  # head_dim 32
        num_key_value_heads=4,
        intermediate_size=256,
        num_hidden_layers=2,
        max_position_embeddings=512,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        torch_dtype="float32",
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
    print(f"tiny model ({len(tokenizer)} tokens, head_dim 32) written to {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python tests/tiny_model.py OUT_DIR")
    main(sys.argv[1])
