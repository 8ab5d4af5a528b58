"""SubjectSpec (tools/subjects/spec.py): one parser for every way to name a subject, a canonical text
that reads back, room for a transform suffix, and one clear line for anything it cannot name."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tracr_agent.tools.errors import SubjectError, UserError
from tracr_agent.tools.subjects.spec import SubjectSpec, TransformSpec, parse_suite


def model_dir(path, name="m"):
    d = path / name
    d.mkdir(parents=True)
    (d / "model.json").write_text(json.dumps({"config": {}}))  # enough to be found; read_card is not called
    return d


@pytest.mark.parametrize("text,kind,ref", [
    ("reverse", "task", "reverse"),
    ("Sort", "task", "sort"),             # an alias or another spelling resolves to the zoo's id
    ("gen-7-2-13", "task", "gen-7-2-13"),  # a generated id is checked for form, not generated
    ("GEN-7-2-0", "task", "gen-7-2-0"),
])
def test_task_names(text, kind, ref):
    spec = SubjectSpec.parse(text)
    assert (spec.kind, spec.ref, spec.transform) == (kind, ref, None)
    assert SubjectSpec.parse(str(spec)) == spec


def test_model_directories_and_programs_are_named_by_absolute_paths(tmp_path, monkeypatch):
    d = model_dir(tmp_path / "suite")
    monkeypatch.chdir(tmp_path)
    for text in ("dir:suite", "dir:suite/m", f"dir:{d}"):
        spec = SubjectSpec.parse(text)
        assert (spec.kind, spec.ref) == ("model_dir", str(d)) and str(spec) == f"dir:{d}"
    assert SubjectSpec.from_options(model_dir="suite/m") == SubjectSpec(kind="model_dir", ref=str(d))
    prog = SubjectSpec.from_options(program="p.py:make")
    assert (prog.kind, prog.ref, prog.name) == ("program", f"{tmp_path / 'p.py'}:make", "make")
    assert SubjectSpec.parse(str(prog)) == prog


@pytest.mark.parametrize("text,transform", [
    ("reverse@rotated", TransformSpec(name="rotated")),
    ("reverse@rotated:3", TransformSpec(name="rotated", arg=3)),
    ("gen-1-1-0@compressed:6", TransformSpec(name="compressed", arg=6)),
])
def test_a_transform_suffix_is_parsed_into_its_field(text, transform):
    spec = SubjectSpec.parse(text)
    assert spec.transform == transform and spec.ref in ("reverse", "gen-1-1-0")
    assert str(spec) == text and SubjectSpec.parse(str(spec)) == spec


def test_a_directory_whose_name_holds_an_at_sign_is_not_a_transform(tmp_path):
    d = model_dir(tmp_path, "model@rotated")
    assert SubjectSpec.parse(f"dir:{d}") == SubjectSpec(kind="model_dir", ref=str(d))


@pytest.mark.parametrize("text,needle", [
    ("no_such_task", "unknown task 'no_such_task'"),
    ("gen-1-9-0", "unknown difficulty 9"),
    ("gen-1-x", "malformed generated task id"),
    ("reverse@twisted", "unknown transform 'twisted'"),
    ("reverse@rotated:x", "the subject 'reverse@rotated:x': rotated:SEED takes an integer SEED, got 'x'"),
    ("reverse@rotated:-2", "rotated:SEED takes a seed of 0 or more, got -2"),
    ("reverse@compressed:0", "compressed:D needs D of at least 1, got 0"),
    ("reverse@compressed:4:5", "compressed:D takes an integer D, got '4:5'"),
    ("reverse@rotate", "unknown transform 'rotate' (did you mean rotated?)"),
    ("@rotated", "name the subject before '@'"),
    ("reverse@rotated@compressed", "one transform per subject"),
    ("program:nocolon", "FILE.py:FUNCTION"),
    ("dir:", "needs a directory"),
    ("gen:1:1:2", "names a suite of generated tasks"),
    ("", "name a subject"),
])
def test_what_it_cannot_name_is_one_clear_line(text, needle):
    with pytest.raises(UserError) as e:
        SubjectSpec.parse(text)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_exactly_one_subject_is_named():
    for given in ({}, {"task": "reverse", "program": "p.py:f"}):
        with pytest.raises(SubjectError, match="name exactly one subject"):
            SubjectSpec.from_options(**given)


def test_a_suite_of_several_model_directories_is_refused_as_one_subject(tmp_path):
    model_dir(tmp_path, "a"), model_dir(tmp_path, "b")
    with pytest.raises(SubjectError, match=r"is a suite of 2 models \(a, b\)"):
        SubjectSpec.parse(f"dir:{tmp_path}")


def test_suites_for_eval(tmp_path):
    assert len(parse_suite("all")) >= 41
    gen = parse_suite("gen:3:1-2:2")
    assert [m.name for m in gen] == ["gen-3-1-0", "gen-3-1-1", "gen-3-2-0", "gen-3-2-1"]
    model_dir(tmp_path / "zoo", "a"), model_dir(tmp_path / "zoo", "b/c")
    with pytest.raises(SubjectError):  # every card is read before any episode: these are not model cards
        parse_suite(f"dir:{tmp_path / 'zoo'}")
    one = parse_suite("Reverse@rotated:2")
    # the name results show is the subject's; the transform has a column of its own (eval --transforms)
    assert [(m.name, m.suite, str(m.spec)) for m in one] == [("reverse", None, "reverse@rotated:2")]


def test_a_loaded_subject_names_its_spec():
    task = SimpleNamespace(kind="task", truth=SimpleNamespace(task_id="sort"), source="sort")
    program = SimpleNamespace(kind="program", truth=SimpleNamespace(task_id=None), source="/p.py:make")
    directory = SimpleNamespace(kind="model_dir", truth=SimpleNamespace(task_id=None), source="/models/rev")
    assert [str(SubjectSpec.of(s)) for s in (task, program, directory)] == \
        ["sort", "program:/p.py:make", "dir:/models/rev"]


def test_every_kind_of_subject_takes_a_transform_suffix(tmp_path, monkeypatch):
    """Zoo ids, generated ids, dir:PATH, --model-dir and --program: the suffix is the transform, the rest
    the subject; the canonical text reads back. A path that itself holds an '@' stays a path."""
    d = model_dir(tmp_path / "suite")
    prog = tmp_path / "p.py"
    prog.write_text("def make():\n    pass\n")
    monkeypatch.chdir(tmp_path)
    rotated3 = TransformSpec(name="rotated", arg=3)
    for spec in (SubjectSpec.parse(f"dir:{d}@rotated:3"), SubjectSpec.from_options(model_dir=f"suite/m@rotated:3"),
                 SubjectSpec.from_options(program="p.py:make@rotated:3"), SubjectSpec.parse("gen-1-2-0@rotated:3")):
        assert spec.transform == rotated3 and "@" not in spec.ref
        assert SubjectSpec.parse(str(spec)) == spec and str(spec).endswith("@rotated:3")
        assert spec.without_transform().transform is None
    odd = model_dir(tmp_path, "odd@rotated")
    assert SubjectSpec.from_options(model_dir=str(odd)).transform is None
    assert SubjectSpec.parse(f"dir:{odd}@compressed").transform == TransformSpec(name="compressed")
    with pytest.raises(SubjectError, match="--model-dir 'nowhere@twisted': unknown transform"):
        SubjectSpec.from_options(model_dir="nowhere@twisted")


def test_a_second_transform_is_refused():
    spec = SubjectSpec.parse("reverse@rotated")
    with pytest.raises(SubjectError, match="already names a transform"):
        spec.with_transform(TransformSpec(name="compressed"))
    assert spec.with_transform(None) == spec
