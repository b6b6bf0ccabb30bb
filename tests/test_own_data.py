"""Your own data: a mapped file wherever a benchmark name goes, its bad inputs named, its scores exact."""

import json
import random

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judge_core.data import BadRecordError, FileDataset, load, register
from judge_core.data.files import dataset_arg

PAIR_COLUMNS = {"question": "prompt", "answer1": "a", "answer2": "b"}
WINNER = {"column": "winner", "map": {"model_a": 1, "model_b": 2, "tie": 0}}


def ultrafeedback(shared_root) -> pd.DataFrame:
    """UltraFeedback's 200 eval pairs with the positions shuffled (seeded per row) and the winner named
    as Arena does (tie where both GPT-4 scores are equal)."""
    rows = []
    for i, r in enumerate(map(json.loads, (shared_root / "train/ultrafeedback_sample/eval_clean.jsonl").open())):
        swap = random.Random(i).random() < 0.5
        a, b = (r["rejected"], r["chosen"]) if swap else (r["chosen"], r["rejected"])
        tie = r["metadata"]["score_chosen"] == r["metadata"]["score_rejected"]
        rows.append(
            {
                "rid": f"uf-{i}",
                "prompt": r["prompt"],
                "a": a,
                "b": b,
                "winner": "tie" if tie else "model_b" if swap else "model_a",
            }
        )
    return pd.DataFrame(rows)


def longer_accuracy(df: pd.DataFrame) -> float:
    """What the `longer` judge must score, computed from the file by pandas."""
    la, lb = df["a"].str.len(), df["b"].str.len()
    said = (la > lb).map({True: "model_a", False: "model_b"}).where(la != lb, "tie")
    return float((said == df["winner"]).mean())


@pytest.fixture(scope="module")
def uf_parquet(shared_root, tmp_path_factory):
    path = tmp_path_factory.mktemp("own") / "prefs.parquet"
    ultrafeedback(shared_root).to_parquet(path, row_group_size=64)
    return path


# ---- reading and bad input (no Ray) ------------------------------------------------------------------
def test_a_parquet_file_maps_onto_examples(uf_parquet, shared_root):
    register(FileDataset(name="mine", path=str(uf_parquet), columns=PAIR_COLUMNS | {"id": "rid"}, label=WINNER))
    examples, report = load("mine")
    df = ultrafeedback(shared_root)
    assert len(examples) == 200 and not report.skipped
    assert [e.label for e in examples] == df["winner"].map({"model_a": 1, "model_b": 2, "tie": 0}).tolist()
    assert examples[7].answer1 == df["a"][7] and examples[7].meta == {"id": "uf-7"} and examples[7].uid == "mine/all/7"
    assert sum(e.label == 0 for e in examples) == 25  # the data README: 25 equal-score pairs in eval_clean


def test_chosen_rejected_jsonl_with_a_constant_label_and_guessed_columns(shared_root):
    ds = dataset_arg(str(shared_root / "train/ultrafeedback_sample/eval_clean.jsonl"))
    assert ds.columns == {"question": "prompt", "answer1": "chosen", "answer2": "rejected"} and ds.label == 1
    register(ds)
    examples, _ = load(ds.name)
    assert len(examples) == 200 and {e.label for e in examples} == {1}


def test_chat_messages_make_the_question_and_the_answers(tmp_path):
    path = tmp_path / "chat.jsonl"
    chosen = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    rejected = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"}]
    path.write_text(json.dumps({"chosen": chosen, "rejected": rejected}) + "\n")
    register(FileDataset(name="chat", path=str(path), columns={"answer1": "chosen", "answer2": "rejected"}, label=1))
    (ex,), _ = load("chat")
    assert (ex.question, ex.answer1, ex.answer2) == ("2+2?", "4", "5")


def _jsonl(tmp_path, rows: list, raw_line7: bytes | None = None):
    lines = [json.dumps(r).encode() for r in rows]
    if raw_line7 is not None:
        lines[6] = raw_line7
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


GOOD = {"prompt": "q", "a": "x", "b": "yy", "winner": "model_a"}


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"prompt": "q", "a": "x", "winner": "model_a"}, "line 7 (example 6), field 'b': missing column (the answer2)"),
        (GOOD | {"winner": "model_c"}, "line 7 (example 6), field 'winner': unmapped label value 'model_c'"),
        (GOOD | {"prompt": "  "}, "line 7 (example 6), field 'prompt': empty text"),
        (GOOD | {"a": None}, "line 7 (example 6), field 'a': empty value (null) for the answer1"),
        (GOOD | {"a": 3}, "line 7 (example 6), field 'a': expected text, turns or chat messages, got int"),
    ],
)
def test_each_bad_row_is_named_by_file_line_and_column(tmp_path, bad, where):
    path = _jsonl(tmp_path, [GOOD] * 6 + [bad] + [GOOD] * 3)
    register(FileDataset(name="bad", path=str(path), columns=PAIR_COLUMNS, label=WINNER))
    with pytest.raises(BadRecordError) as err:
        load("bad")
    assert str(err.value) == f"{path}, {where}" or str(err.value).startswith(f"{path}, {where}")
    examples, report = load("bad", on_bad_record="skip")  # skipped, counted, named
    assert len(examples) == 9 and [e.line for e in report.skipped] == [7]


def test_a_byte_that_is_not_utf8_is_named_with_its_line(tmp_path):
    path = _jsonl(tmp_path, [GOOD] * 10, raw_line7=b'{"prompt": "q\xff", "a": "x", "b": "y", "winner": "tie"}')
    register(FileDataset(name="bad", path=str(path), columns=PAIR_COLUMNS, label=WINNER))
    with pytest.raises(BadRecordError, match=r"bad.jsonl, line 7 \(example 6\): not valid UTF-8 \(byte 0xff\)"):
        load("bad")


def test_a_parquet_row_is_named_by_its_row_number(tmp_path):
    rows = [GOOD] * 4 + [GOOD | {"b": ""}] + [GOOD]
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    register(FileDataset(name="badpq", path=str(path), columns=PAIR_COLUMNS, label=WINNER))
    with pytest.raises(BadRecordError, match=r"bad.parquet, row 5 \(example 4\), field 'b': empty text"):
        load("badpq")


def test_config_mistakes_are_refused_before_any_reading(tmp_path):
    with pytest.raises(ValueError, match="give one of path or hf"):
        FileDataset(name="x")
    with pytest.raises(ValueError, match=r"columns has \['answer'\]; a pairwise dataset maps"):
        FileDataset(name="x", path="x.jsonl", columns={"answer": "out"})
    with pytest.raises(ValueError, match="registered benchmark's name"):
        register(FileDataset(name="pandalm", path="x.jsonl"))
    with pytest.raises(ValueError, match="cannot tell the format"):
        FileDataset(name="x", path=str(tmp_path / "x.txt")).file_format  # noqa: B018
    with pytest.raises(FileNotFoundError, match="no such file"):
        FileDataset(name="x", path=str(tmp_path / "gone.jsonl")).read()


def test_a_datasets_directory_and_a_file_uri_read_the_same(uf_parquet, tmp_path):
    import datasets

    datasets.Dataset.from_parquet(str(uf_parquet)).save_to_disk(str(tmp_path / "hf"))
    register(FileDataset(name="viahf", hf=str(tmp_path / "hf"), columns=PAIR_COLUMNS, label=WINNER))
    register(FileDataset(name="viauri", path=f"file://{uf_parquet}", columns=PAIR_COLUMNS, label=WINNER))
    a, b = load("viahf")[0], load("viauri")[0]
    assert [(e.question, e.answer1, e.label) for e in a] == [(e.question, e.answer1, e.label) for e in b]
    assert len(a) == 200


def test_an_edited_file_changes_the_cells_hash(tmp_path):
    from ray_jobs.spec import JudgeSpec
    from ray_jobs.store import Cell

    path = _jsonl(tmp_path, [GOOD] * 10)
    register(FileDataset(name="edited", path=str(path), columns=PAIR_COLUMNS, label=WINNER))

    def digest():
        cell = Cell(JudgeSpec(name="longer", engine="baseline", model="longer"), None, "edited", "all")
        cell.loaded = load("edited")[0]
        return cell.config_hash()

    before = digest()
    path.write_text(path.read_text().replace('"yy"', '"zz"', 1))
    assert digest() != before


def test_pairwise_protocol_counts_every_order_and_ties_as_a_class():
    from judge_core.protocols import ProtocolRecord, evaluate

    recs = [
        ProtocolRecord(gold=1, ab=1, ba=1, has_ab=True, has_ba=True),
        ProtocolRecord(gold=2, ab=1, ba=2, has_ab=True, has_ba=True),
        ProtocolRecord(gold=0, ab=0, ba=None, has_ab=True, has_ba=True),
        ProtocolRecord(gold=1, ab=2, ba=1, has_ab=True, has_ba=True),
    ]
    r = evaluate("pairwise", recs, bootstrap=0)
    assert r["accuracy"] == pytest.approx(5 / 8) and r["accuracy_ab"] == 0.5 and r["accuracy_ba"] == 0.75
    assert r["parse_failures"] == 1 and r["consistency"] == 0.25
    assert r["prefer_first"] == 0.25 and r["prefer_second"] == 0.25
    # macro F1 over {0, 1, 2}, both orders pooled, by hand: class 1 P 3/4 R 3/4; class 2 P 1/2 R 1/2; tie P 1 R 1/2
    f1 = (0.75 + 0.5 + 2 * 1 * 0.5 / 1.5) / 3
    assert r["f1"] == pytest.approx(f1)
    constant = [ProtocolRecord(gold=1, ab=1, has_ab=True), ProtocolRecord(gold=1, ab=2, has_ab=True)]
    assert evaluate("pairwise", constant, bootstrap=0)["f1"] is None  # one gold class: no macro F1


# ---- in a sweep ----------------------------------------------------------------------------------------
def test_a_sweep_judges_a_mapped_parquet_next_to_a_benchmark(ray_local, tmp_path, uf_parquet, shared_root):
    """The `longer` judge's accuracy on the file equals what pandas computes from it, next to LLMBar."""
    from ray_jobs.batch import SweepConfig, run_sweep

    mine = {"name": "mine", "path": str(uf_parquet), "columns": PAIR_COLUMNS | {"id": "rid"}, "label": WINNER}
    cfg = SweepConfig.model_validate(
        {
            "name": "own",
            "output_dir": str(tmp_path),
            "root": str(shared_root),
            "bootstrap": 200,
            "benchmarks": ["llmbar/manual", mine],
            "judges": [{"name": "longer", "engine": "baseline", "model": "longer"}],
        }
    )
    status = run_sweep(cfg, log=lambda *_: None)
    assert {k: str(s) for k, s in status.items()} == {"longer/-/llmbar-manual": "ok", "longer/-/mine-all": "ok"}
    metrics = json.loads((tmp_path / "own/longer/-/mine-all/metrics.json").read_text())
    result = metrics["result"]
    assert result["protocol"] == "pairwise" and result["n"] == 200
    assert result["accuracy"] == pytest.approx(longer_accuracy(ultrafeedback(shared_root)), abs=1e-12)
    assert result["consistency"] == 1.0 and result["prefer_first"] == 0.0  # length knows no position
    report = (tmp_path / "own" / "report.md").read_text()
    assert "## mine/all" in report and "## llmbar/manual" in report and "Protocol `pairwise`" in report


def test_unlabelled_data_is_judged_and_described_not_scored(ray_local, tmp_path, uf_parquet, shared_root):
    from ray_jobs.batch import SweepConfig, run_sweep

    plain = {"name": "plain", "path": str(uf_parquet), "columns": PAIR_COLUMNS}
    cfg = SweepConfig.model_validate(
        {
            "name": "plain",
            "output_dir": str(tmp_path),
            "bootstrap": 0,
            "benchmarks": [plain],
            "judges": [
                {"name": "longer", "engine": "baseline", "model": "longer"},
                {"name": "first", "engine": "fake", "options": {"rule": "first"}},
                {"name": "fakelonger", "engine": "fake", "options": {"rule": "longer"}},
            ],
        }
    )
    status = run_sweep(cfg, log=lambda *_: None)
    assert {s.state for s in status.values()} == {"ok"}
    longer = json.loads((tmp_path / "plain/longer/-/plain-all/metrics.json").read_text())
    first = json.loads((tmp_path / "plain/first/label/plain-all/metrics.json").read_text())
    assert "result" not in longer and longer["unlabelled"]["n"] == 200
    df = ultrafeedback(shared_root)
    assert longer["unlabelled"]["verdicts"]["1"] == pytest.approx(float((df["a"].str.len() > df["b"].str.len()).mean()))
    assert first["unlabelled"]["prefer_first"] == 1.0 and first["unlabelled"]["consistency"] == 0.0
    report = (tmp_path / "plain" / "report.md").read_text()
    assert "## plain-all (unlabelled)" in report
    # kappa from the stored verdicts: the same rule agrees fully; a judge that always ties agrees by chance only
    assert (
        "| fakelonger / label | longer | 200 | 1.0000 |" in report
        and "| first / label | longer | 200 | 0.0000 |" in report
    )


# ---- the command line ----------------------------------------------------------------------------------
def test_data_inspect_shows_mapping_counts_bad_rows_and_the_prompt(shared_root, capsys):
    from ray_jobs.cli import main

    spec = (
        "{name: ll, path: %s, columns: {question: query, answer1: response1, answer2: response2}, "
        "label: {column: human, map: {model1: 1, model2: 2, TIE: 0}}}"
        % (shared_root / "train/llmeval2/LLMEval2_benchmark.json")
    )
    assert main(["data", "inspect", spec, "--rows", "1"]) == 0
    out = capsys.readouterr().out
    # the data README: 1,050 / 1,021 / 482 in all; the 275 mt-bench rows have no query, 13 rows an empty response
    assert "rows: 2265 (288 bad rows skipped)  1:976 2:946 tie:343" in out
    assert "LLMEval2_benchmark.json, line 4 (example 3), field 'query': empty text" in out
    assert "--- ll/all/0 (label 0), as template label shows it in order ab:" in out and "[user] [Question]" in out


def test_a_failed_cell_says_why_in_one_line(ray_local, tmp_path, shared_root, capsys):
    """A benchmark file with a byte that is not UTF-8 on line 7: the summary names the line, not just the cell."""
    from ray_jobs.cli import main

    lines = (shared_root / "autoj/testdata_pairwise.jsonl").read_bytes().split(b"\n")
    lines[6] = lines[6].replace(b"the", b"th\xffe", 1)
    (tmp_path / "autoj").mkdir()
    (tmp_path / "autoj/testdata_pairwise.jsonl").write_bytes(b"\n".join(lines))
    code = main(
        [
            "judge",
            "--engine",
            "baseline",
            "--model",
            "longer",
            "--benchmark",
            "autoj",
            "--root",
            str(tmp_path),
            "--accept-modified-data",
            "--out",
            str(tmp_path / "res"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "[failed] longer/-/autoj-test: BadRecordError: " in out
    assert "testdata_pairwise.jsonl, line 7 (example 6): not valid UTF-8 (byte 0xff)" in out


def test_judge_judge_takes_a_data_file(ray_local, tmp_path, shared_root, capsys):
    from ray_jobs.cli import main

    path = shared_root / "train/ultrafeedback_sample/eval_clean.jsonl"
    assert (
        main(
            [
                "judge",
                "--engine",
                "baseline",
                "--model",
                "longer",
                "--benchmark",
                str(path),
                "--out",
                str(tmp_path / "res"),
                "--orders",
                "ab",
            ]
        )
        == 0
    )
    assert "1 of 1 cells ok" in capsys.readouterr().out
    rows = [json.loads(line) for line in path.open()]
    metrics = json.loads((tmp_path / "res/longer/-/eval_clean-all/metrics.json").read_text())
    assert metrics["result"]["accuracy"] == pytest.approx(
        sum(len(r["chosen"]) > len(r["rejected"]) for r in rows) / 200
    )


def test_a_pointwise_file_gives_scored_answers_and_names_a_score_off_its_scale(tmp_path):
    rows = [{"q": "2+2?", "out": "4", "rating": 9}, {"q": "capital of France?", "out": "Lyon", "rating": 2}]
    path = tmp_path / "points.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    spec = {
        "name": "points",
        "path": str(path),
        "kind": "pointwise",
        "scale": (1, 10),
        "columns": {"question": "q", "answer": "out", "score": "rating"},
    }
    register(FileDataset(**spec))
    examples, _ = load("points")
    assert [(e.question, e.answer, e.score) for e in examples] == [
        ("2+2?", "4", 9.0),
        ("capital of France?", "Lyon", 2.0),
    ]
    register(FileDataset(**spec | {"scale": (1, 5)}))
    with pytest.raises(BadRecordError, match=r"points.csv, line 2 \(example 0\).*score 9.0 outside scale \(1.0, 5.0\)"):
        load("points")


def test_shuffled_positions_give_a_constant_label_two_classes(shared_root):
    path = shared_root / "train/ultrafeedback_sample/eval_clean.jsonl"
    columns = {"question": "prompt", "answer1": "chosen", "answer2": "rejected"}
    register(FileDataset(name="fixed", path=str(path), columns=columns, label=1))
    register(FileDataset(name="shuffled", path=str(path), columns=columns, label=1, shuffle_positions=True))
    fixed, shuffled = load("fixed")[0], load("shuffled")[0]
    swapped = [e.label == 2 for e in shuffled]
    assert 80 < sum(swapped) < 120 and swapped == [random.Random(i).random() < 0.5 for i in range(200)]
    for f, s in zip(fixed, shuffled):  # the same pair, the chosen answer where the label says
        assert (s.answer1, s.answer2) == ((f.answer1, f.answer2) if s.label == 1 else (f.answer2, f.answer1))
