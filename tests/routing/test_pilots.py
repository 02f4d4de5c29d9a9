"""The pilot directory: the shipped sample, seeding, conditional changes, topics."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from routing.pilots import (TOPICS, DirectoryError, Pilot, PilotDirectory, checked, key_for, load_seed,
                            parse_topics)
from storage.base import PreconditionFailed

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "routing" / "sample_pilots.yaml"
KNOWLEDGE_TAGS = ROOT / "docs" / "knowledge-format.md"


def test_sample_is_about_29_clearly_fictional_pilots_over_at_least_10_departments():
    pilots = load_seed(SAMPLE)
    assert 25 <= len(pilots) <= 35
    assert len({p.department_code for p in pilots}) >= 10
    assert all(p.upn.endswith("@beispielstadt.example") for p in pilots)
    assert all(p.teams_id.startswith("29:pilot-") and p.aad_id for p in pilots)
    for field in ("key", "upn", "aad_id", "teams_id"):
        assert len({getattr(p, field) for p in pilots}) == len(pilots), field
    assert "FREI ERFUNDEN" in SAMPLE.read_text(encoding="utf-8")


def test_topics_are_exactly_the_knowledge_base_tags():
    documented = KNOWLEDGE_TAGS.read_text(encoding="utf-8").split("## Themen (Tags)")[1].split("##")[0]
    tags = {t.strip(" `\n,") for t in documented.split("`") if t.strip(" `\n,")}
    assert set(TOPICS) == tags
    assert all(set(p.topics) <= tags for p in load_seed(SAMPLE))


def test_bad_entries_are_rejected_in_german():
    base = Pilot(key="x", name="X", upn="x@beispielstadt.example", aad_id="a", department="Amt 10")
    for broken, word in ((replace(base, name=" "), "Name"), (replace(base, upn="kein-mail"), "Mail"),
                         (replace(base, aad_id="", teams_id=""), "Entra"), (replace(base, department=""), "Amt"),
                         (replace(base, topics=("kochen",)), "Themen"), (replace(base, capacity=0), "Kapazität"),
                         (replace(base, absent_until="morgen"), "Abwesenheit")):
        with pytest.raises(DirectoryError, match=word):
            checked(broken)


def test_seed_file_errors_name_the_entry(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pilots:\n  - key: a\n    name: A\n    upn: nope\n    aad_id: x\n    department: Amt 1\n")
    with pytest.raises(DirectoryError, match="Eintrag 1"):
        load_seed(bad)
    bad.write_text("pilots: 3\n")
    with pytest.raises(DirectoryError):
        load_seed(bad)


def test_topics_from_free_text():
    assert parse_topics("Whiteboard, Besprechungen und Teams-Kanäle") == (("whiteboard", "besprechung",
                                                                           "teams-kanaele"), ())
    assert parse_topics("mobiles arbeiten; Datenschutz / kochen") == (("mobiles-arbeiten", "datenschutz"), ("kochen",))
    assert key_for("Anna.Beispiel@Beispielstadt.example") == "anna.beispiel"


@pytest.fixture
def directory(store) -> PilotDirectory:
    return PilotDirectory(store.container("other"), seed_file=SAMPLE)


async def test_seeding_happens_once_even_with_two_instances(store, directory):
    twin = PilotDirectory(store.container("other"), seed_file=SAMPLE)
    await asyncio.gather(directory.start(), twin.start())
    pilots = await directory.all()
    assert len(pilots) == len(load_seed(SAMPLE))
    await directory.update(pilots[0].key, lambda p: replace(p, active=False))
    await directory.start()   # a restart does not re-add removed people
    assert len(await directory.all()) == len(pilots) - 1
    assert len(await directory.all(include_inactive=True)) == len(pilots)


async def test_look_ups(directory):
    await directory.start()
    anna = (await directory.all())[0]
    assert await directory.for_user(aad_id=anna.aad_id) == anna
    assert await directory.for_user(teams_id=anna.teams_id) == anna
    assert await directory.find(anna.upn.upper()) == [anna]
    assert len(await directory.departments()) >= 10
    assert (await directory.departments())[0].startswith("Amt 10")


async def test_concurrent_changes_both_land(directory):
    await directory.start()
    key = (await directory.all())[0].key
    await asyncio.gather(directory.update(key, lambda p: replace(p, absent_until="2026-12-12")),
                         directory.update(key, lambda p: replace(p, topics=("chat",))),
                         directory.record_assignment(key, 123.0))
    stored = await directory.get(key)
    assert (stored.absent_until, stored.topics, stored.last_assigned_at) == ("2026-12-12", ("chat",), 123.0)


async def test_a_form_saved_over_a_newer_change_is_refused(directory):
    await directory.start()
    key = (await directory.all())[0].key
    etag = await directory.etag_of(key)
    await directory.update(key, lambda p: replace(p, capacity=5))
    with pytest.raises(PreconditionFailed):
        await directory.update(key, lambda p: replace(p, capacity=1), etag=etag)
    assert (await directory.get(key)).capacity == 5


async def test_add_refuses_a_taken_mail_and_keeps_keys_unique(directory):
    await directory.start()
    anna = (await directory.all())[0]
    with pytest.raises(DirectoryError, match="schon eingetragen"):
        await directory.add(replace(anna, key="new"))
    other = await directory.add(Pilot(key=anna.key, name="Neu", upn="neu@beispielstadt.example", aad_id="aad-neu",
                                      department="Amt 20"))
    assert other.key == f"{anna.key}-2"
