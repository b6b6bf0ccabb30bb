"""Bad rows: a clear error naming file, row and field, or (skip) a counted skip. Fetching: checksums."""

import hashlib
import http.server
import json
import threading
from functools import partial

import pytest

from judge_core.data import BadRecordError, ModifiedDataError, data_root, load, locate
from judge_core.data._io import Remote, fetch, sha256_of


@pytest.fixture(autouse=True)
def toy_files_accepted(monkeypatch):
    """These tests write small files in place of pinned sources: modified data, accepted."""
    monkeypatch.setenv("JUDGE_ACCEPT_MODIFIED_DATA", "1")


def write_llmbar(root, rows):
    path = root / "llmbar" / "Natural" / "dataset.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(rows))
    return path


def write_autoj(root, lines):
    path = root / "autoj" / "testdata_pairwise.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = {"input": "q", "output_1": "a", "output_2": "b", "label": 1}
AUTOJ_GOOD = json.dumps({"scenario": "chitchat", "label": 2, "prompt": "hi", "response 1": "a", "response 2": "b"})


@pytest.mark.parametrize(
    "row, field, reason",
    [
        ({"input": "q", "output_1": "a", "label": 1}, "output_2", "missing field"),
        (GOOD | {"label": 3}, "label", "unknown label value 3"),
        (GOOD | {"label": "1"}, "label", "unknown label value '1'"),
        (GOOD | {"output_1": 5}, "output_1", "expected str"),
        (GOOD | {"input": ""}, "question", "question is empty"),
    ],
)
def test_bad_row_names_file_line_example_and_field(tmp_path, row, field, reason):
    path = write_llmbar(tmp_path, [GOOD, row, GOOD])  # one line of JSON: every record starts on line 1
    with pytest.raises(BadRecordError) as err:
        load("llmbar", "natural", root=tmp_path)
    assert (err.value.path, err.value.line, err.value.index, err.value.field) == (str(path), 1, 1, field)
    assert reason in str(err.value) and f"{path}, line 1 (example 1)" in str(err.value)


def test_skip_counts_bad_rows(tmp_path):
    write_llmbar(tmp_path, [GOOD, GOOD | {"label": 0}, "not an object", GOOD])
    examples, report = load("llmbar", "natural", root=tmp_path, on_bad_record="skip")
    assert [e.index for e in examples] == [0, 3]
    assert [e.index for e in report.skipped] == [1, 2]


def test_malformed_jsonl_line(tmp_path):
    path = write_autoj(tmp_path, [AUTOJ_GOOD, '{"scenario": "chitchat", "label": 0,', AUTOJ_GOOD])
    with pytest.raises(BadRecordError, match=r"line 2 \(example 1\): not valid JSON"):
        load("autoj", root=tmp_path)
    examples, report = load("autoj", root=tmp_path, on_bad_record="skip")
    assert [e.index for e in examples] == [0, 2] and len(report.skipped) == 1
    assert examples[0].label == 0  # Auto-J's 2 = tie
    assert str(path) in str(report.skipped[0])


def test_unknown_scenario_is_an_error(tmp_path):
    write_autoj(tmp_path, [AUTOJ_GOOD.replace("chitchat", "poetry_slam")])
    with pytest.raises(BadRecordError, match="scenario 'poetry_slam'"):
        load("autoj", root=tmp_path)


def test_arena_winner_must_be_one_hot(tmp_path):
    path = tmp_path / "lmsys_arena_kaggle" / "small_train.csv"
    path.parent.mkdir(parents=True)
    header = "id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n"
    path.write_text(
        header
        + '1,m1,m2,"[""q""]","[""a""]","[null]",1,0,0\n'
        + '2,m1,m2,"[""q""]","[""a""]","[""b""]",1,1,0\n'
        + '3,m1,m2,"not json","[""a""]","[""b""]",0,0,1\n'
    )
    examples, report = load("arena", "train", root=tmp_path, on_bad_record="skip")
    assert len(examples) == 1 and examples[0].answer2 == [""] and examples[0].label == 1
    assert [(e.line, e.index, e.field) for e in report.skipped] == [(3, 1, "winner_*"), (4, 2, "prompt")]


def test_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_DATA_DIR", str(tmp_path))
    assert data_root() == tmp_path
    assert data_root("/elsewhere").as_posix() == "/elsewhere"
    monkeypatch.delenv("JUDGE_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    assert data_root().as_posix() == "data"


def test_missing_file_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(
        FileNotFoundError,
        match=r"pandalm/test: pandalm/testset-v1.json not found.*raw.githubusercontent.com/WeOpenML/PandaLM/3871806e",
    ):
        locate("pandalm", "test", root=tmp_path)


@pytest.fixture
def http_dir(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_verifies_checksum(http_dir, tmp_path):
    served, url = http_dir
    body = json.dumps([GOOD, GOOD | {"label": 2}]).encode()
    (served / "d.json").write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    dest = tmp_path / "cache" / "d.json"
    assert fetch(Remote(f"{url}/d.json", digest), dest).read_bytes() == body
    (served / "d.json").write_bytes(b"changed")
    assert fetch(Remote(f"{url}/d.json", digest), dest).read_bytes() == body  # cached copy reused
    dest.unlink()
    with pytest.raises(ValueError, match="checksum mismatch"):
        fetch(Remote(f"{url}/d.json", digest), dest)
    assert not dest.exists() and not dest.with_name("d.json.part").exists()
    with pytest.raises(ValueError, match="no pinned sha256"):
        fetch(Remote(f"{url}/d.json"), dest)
    assert fetch(Remote(f"{url}/d.json"), dest, allow_unpinned=True).read_bytes() == b"changed"


def test_load_fetches_missing_source(http_dir, tmp_path, monkeypatch, shared_root):
    """The registry's real pinned remote for PandaLM, redirected to a local server holding the file."""
    from judge_core.data import registry

    served, url = http_dir
    real = (shared_root / "pandalm" / "testset-v1.json").read_bytes()
    (served / "testset-v1.json").write_bytes(real)
    spec = registry.SOURCES["pandalm"].subsets["test"]
    monkeypatch.setitem(
        registry.SOURCES["pandalm"].subsets,
        "test",
        registry.Subset(spec.path, Remote(f"{url}/testset-v1.json", spec.remote.sha256)),
    )
    monkeypatch.setenv("JUDGE_CACHE_DIR", str(tmp_path / "cache"))
    examples, _ = load("pandalm", root=tmp_path / "empty", fetch=True)
    assert len(examples) == 999
    assert (tmp_path / "cache" / "pandalm" / "testset-v1.json").read_bytes() == real


def test_errors_name_the_line_an_editor_shows(tmp_path):
    """1-based lines where the record starts, and the example's index, never a 0-based 'row'."""
    path = tmp_path / "llmbar" / "Natural" / "dataset.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps([GOOD, GOOD | {"label": 3}], indent=1))  # second record starts on line 8
    with pytest.raises(BadRecordError) as err:
        load("llmbar", "natural", root=tmp_path)
    assert (err.value.line, err.value.index) == (8, 1)
    assert f"{path}, line 8 (example 1), field 'label'" in str(err.value)
    path.write_text('[\n {"input": "q",\n  oops]')
    with pytest.raises(BadRecordError) as err:
        load("llmbar", "natural", root=tmp_path)
    assert "line 3" in str(err.value) and "row" not in str(err.value) and err.value.index is None


def test_jsonl_errors_count_lines_with_blank_ones(tmp_path):
    path = write_autoj(tmp_path, [AUTOJ_GOOD, "", '{"scenario": "chitchat", "label": 0,'])
    with pytest.raises(BadRecordError) as err:
        load("autoj", root=tmp_path)
    assert (err.value.line, err.value.index) == (3, 1) and f"{path}, line 3 (example 1)" in str(err.value)


def test_csv_errors_name_the_line_where_a_multi_line_record_starts(tmp_path):
    path = tmp_path / "lmsys_arena_kaggle" / "small_train.csv"
    path.parent.mkdir(parents=True)
    header = "id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n"
    path.write_text(
        header + '1,m1,m2,"[""q""\n\n]","[""a""]","[""b""]",1,0,0\n' + '2,m1,m2,"[""q""]","[""a""]","[""b""]",1,1,0\n'
    )
    with pytest.raises(BadRecordError) as err:
        load("arena", "train", root=tmp_path)
    assert (err.value.line, err.value.index) == (5, 1)  # the first record spans lines 2-4


def test_non_utf8_bytes_are_named_by_line_or_skipped(tmp_path):
    path = write_autoj(tmp_path, [AUTOJ_GOOD, AUTOJ_GOOD])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + lines[1].replace(b'"hi"', b'"h\xffi"') + lines[0])
    with pytest.raises(
        BadRecordError, match=r"testdata_pairwise.jsonl, line 2 \(example 1\): not valid UTF-8 \(byte 0xff\)"
    ):
        load("autoj", root=tmp_path)
    examples, report = load("autoj", root=tmp_path, on_bad_record="skip")
    assert [e.index for e in examples] == [0, 2] and [e.line for e in report.skipped] == [2]


def test_non_utf8_bytes_in_a_json_array_and_a_csv_are_named(tmp_path):
    path = write_llmbar(tmp_path, [GOOD, GOOD])
    path.write_bytes(path.read_bytes().replace(b'"q"', b'"\xfe"', 1).replace(b"}, {", b"},\n{"))
    examples, report = load("llmbar", "natural", root=tmp_path, on_bad_record="skip")
    assert [e.index for e in examples] == [1] and "not valid UTF-8 (byte 0xfe)" in str(report.skipped[0])
    csv = tmp_path / "lmsys_arena_kaggle" / "small_train.csv"
    csv.parent.mkdir(parents=True)
    header = b"id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n"
    row = b'1,a,b,"[""q""]","[""x""]","[""y""]",1,0,0\n'
    csv.write_bytes(header + row + row.replace(b"q", b"q\x80") + row)
    with pytest.raises(BadRecordError, match=r"small_train.csv, line 3 \(example 1\): not valid UTF-8 \(byte 0x80\)"):
        load("arena", "train", root=tmp_path)


@pytest.mark.parametrize("content", ["[]", "", "\n\n"])
def test_an_empty_benchmark_file_is_a_clear_error(tmp_path, content):
    path = write_llmbar(tmp_path, [])
    path.write_text(content)
    with pytest.raises(BadRecordError, match=r"holds no records|not valid JSON"):
        load("llmbar", "natural", root=tmp_path, on_bad_record="skip")
    autoj = write_autoj(tmp_path, [])
    autoj.write_text(content if content != "[]" else "")
    with pytest.raises(BadRecordError, match=r"testdata_pairwise.jsonl: the file holds no records \(empty\)"):
        load("autoj", root=tmp_path, on_bad_record="skip")


def test_a_modified_pinned_file_is_refused_naming_both_digests(tmp_path, shared_root, monkeypatch):
    monkeypatch.delenv("JUDGE_ACCEPT_MODIFIED_DATA")
    real = shared_root / "autoj" / "testdata_pairwise.jsonl"
    cut = tmp_path / "autoj" / "testdata_pairwise.jsonl"
    cut.parent.mkdir(parents=True)
    lines = real.read_bytes().splitlines(keepends=True)
    cut.write_bytes(b"".join(lines[: len(lines) // 2]))  # cut in half on a line boundary: every row still parses
    with pytest.raises(ModifiedDataError) as err:
        load("autoj", root=tmp_path)
    assert str(cut) in str(err.value) and sha256_of(cut) in str(err.value) and sha256_of(real) in str(err.value)
    assert "accept_modified_data=true" in str(err.value)
    examples, report = load("autoj", root=tmp_path, accept_modified=True)
    assert len(examples) == len(lines) // 2 and report.modified == {str(cut): sha256_of(cut)}
    assert load("autoj", root=shared_root)[1].modified == {}  # the real file matches its pin
