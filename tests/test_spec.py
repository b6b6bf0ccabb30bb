"""ray_jobs.spec and ray_jobs.config: typed engine options, the capability table, one override parser."""

from pathlib import Path

import pytest

from ray_jobs.batch import load_sweep
from ray_jobs.config import apply_overrides
from ray_jobs.finetune import load_config
from ray_jobs.spec import CAPABILITIES, EnsembleSpec, JudgeSpec, engines

ROOT = Path(__file__).resolve().parents[1]


def test_unknown_option_is_an_error_naming_it_and_the_allowed_ones():
    with pytest.raises(
        ValueError, match=r"unknown option 'max_model_lenn' for engine hf; its options: dtype, max_model_len"
    ):
        JudgeSpec(name="h", engine="hf", model="m", options={"max_model_lenn": 99})
    with pytest.raises(ValueError, match="unknown option 'max_model_lenn'"):
        load_sweep(ROOT / "configs/sweeps/quickstart-cpu.yaml", ["judges.4.options.max_model_lenn=99"])
    with pytest.raises(ValueError, match="option micro_batch: Input should be greater than or equal to 1"):
        JudgeSpec(name="h", engine="hf", model="m", options={"micro_batch": 0})


def test_options_are_typed_and_the_answer_length_has_one_name():
    assert JudgeSpec(name="h", engine="hf", model="m", options={"max_model_len": 2048}).opts.max_model_len == 2048
    assert JudgeSpec(name="h", engine="hf", model="m").opts.max_new_tokens == 512
    openai = JudgeSpec(name="o", engine="openai", model="m", options={"max_tokens": 8})  # the API's name, accepted
    assert openai.opts.max_new_tokens == 8 and openai.options == {"max_tokens": 8}  # as written: the cell hash keeps it
    assert JudgeSpec(name="o", engine="openai", model="m", options={"max_new_tokens": 9}).opts.max_new_tokens == 9
    with pytest.raises(ValueError, match="unknown option 'max_tokens' for engine vllm"):
        JudgeSpec(name="v", engine="vllm", model="m", options={"max_tokens": 8})
    with pytest.raises(ValueError, match="weights needs one non-negative weight per member"):
        EnsembleSpec(name="e", members=["a", "b"], weights=[1])
    with pytest.raises(ValueError, match="an ensemble is not an engine: list it under the sweep's `ensembles:`"):
        JudgeSpec(name="e", engine="ensemble", options={"members": ["a", "b"]})


def test_capability_table():
    assert "fake" in engines()  # the first question about engines imports the tests' plugin
    assert {k for k, c in CAPABILITIES.items() if c.generates} == {"hf", "vllm", "openai"}
    assert {k for k, c in CAPABILITIES.items() if c.prompted} == {"hf", "vllm", "openai", "fake"}  # fake: tests only
    assert EnsembleSpec(name="e", members=["a", "b"]).capability.averages_orders
    assert {k for k, c in CAPABILITIES.items() if c.scores_answers} == {"reward"}
    assert JudgeSpec(name="f", engine="baseline", model="features").probabilistic
    assert not JudgeSpec(name="l", engine="baseline", model="longer").probabilistic
    assert JudgeSpec(name="h", engine="hf", model="m", mode="label").probabilistic
    assert not JudgeSpec(name="h", engine="hf", model="m").probabilistic


def test_one_override_parser_for_every_verb():
    data = {"judges": [{"name": "a"}, {"name": "b", "options": {}}], "lora": {"rank": 8}}
    apply_overrides(data, ["judges.1.options.dtype=float32", "lora.rank=16", "new.key=[1, 2]", "limit=null"])
    assert data == {
        "judges": [{"name": "a"}, {"name": "b", "options": {"dtype": "float32"}}],
        "lora": {"rank": 16},
        "new": {"key": [1, 2]},
        "limit": None,
    }
    with pytest.raises(ValueError, match=r"judges is a list of 2; '5' is not an index in it"):
        apply_overrides(data, ["judges.5.batch_size=8"])
    with pytest.raises(ValueError, match="is not key=value"):
        apply_overrides(data, ["limit"])
    cfg = load_config(ROOT / "configs/finetune/minilm-cpu.yaml", ["lora.rank=4", "sources.0=train-llmeval2"])
    assert cfg.lora.rank == 4 and cfg.sources[0] == "train-llmeval2"  # finetune overrides reach into lists now


def test_the_fake_engine_exists_for_the_tests_only():
    """A user's process (no JUDGERAY_ENGINE_PLUGINS) knows the six engines; the tests' knows fake too."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "JUDGERAY_ENGINE_PLUGINS"}
    code = "from ray_jobs.spec import engines; print(','.join(engines()))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["hf,vllm,openai,classifier,reward,baseline"]
    assert "fake" in engines() and "ensemble" not in engines() and CAPABILITIES["ensemble"].builder is None
