"""Language detection for questions and documents, without models or external packages.

``detect_language(text)`` scores the text against small per-language word lists (function
words plus service-desk vocabulary) and a few character cues (umlauts and ß for German,
accented letters for French and Spanish). It is deterministic, needs no data files and is
tuned for the two first-class languages: a three-word German question ("VPN geht nicht")
and a long English manual are both recognised.

Returns ``"de"``, ``"en"``, ``"fr"`` or ``"es"``; ``default`` when the text carries no
evidence (only product names, numbers, code) or when two languages tie.
"""

from __future__ import annotations

import re


def _wordlist(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words only counted for one language. Words that are common in two languages ("in", "an",
# "was", "will", "so", "also", "man", "die" as an English verb is rare enough to keep) are
# left out, so they cannot tip the balance.
_GERMAN = _wordlist(
    """
    der die das den dem des ein eine einen einem einer eines kein keine keinen keinem keiner
    und oder aber doch denn sondern weil dass daß wenn ob als wie wo wer wen wem wessen warum
    wieso weshalb wann welche welcher welches welchen womit wofür woran wozu wohin woher
    ich du er sie es wir ihr mich mir dich dir uns euch ihm ihn ihnen sich mein meine meinen
    meinem meiner dein deine sein seine ihre ihren unser unsere euer
    ist sind bin bist seid war waren wird werden wurde wurden worden hat habe hast haben hatte
    hatten kann kannst können konnte muss musst müssen sollte sollen soll darf dürfen möchte
    möchten mag gibt geht gehen ging funktioniert funktionieren klappt startet starten
    lässt läuft laufen kommt kommen bekomme bekommt sehe sieht zeigt finde findet brauche
    nicht nichts auch noch schon nur sehr mehr immer wieder bitte danke jetzt hier dort da
    dann heute morgen gestern mit mit von vom zum zur bei beim nach aus auf über unter vor
    hinter neben zwischen durch für gegen ohne um bis seit während wegen trotz am im ins
    ja nein nie kaum etwa ganz gar alle alles jeder jede jedes andere anderen beim
    einmal neue neuen neues alte alten richtig falsch geht's gibt's
    fehler fehlermeldung drucker druckt drucken passwort kennwort zurücksetzen ändern anmelden
    anmeldung abmelden konto benutzer benutzerkonto rechner bildschirm tastatur maus
    netzwerk verbindung zugriff freigabe ordner datei dateien laufwerk speicher einstellungen
    installieren installiert einrichten eingerichtet gesperrt entsperren vergessen hilfe
    anleitung schritt schritte klicken sie wählen öffnen schließen speichern löschen
    mitarbeiter mitarbeiterin abteilung antrag urlaub krank dienstreise
    postfach voll langsam abgestürzt stürzt verweigert kaputt fehlt aktualisieren hängt
    störung
    """
)
_ENGLISH = _wordlist(
    """
    the of and or but because that which who whom whose what when where why how
    i you he she it we they me him her us them my your his its our their mine yours
    is are am was were be been being has have had do does did doing done can could
    shall should would must may might cannot can't don't doesn't didn't isn't aren't won't
    wasn't i'm it's there's
    not no nothing also too very more most again always never please thanks thank now here
    there then today tomorrow yesterday with from by for to at on into onto about over
    under after before between through without against during since until
    this these those some any each every other all both such only just than
    new old right wrong
    get gets got getting work works working worked start starts started starting keep keeps
    show shows see sees find finds need needs want wants open opens
    error printer printing print prints password reset change login log sign account user
    computer screen keyboard mouse network connection access share folder file files drive
    settings install installed setup set locked unlock forgot forgotten help guide step steps
    click select close save delete employee department request leave holiday sick travel
    mailbox size exceeded full slow crash crashes crashing crashed denied frozen broken missing
    update upgrade freezes stuck shared home desk issue
    """
)
_FRENCH = _wordlist(
    """
    le la les un une des du au aux et ou mais donc car que qui quoi dont où est sont être
    avoir ai as avons avez ont était été je tu il elle nous vous ils elles ce cette ces mon
    ma mes ton ta tes son sa ses notre nos votre vos leur leurs pas ne plus avec pour dans
    sur sous par chez sans comme aussi très bien fait faire peut peux pouvez comment
    pourquoi quand mot passe imprimante réinitialiser merci bonjour voici voilà réponse
    désormais toujours seulement
    """
)
_SPANISH = _wordlist(
    """
    el la los las un una unos unas del al y o pero que quien cual donde cuando como es son
    está están estar ser fue era he ha han hay yo tú él ella nosotros vosotros ellos ellas
    mi mis tu tus su sus nuestro nuestra este esta estos estas ese esa no sí muy más con
    para por sin sobre entre también porque puedo puede pueden cómo qué cuándo dónde
    contraseña impresora restablecer gracias hola aquí respuesta ahora siempre solo
    """
)
_WORDS: dict[str, frozenset[str]] = {
    "de": _GERMAN,
    "en": _ENGLISH,
    "fr": _FRENCH,
    "es": _SPANISH,
}

_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_MAX_TOKENS = 3000  # enough evidence for any document; keeps long texts cheap

# Letters that are strong evidence on their own.
_GERMAN_CHARS = frozenset("äöüß")
_FRENCH_CHARS = frozenset("éèêëàâçîïôûùœ")
_SPANISH_CHARS = frozenset("ñáíóú¿¡")

# Word endings typical of German compounds and verbs, and of English words.
_GERMAN_SUFFIXES = ("ung", "ungen", "keit", "heit", "lich", "isch", "chen", "schaft", "ieren")
_ENGLISH_SUFFIXES = ("ing", "ed", "tion", "ly", "ness", "ies")


def detect_language(text: str, default: str = "und") -> str:
    """Return the language code of ``text``, or ``default`` when there is no clear winner."""
    scores = language_scores(text)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    (best, best_score), (_, second_score) = ranked[0], ranked[1]
    if best_score < 1.0 or best_score == second_score:
        return default
    return best


def language_scores(text: str) -> dict[str, float]:
    """The evidence for each language in ``text``: about one point per telling word."""
    tokens = _TOKEN.findall(text.lower())[:_MAX_TOKENS]
    scores = dict.fromkeys(_WORDS, 0.0)
    for token in tokens:
        for lang, words in _WORDS.items():
            if token in words:
                scores[lang] += 1.0
        letters = set(token)
        if letters & _GERMAN_CHARS:
            scores["de"] += 1.0
        if letters & _FRENCH_CHARS:
            scores["fr"] += 0.5
        if letters & _SPANISH_CHARS:
            scores["es"] += 0.5
        if len(token) > 5:
            if token.endswith(_GERMAN_SUFFIXES):
                scores["de"] += 0.25
            elif token.endswith(_ENGLISH_SUFFIXES):
                scores["en"] += 0.25
            if "sch" in token:
                scores["de"] += 0.25
    return scores
