"""German normalisation: folding, stems, separable verbs, restricted compounds, gated typo correction."""

from __future__ import annotations

import pytest

from knowledge.analysis import Options, Vocabulary
from knowledge.text import clauses, clip, fold, question_key, stem, words

# A small article vocabulary: every rescue step may only ever produce one of these words.
ARTICLE_TEXTS = [
    ["Bildschirm oder Fenster teilen", "screensharing starten", "Präsentation zeigen im Meeting"],
    ["Besprechung aufzeichnen", "Besprechung aufnehmen", "wie nehme ich die Besprechung auf", "Aufnahme starten", "Aufzeichnung finden"],
    ["Passwort vergessen", "Kennwort ändern", "neues Passwort festlegen"],
    ["Breakout-Räume nutzen", "Teilnehmende in Räume aufteilen"],
    ["Kurse und Fortbildungen finden", "E-Learning Kurse buchen", "weiter lernen"],
    ["Jemanden zur Besprechung einladen", "Einladung verschicken", "Gäste einladen"],
    ["Drucker einrichten", "Dokument drucken", "Mikrofon und Kamera prüfen"],
    ["Whiteboard öffnen", "Whiteboard teilen", "Hintergrundbild ändern"],
    ["Mit Kolleg*innen chatten", "Mitglieder hinzufügen", "fügen Sie Personen hinzu",
     "Infos: https://intranet.beispielstadt.example/digitallotsen"],
]


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.from_documents(ARTICLE_TEXTS)


def terms(vocab: Vocabulary, text: str) -> list[tuple[str, ...]]:
    """Per word slot: its alternative terms plus its compound parts."""
    return [slot.all_terms for slot in vocab.slots(clauses(text))]


def flat(vocab: Vocabulary, text: str) -> set[str]:
    return {t for slot in terms(vocab, text) for t in slot}


# -- folding and tokens -----------------------------------------------------------------------------

def test_fold_lowercases_and_removes_umlauts_and_accents():
    assert fold("Größe ÄNDERN Café\u00ad") == "grosse andern cafe"
    assert fold("STRAẞE") == "strasse"


def test_fold_keeps_typography_and_still_normalises_letters_beside_it():
    # The fast path skips NFKD for quotes and dashes; an accent or ligature next to them must still fold.
    assert fold("„Präsi“ – geht’s?") == "„prasi“ – geht’s?"
    assert fold("„Café“ – ﬁle…") == "„cafe“ – file..."


def test_umlaut_and_ae_spellings_stem_alike():
    assert stem(fold("Präsentation")) == stem(fold("praesentation")) == stem("prasentation")
    assert stem(fold("Kopfhörer")) == stem("kopfhoerer")


def test_words_split_hyphens_and_gendered_forms():
    assert words("Breakout-Session mit Kolleg*innen!") == ["breakout", "session", "mit", "kolleg", "innen"]


def test_clauses_break_at_punctuation_and_subordinate_conjunctions():
    assert clauses("wie stelle ich das ein, dass es klappt? danke") == [
        ["wie", "stelle", "ich", "das", "ein"], ["es", "klappt"], ["danke"]]


def test_question_key_ignores_case_punctuation_and_spacing():
    assert question_key("Wie teile ich  den Bildschirm?") == question_key("wie teile ich den bildschirm")


def test_links_are_not_words():
    assert words("siehe https://intranet.example/digital-lotsen oder www.example.org/hilfe, danke") == [
        "siehe", "oder", "danke"]


def test_clip_keeps_beginning_and_end_of_long_pastes():
    text = "anfang " + "x" * 5000 + " ende"
    clipped = clip(text)
    assert len(clipped) <= 601 and clipped.startswith("anfang") and clipped.endswith("ende")
    assert clip("kurz") == "kurz"


# -- stems and variants -----------------------------------------------------------------------------

def test_stop_words_and_filler_are_dropped(vocab):
    assert terms(vocab, "hallo, wie kann ich denn bitte mal eben") == []


def test_filler_of_a_described_situation_does_not_count(vocab):
    # 'da ist ganz nix drauf' says nothing about the topic; unknown words would lower the confidence.
    assert terms(vocab, "da ist ganz nix drauf, total nie was zum drucken") == terms(vocab, "drucken")
    # Addressing the bot or a person, and formal padding, say nothing about the topic either.
    assert terms(vocab, "hallo bot, frau meier hat hierzu trotzdem drucken wollen") == terms(vocab, "meier drucken")


def test_counts_and_days_do_not_count_as_content(vocab):
    # 'fünf Kollegen am Donnerstag einladen' is about inviting, whatever the day and the number.
    assert flat(vocab, "fünf leute am donnerstag um zehn einladen") == flat(vocab, "einladen")
    assert terms(vocab, "nächsten monat einladen") == terms(vocab, "einladen")


def test_written_out_feminine_forms_meet_the_gender_star_form(vocab):
    assert flat(vocab, "kolleginnen") == flat(vocab, "kollegin") == flat(vocab, "kollegen") == {"kolleg"}
    # ... also when some article writes them out itself: one term, not two that split the weight.
    both = Vocabulary.from_documents([["Kolleg*innen einladen"], ["Kolleginnen und Kollegen fragen"]])
    assert flat(both, "kolleginnen") == flat(both, "kolleg*innen") == {"kolleg"}


def test_inflected_forms_meet_their_article_stem(vocab):
    # Snowball leaves 'druckt', 'geteilt', 'Kurs' apart from 'drucken', 'teilen', 'Kurse'.
    assert flat(vocab, "druckt") == flat(vocab, "drucken")
    assert flat(vocab, "geteilt") == flat(vocab, "teilen")
    assert flat(vocab, "kurs") == flat(vocab, "kurse")


def test_separable_verb_joins_with_its_particle(vocab):
    assert flat(vocab, "wie nehm ich das auf") == flat(vocab, "aufnehmen")
    assert flat(vocab, "wie lade ich die kollegin ein") >= flat(vocab, "einladen")
    assert flat(vocab, "wie füg ich leute hinzu") == flat(vocab, "hinzufügen")
    assert flat(vocab, "wie nimmt man das auf") == flat(vocab, "aufnehmen")  # a strong verb's own form
    assert flat(vocab, "jemand nimmt die besprechung") == flat(vocab, "nehmen besprechung")
    seen = Vocabulary.from_documents([["Wer sieht meinen Kalender?"]])  # ... in an article too
    assert flat(seen, "kalender sehen") == flat(seen, "sieht kalender")


def test_a_filler_verb_joins_its_particle():
    vocab = Vocabulary.from_documents([["das Whiteboard später wieder aufmachen"], ["Whiteboard starten"]])
    assert flat(vocab, "wie mach ich das whiteboard auf") == flat(vocab, "whiteboard aufmachen")
    assert flat(vocab, "wie mach ich das") == set()  # alone it is still filler


def test_particle_only_joins_into_a_known_word(vocab):
    # 'aufdrucken' is not an article word: the verb stays as it is.
    assert flat(vocab, "wie drucke ich das auf") == flat(vocab, "drucken")


# -- compounds --------------------------------------------------------------------------------------

def test_unknown_compound_splits_into_two_known_parts(vocab):
    [slot] = vocab.slots(clauses("besprechungsaufzeichnung"))
    assert slot.parts == (stem("besprechung"), stem("aufzeichnung"))  # linking s
    [slot] = vocab.slots(clauses("kamerabild"))
    assert slot.parts == () and not slot.terms  # 'bild' alone is not an article word


def test_compound_split_needs_parts_of_four_letters(vocab):
    # The notes' false splits: frei+gabe, pass+wort, bea+trage. None of them may happen here.
    assert vocab.split("freigabe") is None
    assert vocab.split("beatrage") is None
    [slot] = vocab.slots(clauses("passwort"))
    assert slot.terms and slot.terms[0][0] == stem("passwort")


def test_pairs_are_joined_when_the_articles_write_them_as_one_word(vocab):
    assert stem("hintergrundbild") in flat(vocab, "hintergrund bild")


# -- typos and colloquial forms ----------------------------------------------------------------------

@pytest.mark.parametrize("typo, word", [
    ("bildschrim", "bildschirm"),      # swapped letters
    ("passwrot", "passwort"),
    ("whitebord", "whiteboard"),       # missing letter
    ("mikrofonn", "mikrofon"),         # extra letter
    ("präsentaton", "präsentation"),
])
def test_typos_are_corrected_against_the_article_vocabulary(vocab, typo, word):
    assert flat(vocab, typo) == flat(vocab, word)


@pytest.mark.parametrize("word", [
    "kurze",   # 'kurze' -> 'kurse': the notes' false fix (a real word, one letter apart)
    "wetter",  # 'wetter' -> 'weiter'
])
def test_real_words_are_not_turned_into_article_words(vocab, word):
    assert vocab.correct(word) is None
    assert flat(vocab, word) == set()


def test_a_missing_letter_in_a_short_word_is_fixed(vocab):
    assert flat(vocab, "kamra") == flat(vocab, "kamera")


def test_a_four_letter_word_is_only_fixed_by_its_missing_double_letter():
    vocab = Vocabulary.from_documents([["Alle stumm schalten"], ["Kurse finden"]])
    assert vocab.correct("stum") == vocab.word_term("stumm")
    assert vocab.correct("stim") is None  # another letter is not a missing one
    assert vocab.correct("kure") is None


def test_short_and_non_alphabetic_words_are_not_corrected(vocab):
    assert vocab.correct("kurs") is None
    assert vocab.correct("whiteb0ard") is None


def test_clipped_words_and_compound_heads(vocab):
    assert flat(vocab, "präsi") == flat(vocab, "präsentation")
    assert flat(vocab, "schirm") == flat(vocab, "bildschirm")


def test_no_rescue_turns_a_real_word_into_a_different_one():
    vocab = Vocabulary.from_documents([["Status auf abwesend setzen", "Besprechung vorbereiten"],
                                       ["Teams schließen und neu starten"]])
    assert vocab.correct("anwesend") is None       # a changed letter in 8 letters: the opposite word
    assert vocab.correct("abwesnd") == vocab.word_term("abwesend")  # a missing one is still a typo
    assert flat(vocab, "vorbei") == set()          # a particle is not a clipped 'vorbereiten'
    assert flat(vocab, "essen") == set()           # five letters are not the head of 'schließen'


def test_features_can_be_switched_off():
    plain = Vocabulary.from_documents(ARTICLE_TEXTS, Options(typos=False, compounds=False, particles=False))
    assert flat(plain, "bildschrim") == set()
    assert plain.split("besprechungsaufzeichnung") is None
    assert stem("aufnehmen") not in flat(plain, "wie nehm ich das auf")
