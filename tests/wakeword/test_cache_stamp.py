"""The wake-word cache follows the code that fills it (models/wakeword/stamp.py)."""

import os
import subprocess

from pocket_agent.models.wakeword import corpus, stamp

CODE = '''"""Module doc."""
def f(x):
    """Doc."""
    return x + 1  # why
'''


def test_digest_ignores_comments_and_docstrings_but_not_code():
    same = CODE.replace("Doc.", "Other words.").replace("# why", "# because")
    assert stamp.digest({"m": same}) == stamp.digest({"m": CODE})
    assert stamp.digest({"m": CODE.replace("x + 1", "x + 2")}) != stamp.digest({"m": CODE})
    assert stamp.digest({"n": CODE}) != stamp.digest({"m": CODE})


def _fill(d, target):
    (d / "pos_train.npz").write_bytes(b"old clips")
    (d / "notes.txt").write_text("kept")
    (d / "eval_speech.npz").symlink_to(target)


def test_data_made_by_other_code_is_removed(tmp_path):
    d, shared = tmp_path / "hey_pocket", tmp_path / "shared.npz"
    shared.write_bytes(b"shared clips")
    d.mkdir()
    _fill(d, shared)
    (d / stamp.STAMP_FILE).write_text("aaaa\n")
    said = []
    stamp.refresh(d, "bbbb", log=said.append)
    assert sorted(os.listdir(d)) == ["code-stamp.txt", "notes.txt"]
    assert shared.read_bytes() == b"shared clips"  # a link goes, not what it points to
    assert (d / stamp.STAMP_FILE).read_text() == "bbbb\n"
    assert "made by other code (aaaa, now bbbb)" in said[0] and "2 data files" in said[0]


def test_data_made_by_this_code_or_before_stamps_is_kept(tmp_path):
    shared = tmp_path / "shared.npz"
    shared.write_bytes(b"shared clips")
    for name, old in (("same", "cccc\n"), ("unstamped", None)):
        d = tmp_path / name
        d.mkdir()
        _fill(d, shared)
        if old:
            (d / stamp.STAMP_FILE).write_text(old)
        said = []
        stamp.refresh(d, "cccc", log=said.append)
        assert (d / "pos_train.npz").read_bytes() == b"old clips" and (d / "eval_speech.npz").exists()
        assert (d / stamp.STAMP_FILE).read_text() == "cccc\n" and said == []


def test_cache_dir_is_created_and_stamped_with_the_code(tmp_path):
    d = corpus.cache_dir("Hey Pocket", tmp_path)
    assert d == tmp_path / "hey_pocket" and d.is_dir()
    assert (d / stamp.STAMP_FILE).read_text().strip() == stamp.code_stamp()


def test_a_link_to_removed_shared_speech_is_made_again(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "_digest", lambda sentences: "abc")
    d = corpus.cache_dir("hey pocket", tmp_path)
    link = d / "eval_speech.npz"
    link.symlink_to(tmp_path / "shared" / "eval_speech_gone.npz")  # its file was removed
    shared = stamp.refresh(tmp_path / "shared") / "eval_speech_abc.npz"
    shared.write_bytes(b"speech")
    corpus.build("hey pocket", tmp_path, parts=[])
    assert link.resolve() == shared.resolve() and link.read_bytes() == b"speech"


def test_the_stamp_covers_the_engines_and_voices_as_installed():
    lines = dict(line.split("=", 1) for line in stamp.engines().splitlines())
    for name in ("espeak-ng", "festival", "flite", "festvox-kdlpc16k", "festvox-us-slt-hts", "numpy", "pyworld"):
        assert lines[name] not in ("", "missing"), name
    # what dpkg says of espeak-ng itself, not a fixed string
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "espeak-ng"], capture_output=True, text=True)
    assert lines["espeak-ng"] == out.stdout
    sources = {"m": CODE}
    assert stamp.digest(sources, extra="festival=1") != stamp.digest(sources, extra="festival=2")
    assert stamp.digest(sources, extra="festival=1") != stamp.digest(sources)
