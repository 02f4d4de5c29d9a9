"""Announcements in Teams, end to end through /api/messages: an author announces, every installed user and the
chosen channel receive it once, the author sees progress and a report, clicks update the counts, edits and
cancellations update the cards in place, reminders arrive once (also across a restart), others are refused.
"""

from __future__ import annotations

import datetime as dt

import pytest

from events.models import BERLIN
from tests.cards.parts import actions_of, text_of
from tests.events.announce_kit import (
    AUTHOR, action, card_from, execute, form, install, install_channel,
    is_event_card, parts, personal_id,
)
from tests.fakes import teams
from tests.fakes.connector import FakeConnector
from tests.fakes.harness import BotHarness, local_settings

GENERAL, OTHER = "19:general@thread.tacv2", "19:other@thread.tacv2"
USERS = (1, 2, 3, 4, 5)


def settings_for(tmp_path):
    return local_settings(tmp_path, ANNOUNCEMENT_AUTHORS=AUTHOR["aadObjectId"].upper())


@pytest.fixture
async def bot(tmp_path):
    async with BotHarness(settings_for(tmp_path)) as harness:
        for n in USERS:
            await install(harness, n)
        await install_channel(harness, GENERAL)
        await install_channel(harness, OTHER, team_id="team-2")
        yield harness


def event_cards(bot, event_id: str, conversation_id: str | None = None) -> list:
    return [c for c in bot.connector.sent(conversation_id) if is_event_card(c.card, event_id)]


def card_updates(bot, event_id: str) -> list:
    return [c for c in bot.connector.updates() if is_event_card(c.card, event_id)]


async def announce(bot, **changes) -> str:
    """The author's path: ankündigen → form → Vorschau → Jetzt senden; returns the announcement id."""
    status, _ = await bot.post(teams.message(bot.url, "ankündigen", sender=AUTHOR))
    assert status == 201
    [form_card] = [c.card for c in bot.connector.sent(personal_id(1)) if c.card and "Neue Ankündigung" in text_of(c.card)]
    preview = action(form_card, "announce_preview")
    status, body = await execute(bot, "announce_preview", {**preview["data"], **form(**changes)})
    preview_card = card_from(body)
    send = action(preview_card, "announce_send")
    event_id = send["data"]["announcement"]
    status, body = await execute(bot, "announce_send", send["data"])
    assert "Wird gesendet" in text_of(card_from(body))
    return event_id


async def test_author_announces_everyone_receives_it_once_and_sees_progress_and_report(bot):
    event_id = await announce(bot, channels=GENERAL)
    targets = {personal_id(n) for n in USERS} | {GENERAL}
    await bot.connector.wait_for(lambda c: {x.conversation_id for x in event_cards(bot, event_id)} == targets)
    ann = await parts(bot)["announcements"].get(event_id)
    await bot.connector.wait_for(lambda c: any(
        u.activity_id == ann.progress_activity and "Versand abgeschlossen" in text_of(u.card) for u in c.updates()))
    assert len(event_cards(bot, event_id)) == len(targets), "each conversation exactly once"
    assert event_cards(bot, event_id, OTHER) == []
    card = event_cards(bot, event_id, personal_id(2))[0].card
    text = text_of(card)
    assert "Vernetzungstreffen der Digitallots*innen" in text and "Rathaus, Raum 101" in text
    day = dt.date.fromisoformat(form()["date"])
    assert f"{day.day}." in text and "14:00–16:00 Uhr" in text and "Zusagen: 0 · Freie Plätze: 2 von 2" in text
    verbs = {a.get("verb") for a in actions_of(card)}
    assert {"event_rsvp"} <= verbs
    assert card["refresh"]["action"]["verb"] == "event_view" and "userIds" not in card["refresh"]
    assert all(a["fallback"]["type"] == "Action.Submit" for a in actions_of(card) if a["type"] == "Action.Execute")
    calendar = next(a for a in actions_of(card) if a.get("title") == "Zum Kalender hinzufügen")
    assert calendar["url"].endswith(f"/api/events/{event_id}/{ann.ics_token}.ics")
    report = [u for u in bot.connector.updates() if u.activity_id == ann.progress_activity][-1]
    assert "zugestellt 6 / 6" in text_of(report.card)
    # The author's preview showed exactly the card the recipients got.
    status, body = await execute(bot, "announce_send", {"announcement": event_id})
    assert "bereits gesendet" in bot.connector.sent(personal_id(1))[-1].text


async def test_invalid_form_is_shown_again_with_reasons_and_nothing_is_sent(bot):
    status, body = await execute(bot, "announce_preview", {"announcement": "", **form(title="", end="13:00",
                                                                                         link="http://x")})
    card = card_from(body)
    text = text_of(card)
    assert "Es wurde nichts gesendet" in text and "Bitte geben Sie einen Titel ein." in text
    assert "Das Ende liegt vor dem Beginn." in text and "https://" in text
    assert any(i.get("value") == "13:00" for c in card["body"] if c.get("type") == "ColumnSet"
               for col in c["columns"] for i in col["items"]), "what was typed stays in the form"
    past = form(date=(dt.datetime.now(BERLIN).date() - dt.timedelta(days=1)).isoformat())
    status, body = await execute(bot, "announce_preview", {"announcement": "", **past})
    assert "Vergangenheit" in text_of(card_from(body))
    assert await parts(bot)["announcements"].recent() == []
    assert not any(c.card and "refresh" in c.card for c in bot.connector.sent())


async def test_clicks_update_counts_fill_places_and_promote_from_the_waiting_list(bot):
    event_id = await announce(bot)
    await bot.connector.wait_for(lambda c: len(event_cards(bot, event_id)) == len(USERS))
    yes, no = {"event": event_id, "answer": "yes"}, {"event": event_id, "answer": "no"}

    card = card_from((await execute(bot, "event_rsvp", yes, n=2))[1])
    assert "Sie nehmen teil." in text_of(card) and "Zusagen: 1 · Freie Plätze: 1 von 2" in text_of(card)
    assert card["refresh"]["userIds"] == ["29:user-2"], "the clicker's own view"
    assert [a["data"]["answer"] for a in actions_of(card) if a.get("verb") == "event_rsvp"] == ["no"]
    card_from((await execute(bot, "event_rsvp", yes, n=3))[1])
    card = card_from((await execute(bot, "event_rsvp", yes, n=4))[1])
    assert "Warteliste (Platz 1)" in text_of(card) and "Freie Plätze: 0 von 2 · Warteliste: 1" in text_of(card)

    again = card_from((await execute(bot, "event_rsvp", yes, n=2))[1])
    assert "Zusagen: 2" in text_of(again), "a second click changes nothing"

    before = len(bot.connector.sent(personal_id(4)))
    card = card_from((await execute(bot, "event_rsvp", no, n=3))[1])
    assert "Sie sind nicht angemeldet." in text_of(card) and "Zusagen: 2 · Freie Plätze: 0 von 2" in text_of(card)
    promoted = bot.connector.sent(personal_id(4))[before:]
    assert len(promoted) == 1 and "nachgerückt" in promoted[0].text

    view = card_from((await execute(bot, "event_view", {"event": event_id}, n=4))[1])
    assert "Sie nehmen teil." in text_of(view)
    view = card_from((await execute(bot, "event_view", {"event": event_id}, n=5))[1])
    assert "Sie sind nicht angemeldet." in text_of(view) and "Auf die Warteliste" in text_of(view)
    roster = await parts(bot)["rsvps"].roster(event_id)
    assert [a.key for a in roster.participants] == ["aad-0002", "aad-0004"] and roster.waiting == ()


async def test_submit_fallback_updates_the_shared_card_and_a_channel_click_confirms_one_to_one(bot):
    event_id = await announce(bot, channels=GENERAL, capacity="1")
    await bot.connector.wait_for(lambda c: len(event_cards(bot, event_id)) == len(USERS) + 1)
    status, _ = await bot.post(teams.card_submit(bot.url, "event_rsvp", {"event": event_id, "answer": "yes",
                                                                         "via": "submit"}, sender=teams.user(2),
                                                 conversation_id=personal_id(2), reply_to_id="activity-77"))
    assert status == 201
    [update] = [u for u in bot.connector.updates() if u.activity_id == "activity-77"]
    assert "Zusagen: 1 · Freie Plätze: 0 von 1" in text_of(update.card) and "userIds" not in update.card["refresh"]
    assert "angemeldet" in bot.connector.sent(personal_id(2))[-1].text

    newcomer = teams.user(9)   # has never chatted with the bot: no 1:1 conversation yet
    status, body = await execute(bot, "event_rsvp", {"event": event_id, "answer": "yes"}, conversation_id=GENERAL,
                                 conversation_type="channel", sender=newcomer)
    assert "Warteliste (Platz 1)" in text_of(card_from(body))
    created = [c for c in bot.connector.calls if c.method == "POST" and c.path == "/v3/conversations"]
    assert len(created) == 1 and created[0].body["members"][0]["id"] == "29:user-9"
    confirmation = [c for c in bot.connector.sent() if c.conversation_id.startswith("a:conv-29:user-9")]
    assert len(confirmation) == 1 and "Warteliste" in confirmation[0].text


async def test_edit_and_cancel_update_every_card_in_place(bot):
    event_id = await announce(bot, channels=GENERAL)
    targets = {personal_id(n) for n in USERS} | {GENERAL}
    await bot.connector.wait_for(lambda c: len(event_cards(bot, event_id)) == len(targets))
    await execute(bot, "event_rsvp", {"event": event_id, "answer": "yes"}, n=3)
    delivered = await parts(bot)["engine"].delivered(f"{event_id}-send")
    assert set(delivered) == targets

    form_card = card_from((await execute(bot, "announce_edit", {"announcement": event_id}))[1])
    assert "Ankündigung ändern" in text_of(form_card)
    changed = form(place="Bürgerhaus, Saal 2")
    preview = card_from((await execute(bot, "announce_preview", {"announcement": event_id, **changed}))[1])
    apply = action(preview, "announce_apply")
    assert apply["data"]["place"] == "Bürgerhaus, Saal 2" and "geändert" in text_of(preview)
    status, body = await execute(bot, "announce_apply", apply["data"])
    assert "Geändert" in text_of(card_from(body))
    await bot.connector.wait_for(lambda c: {u.conversation_id for u in card_updates(bot, event_id)
                                            if "Bürgerhaus" in text_of(u.card)} == targets)
    for update in card_updates(bot, event_id):
        assert update.activity_id == delivered[update.conversation_id], "updated in place, not sent anew"
        assert text_of(update.card).startswith("Geändert") or "Geändert:" in text_of(update.card)
    await bot.connector.wait_for(lambda c: any("neue Angaben" in (x.text or "") for x in c.sent(personal_id(3))))
    assert len(event_cards(bot, event_id)) == len(targets), "nothing was sent twice"

    confirm = card_from((await execute(bot, "announce_cancel", {"announcement": event_id}))[1])
    status, body = await execute(bot, "announce_cancel_confirmed", action(confirm, "announce_cancel_confirmed")["data"])
    assert "Abgesagt" in text_of(card_from(body))
    await bot.connector.wait_for(lambda c: {u.conversation_id for u in card_updates(bot, event_id)
                                            if "Abgesagt" in text_of(u.card)} == targets)
    cancelled = [u for u in card_updates(bot, event_id) if "Abgesagt" in text_of(u.card)][0].card
    assert not any(a.get("verb") == "event_rsvp" for a in actions_of(cancelled))
    await bot.connector.wait_for(lambda c: any("findet nicht statt" in (x.text or "") for x in c.sent(personal_id(3))))
    await execute(bot, "event_rsvp", {"event": event_id, "answer": "yes"}, n=2)
    assert "abgesagt" in bot.connector.sent(personal_id(2))[-1].text


async def test_reminders_reach_participants_once_even_across_a_restart(tmp_path):
    settings = settings_for(tmp_path)

    def reminders(c, n: int, when: str = "in 24 Stunden") -> list:
        return [x for x in c.sent(personal_id(n)) if x.card and when in text_of(x.card)]

    async with FakeConnector() as connector:
        async with BotHarness(settings, connector) as bot:
            for n in USERS:
                await install(bot, n)
            event_id = await announce(bot, capacity="")
            await connector.wait_for(lambda c: len(event_cards(bot, event_id)) == len(USERS))
            for n in (2, 4):
                await execute(bot, "event_rsvp", {"event": event_id, "answer": "yes"}, n=n)
            starts = (await parts(bot)["announcements"].get(event_id)).event.starts_at.timestamp()
            clock = parts(bot)["clock"]
            clock.shift(starts - 24 * 3600 + 60 - clock())
            await connector.wait_for(lambda c: len(reminders(c, 2)) == 1 and len(reminders(c, 4)) == 1, timeout=10)
            assert reminders(connector, 3) == [] and reminders(connector, 5) == []
        async with BotHarness(settings, connector) as again:   # a restart on the same data
            clock = parts(again)["clock"]
            clock.shift(starts - 23 * 3600 - clock())
            assert await parts(again)["engine"].run_pending() == 0, "nothing left to send after the restart"
            clock.shift(starts - 3600 + 30 - clock())
            await connector.wait_for(lambda c: len(reminders(c, 2, "in einer Stunde")) == 1
                                     and len(reminders(c, 4, "in einer Stunde")) == 1, timeout=10)
            await parts(again)["engine"].run_pending()
        assert [len(reminders(connector, n)) for n in USERS] == [0, 1, 0, 1, 0]
        assert [len(reminders(connector, n, "in einer Stunde")) for n in USERS] == [0, 1, 0, 1, 0]


async def test_people_who_are_not_authors_are_refused_politely(bot):
    status, _ = await bot.post(teams.message(bot.url, "ankündigen", sender=teams.user(2), conversation_id=personal_id(2)))
    refusal = bot.connector.sent(personal_id(2))[-1]
    assert "CDO-Büros" in refusal.text and refusal.card is None
    await execute(bot, "announce_preview", {"announcement": "", **form()}, n=2)
    await execute(bot, "announce_send", {"announcement": "whatever"}, n=2)
    assert "CDO-Büros" in bot.connector.sent(personal_id(2))[-1].text
    assert await parts(bot)["announcements"].recent() == []


async def test_veranstaltungen_lists_events_and_authors_see_participants(bot):
    event_id = await announce(bot)
    # Delivery runs in the background: a late event card would otherwise be the "last message" read below.
    await bot.connector.wait_for(lambda c: len(event_cards(bot, event_id)) == len(USERS))
    await execute(bot, "event_rsvp", {"event": event_id, "answer": "yes"}, n=2)
    await bot.post(teams.message(bot.url, "veranstaltungen", sender=teams.user(2), conversation_id=personal_id(2)))
    listing = bot.connector.sent(personal_id(2))[-1].card
    assert "Vernetzungstreffen" in text_of(listing) and "Sie nehmen teil." in text_of(listing)
    assert not any(a.get("verb") == "event_participants" for a in actions_of(listing))
    await bot.post(teams.message(bot.url, "veranstaltungen", sender=AUTHOR))
    listing = bot.connector.sent(personal_id(1))[-1].card
    participants = action(listing, "event_participants")
    await execute(bot, "event_participants", participants["data"])
    card = bot.connector.sent(personal_id(1))[-1].card
    assert "Testperson 2" in text_of(card)
    csv = next(a for a in actions_of(card) if a.get("title") == "Als CSV herunterladen")
    assert "/teilnehmende.csv?bis=" in csv["url"]
    await execute(bot, "event_participants", participants["data"], n=2)
    assert "nur die Autor*innen" in bot.connector.sent(personal_id(2))[-1].text


async def test_discard_and_schedule_from_the_preview(bot):
    status, body = await execute(bot, "announce_preview", {"announcement": "", **form()})
    preview = card_from(body)
    status, body = await execute(bot, "announce_discard", action(preview, "announce_discard")["data"])
    assert "Verworfen" in text_of(card_from(body)) and await parts(bot)["announcements"].recent() == []

    status, body = await execute(bot, "announce_preview", {"announcement": "", **form()})
    schedule = action(card_from(body), "announce_schedule")
    tomorrow = (dt.datetime.now(BERLIN) + dt.timedelta(days=1)).date().isoformat()
    status, body = await execute(bot, "announce_schedule", {**schedule["data"], "send_date": tomorrow,
                                                             "send_time": "08:30"})
    assert "Versand geplant" in text_of(card_from(body)) and "08:30 Uhr" in text_of(card_from(body))
    event_id = schedule["data"]["announcement"]
    assert event_cards(bot, event_id) == []
    parts(bot)["clock"].shift(2 * 86400)
    assert await parts(bot)["scheduler"].run_due() == 1
    await bot.connector.wait_for(lambda c: len(event_cards(bot, event_id)) == len(USERS))


async def test_a_role_in_the_users_container_makes_an_author(tmp_path):
    async with BotHarness(local_settings(tmp_path, ANNOUNCEMENT_AUTHOR_ROLE="Announcements.Author")) as bot:
        await bot.parts["store"].container("users").create("aad-0002", "roles", {"roles": ["Announcements.Author"]})
        for n in (2, 3):
            await bot.post(teams.message(bot.url, "ankündigen", sender=teams.user(n), conversation_id=personal_id(n)))
        assert "Neue Ankündigung" in text_of(bot.connector.sent(personal_id(2))[-1].card)
        assert "CDO-Büros" in bot.connector.sent(personal_id(3))[-1].text


async def test_local_mode_without_an_allow_list_lets_everyone_try_it(tmp_path):
    async with BotHarness(local_settings(tmp_path)) as bot:
        await bot.post(teams.message(bot.url, "ankündigen", sender=teams.user(3), conversation_id=personal_id(3)))
        assert "Neue Ankündigung" in text_of(bot.connector.sent(personal_id(3))[-1].card)
        await bot.post(teams.message(bot.url, "ankündigen", sender=teams.user(3), conversation_id=GENERAL,
                                     conversation_type="channel", mention=True))
        assert "persönlichen Chat" in bot.connector.sent(GENERAL)[-1].text
