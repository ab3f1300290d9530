"""``purge``: erasure everywhere, on real SQLite files (and PostgreSQL in test_purge_postgres).

The byte test writes records with unique random words into every place content can reach
(records, updates in the log, checkpoints, an ``as_of`` replica, the embedding cache, the hot
tier, the FTS5 index, the vector index file), purges them, then reads every byte of every file
under the database's folder and the cache folder and finds none of the words, in UTF-8,
UTF-16 or JSON-escaped form.
"""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from memoryspace import (
    CachedEmbedder,
    EmbeddingCache,
    Filter,
    HashingEmbedder,
    InvalidInput,
    MemorySpace,
    NotFound,
    Op,
    PurgeReport,
    Settings,
)
from store_contract import FakeClock


def _word(rng: random.Random, accent: bool = False) -> str:
    letters = "".join(rng.choice(string.ascii_lowercase) for _ in range(11))
    return "zq" + letters + ("ø" if accent else "")


def _forms(word: str) -> list[bytes]:
    """Every encoding a word could hide in: UTF-8, UTF-16 (both orders), JSON-escaped."""
    escaped = json.dumps(word)[1:-1]  # non-ASCII as \\uXXXX
    return [
        word.encode("utf-8"),
        word.encode("utf-16-le"),
        word.encode("utf-16-be"),
        escaped.encode("ascii"),
        word[:9].encode("utf-8"),  # a stem or a prefix (FTS5 stores porter stems)
    ]


def _files(*folders: Path) -> list[Path]:
    return [f for folder in folders for f in sorted(folder.rglob("*")) if f.is_file()]


def _found(words: list[str], *folders: Path) -> list[tuple[str, str]]:
    hits = []
    for file in _files(*folders):
        data = file.read_bytes()
        for word in words:
            if any(form in data for form in _forms(word)):
                hits.append((file.name, word))
    return hits


def _open(db: Path, cache: Path, **settings: object) -> MemorySpace:
    embedder = CachedEmbedder(HashingEmbedder(), EmbeddingCache(cache / "embeddings.sqlite"))
    return MemorySpace.open(db, embedder=embedder, settings=Settings(**settings))  # type: ignore[arg-type]


def test_purged_words_are_in_no_byte_of_any_file(tmp_path: Path) -> None:
    rng = random.Random(11)
    folder, cache = tmp_path / "db", tmp_path / "cache"
    folder.mkdir()
    db = folder / "memory.db"
    secret = [_word(rng, accent=i % 3 == 0) for i in range(24)]
    kept = [_word(rng) for _ in range(6)]
    with _open(db, cache, hot_tier_records=50) as ms:
        keep_ids = [
            ms.add(f"bob keeps {word} safe", user="bob", session="s1").id for word in kept[:4]
        ]
        ana = []
        for i in range(8):
            words = secret[3 * i : 3 * i + 3]
            ana.append(ms.add(f"ana said {words[0]}", user="ana", session="s1"))
            if i % 2 == 0:  # history with updates
                ms.update(ana[-1].id, content=f"ana said {words[0]} and {words[1]}")
            if i == 3:
                ms.checkpoint("middle")
        deleted = ms.add(f"ana once wrote {secret[2]} {secret[5]}", user="ana")
        ms.delete(deleted.id)  # deleted before the purge: found through the log
        ms.update(ana[1].id, tags=[secret[-1]], meta={"note": secret[-2]})
        ms.checkpoint("late")
        keep_ids.append(ms.add(f"bob adds {kept[4]} later", user="bob", session="s1").id)
        ms.update(keep_ids[0], content=f"bob keeps {kept[0]} and {kept[5]} safe")
        old_lsn = ms.lsn
        past = ms.as_of(old_lsn - 1)  # an as_of materialisation of the content
        assert past.store.count(Filter(user="ana")) == 8
        past.close()
        for hit in ms.search(f"ana said {secret[0]}", user="ana", k=3):
            assert hit.memory.user == "ana"  # pages the hot tier in
        kept_before = {
            id: (ms.get(id), ms.history(id), ms.backing.vectors([ms.backing.key_of(id)]))
            for id in keep_ids
        }
        assert _found(secret, folder, cache), "the words were written somewhere to begin with"

        report = ms.purge(user="ana", actor="dpo")

        assert set(report.ids) == {m.id for m in ana} | {deleted.id}
        assert report.records == 8
        assert report.log_entries == 8 + 4 + 1 + 2  # adds, updates, tags, the deleted one's two
        assert set(report.checkpoints_rewritten) == {"middle", "late"}
        assert report.checkpoints_dropped == ()
        assert report.wal_truncated is True
        assert report.embedding_cache_entries > 0
        assert report.hot_tier_evicted >= 1
        for id, (memory, history, vectors) in kept_before.items():
            now = ms.get(id)
            assert now.content_state() == memory.content_state()
            assert ms.history(id) == history
            key = ms.backing.key_of(id)
            assert np.array_equal(ms.backing.vectors([key])[key], next(iter(vectors.values())))
        past = ms.as_of(old_lsn - 1)
        assert past.store.count(Filter(user="ana")) == 0
        assert past.store.count(Filter(user="bob")) == 5
        past.close()
        assert ms.search(f"ana said {secret[0]}", k=5) == [] or all(
            h.memory.user == "bob" for h in ms.search(f"ana said {secret[0]}", k=5)
        )
    assert _found(secret, folder, cache) == []
    assert all(_found([word], folder) for word in kept[:5])  # the unrelated ones are still there
    with _open(db, cache) as ms:  # a reopen works; time travel before the purge works
        assert ms.store.count(Filter(user="bob")) == 5
        for checkpoint in ms.checkpoints():
            assert checkpoint.damaged is None
            with ms.as_of(checkpoint.lsn) as past:
                assert past.store.count(Filter(user="ana")) == 0
                assert past.store.count(Filter(user="bob")) >= 4
        hits = ms.search(f"bob keeps {kept[1]}", user="bob", k=1)
        assert hits[0].memory.id == keep_ids[1]


def test_the_log_keeps_a_tombstone_per_entry_and_a_purge_entry(tmp_path: Path) -> None:
    clock = FakeClock(1_000.0, step=1.0)
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing", clock=clock) as ms:
        memory = ms.add("ana's passport is in the blue folder", user="ana")
        ms.update(memory.id, content="ana's passport is in the red folder", actor="app")
        before = ms.history(memory.id)
        report = ms.purge(memory.id, actor="dpo")
        history = ms.history(memory.id)
        assert [(c.lsn, c.time, c.op, c.id, c.actor) for c in history[:2]] == [
            (c.lsn, c.time, c.op, c.id, c.actor) for c in before
        ]
        assert all(c.before is None and c.after is None for c in history)
        assert history[-1].op is Op.PURGE and history[-1].actor == "dpo"
        assert history[-1].lsn == report.lsn == ms.lsn
        assert all(c.before is None and c.after is None for c in ms.changes())
        with pytest.raises(NotFound):
            ms.get(memory.id)
        # a restore to before the purge does not bring it back: it never existed
        ms.restore(None, to_lsn=before[-1].lsn)
        with pytest.raises(NotFound):
            ms.get(memory.id)


def test_a_purge_must_name_what_it_erases(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
        ms.add("something", user="ana")
        with pytest.raises(InvalidInput, match="user="):
            ms.purge()
        with pytest.raises(InvalidInput, match="every memory"):
            ms.purge(filter={"include_archived": True})
        with pytest.raises(InvalidInput, match="filter must be"):
            ms.purge(filter="ana")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            ms.purge(user=3)  # type: ignore[arg-type]
        with pytest.raises(NotFound):
            ms.purge("no-such-id")
        assert ms.store.count() == 1


def test_a_filter_narrows_the_purge_to_live_records(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
        fact = ms.add("ana is allergic to nuts", user="ana", kind="fact")
        turn = ms.add("hi there", user="ana", kind="turn")
        other = ms.add("bob is allergic to cats", user="bob", kind="fact")
        preview = ms.purge(user="ana", filter={"kind": "fact"}, dry_run=True)
        assert preview.ids == (fact.id,) and preview.records == 0
        assert ms.get(fact.id).content == fact.content  # a dry run erases nothing
        report = ms.purge(user="ana", filter={"kind": "fact"})
        assert report.ids == (fact.id,)
        assert ms.get(turn.id).content == "hi there"
        assert ms.get(other.id).content == other.content


def test_purge_by_id_reaches_a_record_deleted_earlier(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
        gone = ms.add("the old address was 12 elm street", user="ana")
        ms.delete(gone.id)
        assert ms.history(gone.id)[0].after is not None
        report = ms.purge([gone.id])
        assert report.ids == (gone.id,) and report.records == 0 and report.log_entries == 2
        assert [c.op for c in ms.history(gone.id)] == [Op.ADD, Op.DELETE, Op.PURGE]
        again = ms.purge([gone.id])  # erased already: nothing to do, nothing logged
        assert again.ids == () and again.lsn == 0 and len(ms.history(gone.id)) == 3
        assert ms.purge(user="nobody") == PurgeReport()


def test_a_damaged_checkpoint_is_dropped_and_said_so(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
        ms.add("ana likes zqsecretword", user="ana")
        ms.checkpoint("broken")
        path = Path(ms.checkpoints()[0].path or "")
        path.write_bytes(path.read_bytes()[:4096])  # truncated
        report = ms.purge(user="ana")
        assert [name for name, _ in report.checkpoints_dropped] == ["broken"]
        assert "damaged" in report.checkpoints_dropped[0][1]
        assert not path.exists() and ms.checkpoints() == []


def _states(ms: MemorySpace) -> dict[int, dict[str, dict[str, object]]]:
    out = {}
    for lsn in range(ms.lsn + 1):
        with ms.as_of(lsn) as past:
            out[lsn] = {
                m.id: m.content_state() for m in past.store.scan(Filter(include_archived=True))
            }
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_past_state_is_the_old_one_without_the_purged_records(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    clock = FakeClock(1_000.0, step=0.5)
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing", clock=clock) as ms:
        ids: list[str] = []
        for step in range(30):
            roll = rng.random()
            live = [i for i in ids if ms.store.count() and _exists(ms, i)]
            if roll < 0.5 or not live:
                user = rng.choice(["ana", "bob", "cy"])
                ids.append(ms.add(f"{user} note {step} {_word(rng)}", user=user, session="s").id)
            elif roll < 0.8:
                ms.update(rng.choice(live), content=f"edited {step} {_word(rng)}")
            elif roll < 0.9:
                ms.delete(rng.choice(live))
            else:
                ms.checkpoint(f"c{step}")
        before = _states(ms)
        victims = set(ms.purge(user="ana").ids) | set(ms.purge(rng.sample(ids, 2)).ids)
        after = _states(ms)
        for lsn, state in before.items():
            assert after[lsn] == {i: s for i, s in state.items() if i not in victims}, lsn
        survivors = {i: s for i, s in before[max(before)].items() if i not in victims}
        assert {m.id: m.content_state() for m in ms.store.scan()} == survivors


def _exists(ms: MemorySpace, id: str) -> bool:
    try:
        ms.get(id)
    except NotFound:
        return False
    return True


_WRITER = """
import sys
from pathlib import Path
from memoryspace import HashingEmbedder, MemorySpace
path, stop = sys.argv[1], Path(sys.argv[2])
with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
    n = 0
    while not stop.exists():
        memory = ms.add(f"bob fact {n} kept", user="bob", id=f"bob{n}")
        sys.stdout.write(memory.id + "\\n")
        sys.stdout.flush()
        n += 1
"""


def test_a_purge_racing_a_writer_in_another_process_loses_no_acknowledged_write(
    tmp_path: Path,
) -> None:
    db, stop = tmp_path / "m.db", tmp_path / "stop"
    with MemorySpace.open(db, embedder="hashing"):
        pass
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(db), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline()  # the writer is running
        with MemorySpace.open(db, embedder="hashing") as ms:
            for round in range(6):
                for i in range(5):
                    ms.add(f"ana secret {round} {i}", user="ana")
                report = ms.purge(user="ana")
                assert report.records == 5
                time.sleep(0.05)  # let the writer in between purges, not a timing assertion
        stop.touch()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
    acknowledged = ["bob0", *out.split()]
    with MemorySpace.open(db, embedder="hashing") as ms:
        found = {m.id: m.content for m in ms.get_many(acknowledged)}
        assert len(found) == len(acknowledged) > 1
        assert all(found[id] == f"bob fact {id[3:]} kept" for id in acknowledged)
        assert ms.store.count(Filter(user="ana")) == 0


def test_a_purged_database_migrates_without_the_purged_records(tmp_path: Path) -> None:
    from memoryspace.store.migrate import migrate
    from memoryspace.store.sqlite import SQLiteStore

    with MemorySpace.open(tmp_path / "source.db", embedder="hashing") as ms:
        keep = ms.add("bob keeps this", user="bob")
        gone = ms.add("ana said zqmigrationword", user="ana")
        ms.update(gone.id, content="ana said zqmigrationword twice")
        ms.update(keep.id, content="bob keeps this, edited")
        ms.purge(user="ana")
    with SQLiteStore(tmp_path / "source.db") as source, SQLiteStore(tmp_path / "copy.db") as copy:
        result = migrate(source, copy)
        assert result.differences == ()
        assert [m.id for m in copy.scan()] == [keep.id]
        assert [c.op for c in copy.history(gone.id)] == [Op.ADD, Op.UPDATE, Op.PURGE]
    assert b"zqmigrationword" not in (tmp_path / "copy.db").read_bytes()


def test_a_pending_write_back_edit_of_a_purged_record_is_not_written_back(tmp_path: Path) -> None:
    settings = Settings(hot_tier_records=10, hot_tier_write_policy="write_back")
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing", settings=settings) as ms:
        memory = ms.add("ana's pending secret", user="ana")
        ms.get(memory.id)  # resident
        ms.update(memory.id, importance=0.9, tags=["zqpendingtag"])  # dirty in RAM only
        report = ms.purge(user="ana")
        assert report.ids == (memory.id,) and report.hot_tier_evicted == 1
        with pytest.raises(NotFound):
            ms.get(memory.id)
        assert ms.flush() == 0
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
        assert ms.store.count() == 0
        assert all(c.before is None and c.after is None for c in ms.history(memory.id))
    assert b"zqpendingtag" not in (tmp_path / "m.db").read_bytes()


def test_a_checkpoint_is_kept_when_another_record_says_the_same_words(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "m.db", embedder="hashing") as ms:
        ms.add("see you tomorrow", user="ana", session="a")
        ms.add("see you tomorrow", user="bob", session="b")  # another scope: not a duplicate
        ms.checkpoint("both")
        report = ms.purge(user="ana")
        assert report.checkpoints_rewritten == ("both",) and report.checkpoints_dropped == ()
        with ms.as_of(ms.checkpoints()[0].lsn) as past:
            assert [m.user for m in past.store.scan()] == ["bob"]
