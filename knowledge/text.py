"""German text normalisation for the answer engine: folding, tokens, stop words, stems.

Everything here is independent of the article set. What needs the knowledge base's vocabulary
(compound splitting, typo correction, separable verbs) lives in knowledge/analysis.py.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

# Longer pastes keep their beginning and end: that is where a question usually stands.
MAX_CHARS = 600

_URL = re.compile(r"(?:https?://|www\.)\S+")  # a link's path is not vocabulary ('…/digitallotsen')
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_SENTENCE = re.compile(r"[\n.!?]+")
_CLAUSE_END = re.compile(r"[.!?;:,()\n\"]+|\b(?:dass|damit|weil|wenn|ob|obwohl|falls|sodass|bevor|nachdem)\b")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")  # accents after NFKD
# Umlauts, ß and invisible characters, as (old, new) pairs: a few str.replace calls beat one
# str.translate with a dict on the long article bodies.
_GERMAN = (("ä", "a"), ("ö", "o"), ("ü", "u"), ("ß", "ss"), ("ẞ", "ss"),
           *((c, "") for c in "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
# Typography NFKD leaves as it is: a text with no other non-ASCII character skips the normalisation.
_NFKD_CHANGES = re.compile("[^\x00-\x7f„“”‘’‚–—×·•«»€§°]")

# Function words and chat filler, already folded (no umlauts, ß -> ss). Deliberately no topic words.
STOPWORDS: frozenset[str] = frozenset("""
a ab aber ach alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes
anders auch auf aus bei beim bin bis bist bitte bzw da dabei dafur daher damit dann dar daran darauf
daraus darf darfst darin darum das dass dazu dein deine deinem deinen deiner dem den denen denn der
deren des deshalb dessen dich die dies diese diesem diesen dieser dieses dir doch dort du durch e eben
eher eig eigentlich ein eine einem einen einer eines einfach einmal einige einigen einiger eins es etc
etwa etwas euch euer eure eurem euren eurer fur gar gerade gern gerne grad halt hallo hat hatte hatten
hab habe haben hast hey hi hier hin ich er ihm ihn ihnen ihr ihre ihrem ihren ihrer ihres im immer in innen ins
irgendwie irgendwo irgendwas ist ja je jede jedem jeden jeder jedes jetzt kann kannst kein keine keinem
keinen keiner konnen konnte konnten koennen koennte leider liebe lieber lieben mal man manche mehr mein
meine meinem meinen meiner meines mich mir mit moin mochte mochten moechte muss musste mussen mussten
na nach naja ne nem nen ner nicht nichts noch nun nur ob oder ohne schon sehr sei seid sein seine
seinem seinen seiner seit servus sich sie sind so soll sollen sollte sollten sondern sonst sowie statt
tschuss guten uber um und uns unser unsere unserem unseren unserer unter viel viele vom von vor wann war
waren warum was weil welche welchem welchen welcher welches wem wen wenn wer wessen wie
wieder wieso will wir wird wirklich wo woher wohin wollen wollte wurde wurden wahrend obwohl falls bevor nachdem sodass trotz zu zum zur zwar zwischen
ok okay danke dank vielen heute morgen gestern nochmal manchmal oft gruss grusse gruesse frage fragen kurze schnell hilfe helfen hilf weiss
geht gehts gibt gibts gehen machen mache mach macht gemacht tun tu krieg kriege kriegen bekomme
bekomm bekommen sowas usw zb ca via brauche brauch brauchen stelle dinge ding sachen sache leute jemand jemanden jemandem
furs aufs aufm ubers ums vorm unterm durchs genau tut tue hinzu
nie niemals ganz ganze ganzen total paar nix drauf dran drin eh sowieso echt voll bisschen
ziemlich irgendwer niemand plotzlich inzwischen mittlerweile neuerdings wohl jedesmal ewig
nachste nachsten nachster nachstes nachstem letztem monat monats letzte letzten letzter letztes bot lotsenbot herr herrn frau hierzu hierfur hiermit diesbezuglich bezuglich erfolgt worden trotzdem diesmal jeweils bereits
nich co zunachst erstmal besten
ausschliesslich gesamt gesamte gesamten gesamter vollstandig vollstandige separat separaten separate entsprechend
entsprechende entsprechenden jeweilige jeweiligen zusatzlich zusatzliche zusatzlichen bestimmte bestimmten konkret
konkrete grundsatzlich moglichst insbesondere kunftig zukunftig kunftige derzeit momentan kurzfristig rechtzeitig
spatestens fruhestens wars unbedingt gegebenenfalls ggf idealerweise hierbei vorab stets zeitnah umgehend
sehr geehrte geehrter geehrten damen herren freundlichen freundliche grussen mfg vg lg
unseres eures deines seines uberhaupt insgesamt
""".split()) | frozenset("""
null eins zwei drei vier funf sechs sieben acht neun zehn elf zwolf zwanzig dreissig vierzig funfzig hundert tausend
montag dienstag mittwoch donnerstag freitag samstag sonntag montags dienstags mittwochs donnerstags freitags
januar februar marz april juni juli august september oktober november dezember
""".split())  # the details of a situation (how many, which day) never decide its topic

# Separable-verb particles that may close a clause: "wie nehm ich das auf" -> aufnehmen.
PARTICLES: frozenset[str] = frozenset("""
ab an auf aus bei dazu durch ein fest frei her heraus herunter hin hoch los mit nach raus rein
runter teil um uber vor vorbei weg weiter wieder hinzu zu zuruck zusammen
""".split())

# Present and past forms of strong verbs that share no stem with their infinitive (folded). Participles
# stay apart on purpose: 'geschrieben' (what someone wrote) is not 'schreiben' (formatting a message).
STRONG_VERBS: dict[str, str] = {
    "nimmt": "nehmen", "nimm": "nehmen", "nahm": "nehmen", "ladt": "laden", "lud": "laden",
    "lasst": "lassen", "liess": "lassen", "trifft": "treffen", "traf": "treffen", "sieht": "sehen",
    "sah": "sehen", "spricht": "sprechen", "sprach": "sprechen", "liest": "lesen", "schrieb": "schreiben",
    "fand": "finden", "vergisst": "vergessen", "vergass": "vergessen", "lauft": "laufen", "lief": "laufen",
    "fallt": "fallen", "fiel": "fallen", "bricht": "brechen", "erhalt": "erhalten", "wirft": "werfen",
    "schliesst": "schliessen",
}

# Stop words that still join a closing particle: 'wie mach ich das whiteboard auf' -> aufmachen.
FILLER_VERBS: frozenset[str] = frozenset("mach mache macht machen tu tue tut".split())

LINKING = ("", "s", "es", "n", "en", "er", "e")

_stemmer = Stemmer.Stemmer("german")


def fold(text: str) -> str:
    """Lower case without accents or umlaut dots; ß -> ss. 'Präsi' and 'praesi' stay distinct here:
    the Snowball German stemmer treats 'ae'/'oe'/'ue' as umlauts itself."""
    text = text.lower()
    if text.isascii():
        return text
    for old, new in _GERMAN:
        if old in text:
            text = text.replace(old, new)
    if not _NFKD_CHANGES.search(text):
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def clip(text: str, limit: int = MAX_CHARS) -> str:
    """Long pastes: keep the first and last part, where a question usually stands."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + "\n" + text[-half:]


def readings(text: str, limit: int = MAX_CHARS) -> list[str]:
    """What to look up for a text: itself, or for a long paste (an error log with a question before or
    after it) its clipped form, its first and its last sentence. The caller keeps the surest reading."""
    if len(text) <= limit:
        return [text]
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    out = [clip(text, limit)]
    if sentences:
        out += [sentences[0][:limit], sentences[-1][-limit:]]
    return out


def clauses(text: str) -> list[list[str]]:
    """Folded word tokens, grouped by clause. Hyphenated words come as one token ('breakout-raum')."""
    out = []
    for part in _CLAUSE_END.split(_URL.sub(" ", fold(text))):
        words = _WORD.findall(part)
        if words:
            out.append(words)
    return out


def words(text: str) -> list[str]:
    """Folded word tokens with hyphenated words split into their parts."""
    return clause_words(clauses(text))


def clause_words(parsed: list[list[str]]) -> list[str]:
    """The words of already split clauses, hyphenated words split into their parts."""
    return [p for c in parsed for w in c for p in w.split("-") if p]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball German stem of a folded word (cached: the hot path sees the same words again); a strong
    verb's own form ('nimmt', 'trifft') stems like its infinitive, in articles and questions alike."""
    return _stemmer.stemWord(STRONG_VERBS.get(word, word))


def question_key(text: str) -> str:
    """Two questions with the same key count as identical (lint)."""
    return " ".join(words(text))


def is_content(word: str) -> bool:
    """A word that may carry meaning: not a stop word, not a lone digit or letter."""
    return len(word) > 1 and word not in STOPWORDS and not word.isdigit()
