"""Released judgments of a real judge reproduce its published numbers to the printed precision.

GPT-4 with LLMBar's Vanilla prompt on LLMBar Adversarial/GPTOut, as released by the LLMBar authors
(princeton-nlp/LLMBar @ caa7bee7, MIT licence):
Dataset/LLMBar/Adversarial/GPTOut/evaluators/GPT-4/Vanilla/result.json gives, per instance, the
"winner" of "swap = False" and of "swap = True" (already mapped back to the original order);
statistics.json beside it publishes correct_False "35 / 47", correct_True "38 / 47",
correct_average "77.6595744680851%" and equal "44 / 47 = 93.61702127659575%". The 47 x 2 winners
below were transcribed from result.json, with the labels it carries as a cross-check of our loader.
"""

import json

import pytest

from judge_core.data import load
from judge_core.scoring import score

WINNER_AB = "21122221211111212112222211221111111211112112211"  # swap = False
WINNER_BA = "21122221211111212112222211221111212211112112111"  # swap = True
LABELS = "22122222211211212112212221222111212212111112112"


def test_llmbar_gpt4_vanilla_gptout_reproduces_published_statistics(tmp_path, shared_root):
    examples, _ = load("llmbar", "gptout", root=shared_root)
    assert "".join(str(e.label) for e in examples) == LABELS
    rows = [
        {"index": i, "order": order, "verdict": int(w)}
        for order, winners in (("ab", WINNER_AB), ("ba", WINNER_BA))
        for i, w in enumerate(winners)
    ]
    path = tmp_path / "gpt4_vanilla.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = score("llmbar", path, subset="gptout", template="llmbar", root=shared_root, bootstrap=0)
    assert (round(47 * r["accuracy_ab"]), round(47 * r["accuracy_ba"])) == (35, 38)
    assert f"{100 * r['accuracy']}%" == "77.6595744680851%"
    assert 100 * r["agreement"] == pytest.approx(93.61702127659575, abs=1e-12)
    assert r["both_correct"] == pytest.approx(35 / 47)  # published correct_both "35 / 47"
