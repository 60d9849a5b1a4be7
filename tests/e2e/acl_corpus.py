"""A generated service-desk corpus for the ACL-at-scale test: Markdown files in German and
English behind per-folder ``.lotse-acl`` sidecars, a generic ticket export, and questions.

Why generated: the test needs thousands of chunks whose group can be read off any text that
comes back. Every chunk text, every document title (so every heading path) and every ticket
carries a marker token ``ACLMARK-<code>-<number>``; ``code`` names the ACL class
(``ACL_CLASSES``), ``number`` the document or ticket. A leak in any returned text (answer,
snippet, source title, stored conversation, draft reply, similar ticket) is then a regex match.
The markers split into the lexical index's terms ``aclmark``, ``<code>`` and ``<number>``, so a
question that names a marker is a keyword hit on every chunk of that class: exactly the query a
missing filter would answer.

The prose comes from per-topic templates with slots (systems, sites, amounts, teams), one topic
family per group, so that restricted documents have their own vocabulary (salary bands, payment
runs, domain controllers, site closures) and questions about it can target them. Seeded:
the same arguments always give the same files.
"""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MARKER = re.compile(r"ACLMARK-([a-z]+)-(\d{5})")
SIDECAR = ".lotse-acl"
EVERYONE = "everyone"
AGENTS = "agents"  # the agents' full ticket records (knowledge.tickets.documents)


def marker(code: str, number: int) -> str:
    return f"ACLMARK-{code}-{number:05d}"


def markers_in(text: str) -> set[str]:
    """The ACL class codes of every marker in ``text``."""
    return {m.group(1) for m in MARKER.finditer(text)}


@dataclass(frozen=True)
class AclClass:
    """One ACL class of content: who may read its (employee-visible) chunks."""

    code: str
    acl: tuple[str, ...]  # the groups of its chunks; any one of them grants access
    ticket: bool = False  # ticket knowledge, also in the agents' full records (``agent_acl``)


ACL_CLASSES: dict[str, AclClass] = {
    c.code: c
    for c in (
        AclClass("pub", (EVERYONE,)),
        AclClass("hr", ("hr",)),
        AclClass("fin", ("finance",)),
        AclClass("itadm", ("it-admins",)),
        AclClass("mgmt", ("management",)),
        AclClass("hrfin", ("finance", "hr")),
        AclClass("boardx", ("board-x",)),
        AclClass("tkpub", (EVERYONE,), ticket=True),
        AclClass("tkhr", ("hr",), ticket=True),
    )
}
RESTRICTED_GROUPS = ("hr", "finance", "it-admins", "management", "board-x")


def readable(code: str, acl_groups: Sequence[str], *, agent_records: bool = False) -> bool:
    """May a caller with ``acl_groups`` (``Caller.acl_groups``) see content of class ``code``?

    ``agent_records``: the path shows the agents' full ticket records (similar tickets and the
    drafts built from them): those of an export open to everyone every agent may read, those
    of an export for groups (``--acl hr``) only the agents in one of them (docs/tickets.md)."""
    cls = ACL_CLASSES[code]
    if cls.ticket and EVERYONE in cls.acl and (agent_records or AGENTS in acl_groups):
        return True
    return bool(set(cls.acl) & set(acl_groups))


# -- vocabulary ---------------------------------------------------------------------------------
Lang = str  # "de" or "en"


@dataclass(frozen=True)
class Topic:
    """Templates of one subject; ``{slot}`` placeholders are filled from ``slots[language]``."""

    key: str
    slots: Mapping[Lang, Mapping[str, Sequence[str]]]
    titles: Mapping[Lang, Sequence[str]]
    headings: Mapping[Lang, Sequence[str]]
    sentences: Mapping[Lang, Sequence[str]]
    questions: Mapping[Lang, Sequence[str]]


_COMMON: dict[Lang, dict[str, Sequence[str]]] = {
    "de": {
        "site": ("Bremen", "Leipzig", "Hamburg", "Emden", "Wolfsburg", "Kassel"),
        "team": ("Vertrieb", "Konstruktion", "Einkauf", "Logistik", "Montage", "Qualität"),
        "days": ("drei", "fünf", "zehn", "vierzehn", "zwanzig"),
        "amount": ("2.500", "12.000", "48.000", "150.000", "1,2 Mio."),
        "when": ("bis Freitag", "zum Monatsende", "vor dem Quartalsabschluss", "innerhalb 48 h"),
        "role": ("Teamleitung", "Bereichsleitung", "Fachbereich", "Kostenstellenverantwortliche"),
    },
    "en": {
        "site": ("Bremen", "Leipzig", "Hamburg", "Emden", "Wolfsburg", "Kassel"),
        "team": ("Sales", "Engineering", "Purchasing", "Logistics", "Assembly", "Quality"),
        "days": ("three", "five", "ten", "fourteen", "twenty"),
        "amount": ("2,500", "12,000", "48,000", "150,000", "1.2 million"),
        "when": ("by Friday", "by the end of the month", "before quarter close", "within 48 h"),
        "role": ("team lead", "head of department", "business owner", "cost centre owner"),
    },
}


def _slots(**extra: Mapping[Lang, Sequence[str]]) -> dict[Lang, dict[str, Sequence[str]]]:
    out: dict[Lang, dict[str, Sequence[str]]] = {lang: dict(v) for lang, v in _COMMON.items()}
    for name, per_lang in extra.items():
        for lang, values in per_lang.items():
            out[lang][name] = values
    return out


TOPICS: dict[str, tuple[Topic, ...]] = {
    "pub": (
        Topic(
            "it-basics",
            _slots(
                system={
                    "de": ("Cisco AnyConnect", "FollowMe-Druck", "Outlook", "Teams", "WLAN Corp"),
                    "en": ("Cisco AnyConnect", "FollowMe printing", "Outlook", "Teams", "Wi-Fi"),
                },
                device={
                    "de": ("ThinkPad", "Diensthandy", "Dockingstation", "Headset"),
                    "en": ("ThinkPad", "company phone", "docking station", "headset"),
                },
            ),
            titles={
                "de": ("Anleitung {system} für {team}", "{system} am Standort {site}"),
                "en": ("How to use {system} in {team}", "{system} at the {site} site"),
            },
            headings={
                "de": ("Einrichtung", "Anmeldung", "Häufige Fehler", "Neues Gerät", "Support"),
                "en": ("Setup", "Signing in", "Common errors", "New device", "Getting help"),
            },
            sentences={
                "de": (
                    "Starten Sie {system} auf dem {device} und melden Sie sich mit dem "
                    "Firmenkonto an.",
                    "Am Standort {site} hilft der Servicedesk unter Durchwahl 4444.",
                    "Wenn {system} nach dem Update hängt, starten Sie das {device} neu.",
                    "Ein neues {device} bestellen Sie im Self-Service-Portal, Lieferung in "
                    "{days} Arbeitstagen.",
                    "Das Passwort läuft alle 180 Tage ab; ändern Sie es rechtzeitig.",
                    "Für {team} ist {system} vorinstalliert und wird automatisch aktualisiert.",
                ),
                "en": (
                    "Start {system} on your {device} and sign in with your company account.",
                    "At the {site} site the service desk answers on extension 4444.",
                    "If {system} hangs after an update, restart the {device}.",
                    "Order a new {device} in the self-service portal; it arrives in {days} "
                    "working days.",
                    "Passwords expire every 180 days; change yours in time.",
                    "For {team}, {system} comes preinstalled and updates itself.",
                ),
            },
            questions={
                "de": (
                    "Wie richte ich {system} auf dem {device} ein?",
                    "Wo bekomme ich Hilfe zu {system} in {site}?",
                ),
                "en": (
                    "How do I set up {system} on my {device}?",
                    "Who helps with {system} at the {site} site?",
                ),
            },
        ),
        Topic(
            "facilities",
            _slots(
                place={
                    "de": ("Parkhaus", "Kantine", "Besprechungsraum", "Empfang", "Ladesäule"),
                    "en": ("car park", "canteen", "meeting room", "reception", "charging point"),
                },
            ),
            titles={
                "de": ("{place} am Standort {site}", "Hinweise zum {place}"),
                "en": ("The {place} at {site}", "Notes on the {place}"),
            },
            headings={
                "de": ("Öffnungszeiten", "Buchung", "Gäste", "Regeln", "Ansprechpartner"),
                "en": ("Opening hours", "Booking", "Visitors", "Rules", "Contacts"),
            },
            sentences={
                "de": (
                    "Das {place} in {site} ist werktags von 7 bis 19 Uhr geöffnet.",
                    "Gäste melden sich am Empfang und erhalten einen Besucherausweis.",
                    "Buchen Sie den {place} in Outlook über die Raumliste von {site}.",
                    "Die Haustechnik erreichen Sie unter Durchwahl 3100.",
                    "Für {team} sind im {place} feste Zeiten reserviert.",
                ),
                "en": (
                    "The {place} in {site} is open on weekdays from 7 am to 7 pm.",
                    "Visitors sign in at reception and get a visitor badge.",
                    "Book the {place} in Outlook using the {site} room list.",
                    "Facility management answers on extension 3100.",
                    "{team} has fixed slots reserved in the {place}.",
                ),
            },
            questions={
                "de": ("Wann hat das {place} in {site} geöffnet?", "Wie buche ich den {place}?"),
                "en": ("When is the {place} in {site} open?", "How do I book the {place}?"),
            },
        ),
    ),
    "hr": (
        Topic(
            "salary",
            _slots(
                band={
                    "de": ("Entgeltband E7", "Entgeltband E9", "Entgeltband E11", "AT-Band"),
                    "en": ("salary band E7", "salary band E9", "salary band E11", "band AT"),
                },
                measure={
                    "de": ("Abmahnung", "Leistungsbeurteilung", "Gehaltserhöhung", "Bonus"),
                    "en": ("written warning", "performance review", "pay rise", "bonus"),
                },
            ),
            titles={
                "de": ("Vertraulich: {band} in {team}", "Personalakte {team}: {measure}"),
                "en": ("Confidential: {band} in {team}", "Personnel file {team}: {measure}"),
            },
            headings={
                "de": ("Einstufung", "Gehaltsspanne", "Begründung", "Fristen", "Betriebsrat"),
                "en": ("Grading", "Salary range", "Rationale", "Deadlines", "Works council"),
            },
            sentences={
                "de": (
                    "Das {band} liegt in {site} zwischen 4.850 und 6.200 Euro brutto.",
                    "Die {measure} für {team} wird von der {role} vorbereitet.",
                    "Eine {measure} muss der Betriebsrat binnen {days} Tagen erhalten.",
                    "Die Einstufung in das {band} prüft HR {when}.",
                    "Gehaltsdaten von {team} werden nur verschlüsselt versandt.",
                ),
                "en": (
                    "In {site}, {band} ranges from 4,850 to 6,200 euros gross.",
                    "The {measure} for {team} is prepared by the {role}.",
                    "The works council receives every {measure} within {days} days.",
                    "HR reviews the grading into {band} {when}.",
                    "Salary data of {team} is only sent encrypted.",
                ),
            },
            questions={
                "de": (
                    "Wie hoch ist das {band} in {team}?",
                    "Wer bereitet die {measure} in {team} vor?",
                ),
                "en": ("What is the range of {band} in {team}?", "Who prepares the {measure}?"),
            },
        ),
    ),
    "fin": (
        Topic(
            "payments",
            _slots(
                object={
                    "de": ("Zahlungslauf", "Eingangsrechnung", "Budgetfreigabe", "Forecast"),
                    "en": ("payment run", "supplier invoice", "budget approval", "forecast"),
                },
                cost={"de": ("KST-4711", "KST-2030", "KST-8800"), "en": ("CC-4711", "CC-2030")},
            ),
            titles={
                "de": ("{object} für Kostenstelle {cost}", "Finanzen {site}: {object}"),
                "en": ("{object} for cost centre {cost}", "Finance {site}: {object}"),
            },
            headings={
                "de": ("Freigabegrenzen", "Ablauf", "Prüfung", "Termine", "Abweichungen"),
                "en": ("Approval limits", "Process", "Checks", "Dates", "Deviations"),
            },
            sentences={
                "de": (
                    "Der {object} für {cost} wird {when} in SAP gebucht.",
                    "Beträge über {amount} Euro gibt die {role} frei.",
                    "Der {object} von {team} weicht um {days} Prozent vom Plan ab.",
                    "Die Kreditorenbuchhaltung in {site} prüft jede Eingangsrechnung doppelt.",
                    "Skonto wird genutzt, wenn die Zahlung binnen {days} Tagen erfolgt.",
                ),
                "en": (
                    "The {object} for {cost} is posted in SAP {when}.",
                    "Amounts above {amount} euros need approval by the {role}.",
                    "The {object} of {team} deviates {days} percent from plan.",
                    "Accounts payable in {site} checks every supplier invoice twice.",
                    "Early-payment discount applies when we pay within {days} days.",
                ),
            },
            questions={
                "de": ("Wann ist der nächste {object} für {cost}?", "Wer gibt {amount} Euro frei?"),
                "en": ("When is the next {object} for {cost}?", "Who approves {amount} euros?"),
            },
        ),
    ),
    "itadm": (
        Topic(
            "runbooks",
            _slots(
                host={
                    "de": ("Domänencontroller DC01", "Backup-Server BKP02", "Firewall FW-Core"),
                    "en": ("domain controller DC01", "backup server BKP02", "firewall FW-Core"),
                },
                task={
                    "de": ("Wiederherstellung", "Patchen", "Admin-Konto sperren", "Regeländerung"),
                    "en": ("restore", "patching", "locking an admin account", "rule change"),
                },
            ),
            titles={
                "de": ("Runbook: {task} auf {host}", "Betriebshandbuch {host} ({site})"),
                "en": ("Runbook: {task} on {host}", "Operations manual {host} ({site})"),
            },
            headings={
                "de": ("Voraussetzungen", "Schritte", "Prüfung", "Rückfall", "Eskalation"),
                "en": ("Prerequisites", "Steps", "Verification", "Rollback", "Escalation"),
            },
            sentences={
                "de": (
                    "Melden Sie sich am {host} nur mit dem privilegierten Tier-0-Konto an.",
                    "Die {task} auf {host} erfolgt im Wartungsfenster sonntags ab 22 Uhr.",
                    "Vor jeder {task} wird ein Snapshot erstellt und im Change vermerkt.",
                    "Schlägt die {task} fehl, informieren Sie die Rufbereitschaft in {site}.",
                    "Das Break-Glass-Passwort liegt versiegelt im Tresor in {site}.",
                ),
                "en": (
                    "Sign in to {host} only with the privileged tier-0 account.",
                    "{task} on {host} happens in the Sunday maintenance window after 10 pm.",
                    "Before each {task}, take a snapshot and note it in the change.",
                    "If the {task} fails, call the on-call engineer in {site}.",
                    "The break-glass password is sealed in the safe in {site}.",
                ),
            },
            questions={
                "de": ("Wie läuft die {task} auf {host}?", "Wo liegt das Break-Glass-Passwort?"),
                "en": ("How is the {task} on {host} done?", "Where is the break-glass password?"),
            },
        ),
    ),
    "mgmt": (
        Topic(
            "strategy",
            _slots(
                plan={
                    "de": ("Reorganisation", "Standortschließung", "Zukauf", "Sparprogramm"),
                    "en": ("reorganisation", "site closure", "acquisition", "savings programme"),
                },
            ),
            titles={
                "de": ("Geschäftsführung: {plan} {site}", "Strategiepapier {plan}"),
                "en": ("Executive board: {plan} {site}", "Strategy paper {plan}"),
            },
            headings={
                "de": ("Ausgangslage", "Zeitplan", "Kennzahlen", "Kommunikation", "Risiken"),
                "en": ("Background", "Timeline", "Key figures", "Communication", "Risks"),
            },
            sentences={
                "de": (
                    "Die {plan} in {site} soll {amount} Euro im Jahr einsparen.",
                    "Die Belegschaft von {team} wird erst nach dem Beschluss informiert.",
                    "Der Aufsichtsrat berät die {plan} {when}.",
                    "Bis zur Bekanntgabe gilt für die {plan} strengste Vertraulichkeit.",
                    "Betroffen sind rund {days} Stellen in {team}.",
                ),
                "en": (
                    "The {plan} in {site} is meant to save {amount} euros a year.",
                    "Staff in {team} are told only after the decision.",
                    "The supervisory board discusses the {plan} {when}.",
                    "Until the announcement the {plan} is strictly confidential.",
                    "About {days} positions in {team} are affected.",
                ),
            },
            questions={
                "de": ("Was plant die Geschäftsführung mit der {plan} in {site}?",),
                "en": ("What does the board plan for the {plan} in {site}?",),
            },
        ),
    ),
    "hrfin": (
        Topic(
            "payroll",
            _slots(
                item={
                    "de": ("Lohnabrechnung", "Dienstwagenversteuerung", "Pfändung", "Abfindung"),
                    "en": ("payroll", "company car tax", "wage garnishment", "severance pay"),
                },
            ),
            titles={
                "de": ("Entgeltabrechnung: {item} {site}", "{item} für {team}"),
                "en": ("Payroll office: {item} {site}", "{item} for {team}"),
            },
            headings={
                "de": ("Stichtage", "Berechnung", "Buchung", "Datenschutz"),
                "en": ("Cut-off dates", "Calculation", "Posting", "Data protection"),
            },
            sentences={
                "de": (
                    "Die {item} für {team} wird {when} an DATEV übergeben.",
                    "Eine {item} über {amount} Euro bucht die Finanzbuchhaltung separat.",
                    "Änderungen zur {item} müssen {days} Tage vor dem Stichtag vorliegen.",
                    "Auskünfte zur {item} gibt nur das Entgeltbüro in {site}.",
                ),
                "en": (
                    "The {item} for {team} goes to DATEV {when}.",
                    "Accounting posts a {item} above {amount} euros separately.",
                    "Changes to the {item} are due {days} days before the cut-off.",
                    "Only the payroll office in {site} answers questions on the {item}.",
                ),
            },
            questions={
                "de": ("Wann wird die {item} für {team} übergeben?",),
                "en": ("When does the {item} for {team} go to DATEV?",),
            },
        ),
    ),
}

BOARD_X_TITLE = "Projekt Nordlicht: Übernahme der Kranich Hydraulik AG"
BOARD_X_SECTIONS = (
    (
        "Anlass",
        "Der Aufsichtsrat X prüft die Übernahme der Kranich Hydraulik AG unter dem "
        "Codenamen Projekt Nordlicht.",
    ),
    (
        "Kaufpreis",
        "Für Projekt Nordlicht ist ein Kaufpreis von 84 Millionen Euro vorgesehen, "
        "zahlbar in zwei Tranchen.",
    ),
    (
        "Due Diligence",
        "Die Due Diligence zu Projekt Nordlicht führt eine externe Kanzlei bis "
        "Ende des Quartals durch.",
    ),
    (
        "Zeitplan",
        "Das Signing von Projekt Nordlicht ist für den 14. März geplant, das Closing "
        "nach der Kartellfreigabe.",
    ),
    (
        "Vertraulichkeit",
        "Über Projekt Nordlicht darf nur der Aufsichtsrat X sprechen; Insider "
        "werden in einer Liste geführt.",
    ),
)
BOARD_X_QUESTIONS = {
    "de": "Welcher Kaufpreis ist für Projekt Nordlicht vorgesehen?",
    "en": "What purchase price is planned for Projekt Nordlicht?",
}


# -- the corpus ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Folder:
    """A folder of generated documents and its sidecar (``None``: no sidecar, the source's
    ``--acl`` or the default applies)."""

    code: str
    path: str  # relative to the corpus root of its source
    sidecar: tuple[str, ...] | None
    documents: int


@dataclass
class Corpus:
    roots: dict[str, Path]  # source name -> folder to ingest
    source_acl: dict[str, tuple[str, ...]]  # source name -> ``--acl`` of its ingest ([] none)
    documents: dict[str, int] = field(default_factory=dict)  # ACL class -> documents written
    sections: dict[str, int] = field(default_factory=dict)  # ACL class -> sections written
    numbers: dict[str, list[int]] = field(default_factory=dict)  # ACL class -> marker numbers
    board_x_number: int = 0


# Two sources: the wiki (sidecars decide; a nested sidecar inside management narrows one
# folder to the board) and the runbooks, which have no sidecar and get ``--acl it-admins``.
WIKI = "wiki"
RUNBOOKS = "runbooks"
LAYOUT: dict[str, tuple[Folder, ...]] = {
    WIKI: (
        Folder("pub", "allgemein", None, 110),
        Folder("pub", "allgemein/aushang", None, 2),  # re-permissioned by the reindex test
        Folder("hr", "personal/vertraulich", ("hr",), 74),
        Folder("fin", "finanzen", ("finance",), 74),
        Folder("mgmt", "geschaeftsfuehrung", ("management",), 60),
        Folder("hrfin", "entgeltbuero", ("hr", "finance"), 30),
        Folder("boardx", "geschaeftsfuehrung/aufsichtsrat-x", ("board-x",), 1),
    ),
    RUNBOOKS: (Folder("itadm", "betrieb", None, 74),),
}
SOURCE_ACL = {WIKI: (), RUNBOOKS: ("it-admins",)}
SECTIONS_PER_DOCUMENT = (11, 13)  # inclusive range; one chunk per section (see below)


def _fill(template: str, slots: Mapping[str, Sequence[str]], rng: random.Random) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(list(slots[m.group(1)])), template)


def _section(topic: Topic, lang: Lang, mark: str, rng: random.Random) -> str:
    """Three sentences and the marker, 150-300 characters: far below one chunk (300
    tokens), and above the chunker's merge threshold, so each section is exactly one chunk."""
    slots = topic.slots[lang]
    sentences = [_fill(s, slots, rng) for s in rng.sample(list(topic.sentences[lang]), 3)]
    reference = {"de": f"Referenz {mark}.", "en": f"Reference {mark}."}[lang]
    sentences.insert(rng.randrange(len(sentences) + 1), reference)
    return " ".join(sentences)


def _document(topics: Sequence[Topic], code: str, number: int, rng: random.Random) -> str:
    lang = "de" if number % 2 else "en"
    topic = topics[number % len(topics)]
    mark = marker(code, number)
    title = f"{_fill(rng.choice(list(topic.titles[lang])), topic.slots[lang], rng)} ({mark})"
    lines = [f"# {title}", ""]
    count = rng.randint(*SECTIONS_PER_DOCUMENT)
    headings = list(topic.headings[lang])
    for i in range(count):
        heading = f"{headings[i % len(headings)]} {i // len(headings) + 1}"
        lines += [f"## {heading}", "", _section(topic, lang, mark, rng), ""]
    return "\n".join(lines)


def _board_x(number: int) -> str:
    mark = marker("boardx", number)
    lines = [f"# {BOARD_X_TITLE} ({mark})", ""]
    for heading, text in BOARD_X_SECTIONS:
        lines += [f"## {heading}", "", f"{text} Referenz {mark}. Nur für den Aufsichtsrat X.", ""]
    return "\n".join(lines)


def write_corpus(root: Path, seed: int = 4, scale: float = 1.0) -> Corpus:
    """Write both sources under ``root``; returns where they are and what went in.
    ``scale`` shrinks every folder (at least one document each), for a quick trial run."""
    rng = random.Random(seed)
    corpus = Corpus(roots={}, source_acl=dict(SOURCE_ACL))
    number = 0
    for source, folders in LAYOUT.items():
        base = root / source
        corpus.roots[source] = base
        for folder in folders:
            target = base / folder.path
            target.mkdir(parents=True, exist_ok=True)
            if folder.sidecar is not None:
                (target / SIDECAR).write_text(
                    "# who may read this folder\n" + "\n".join(folder.sidecar) + "\n",
                    encoding="utf-8",
                )
            for _ in range(max(1, round(folder.documents * scale))):
                number += 1
                if folder.code == "boardx":
                    text = _board_x(number)
                    corpus.board_x_number = number
                    sections = len(BOARD_X_SECTIONS)
                else:
                    text = _document(TOPICS[folder.code], folder.code, number, rng)
                    sections = text.count("\n## ")
                name = f"{folder.code}-{number:05d}.md"
                (target / name).write_text(text, encoding="utf-8")
                corpus.documents[folder.code] = corpus.documents.get(folder.code, 0) + 1
                corpus.sections[folder.code] = corpus.sections.get(folder.code, 0) + sections
                corpus.numbers.setdefault(folder.code, []).append(number)
    return corpus


# -- tickets ------------------------------------------------------------------------------------
TICKET_TOPICS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    # (language, subject, body, answer): {mark} is the ticket's marker
    "tkpub": (
        (
            "de",
            "Drucker druckt nicht",
            "Hallo, der FollowMe-Drucker im 2. OG in {site} zieht kein Papier ein. {mark}",
            "Guten Tag, bitte den Auftrag am Gerät löschen und neu senden; Papierfach 2 war "
            "verklemmt und wurde getauscht. {mark}",
        ),
        (
            "en",
            "VPN drops every hour",
            "Hi, AnyConnect disconnects every hour when I work from {site}. {mark}",
            "Hello, please update AnyConnect from the self-service portal; the new profile "
            "keeps the tunnel alive. {mark}",
        ),
    ),
    "tkhr": (
        (
            "de",
            "Frage zur Gehaltsabrechnung",
            "Hallo, in meiner Gehaltsabrechnung fehlt die Schichtzulage aus {site}. {mark}",
            "Guten Tag, die Schichtzulage wird mit der nächsten Entgeltabrechnung nachgezahlt; "
            "das Entgeltband bleibt unverändert. {mark}",
        ),
        (
            "en",
            "Parental leave request",
            "Hi, I want to take parental leave from May and work part-time in {site}. {mark}",
            "Hello, HR confirmed the parental leave; the part-time contract and the salary band "
            "are attached to your personnel file. {mark}",
        ),
    ),
}
TICKET_FIELDS = (
    *("id", "subject", "body", "answer", "queue", "priority", "type", "language"),
    *("created", "closed", "tags"),
)


@dataclass(frozen=True)
class TicketSet:
    code: str
    path: Path
    ids: tuple[str, ...]


def write_tickets(root: Path, code: str, count: int, first: int, seed: int = 7) -> TicketSet:
    """A generic-format CSV export of ``count`` solved tickets of class ``code``."""
    rng = random.Random(seed + first)
    sites = _COMMON["de"]["site"]
    rows = []
    for i in range(count):
        number = first + i
        lang, subject, body, answer = TICKET_TOPICS[code][i % len(TICKET_TOPICS[code])]
        mark, site = marker(code, number), rng.choice(list(sites))
        rows.append(
            {
                "id": f"{code.upper()}-{number:05d}",
                "subject": f"{subject} ({mark})",
                "body": body.format(mark=mark, site=site),
                "answer": answer.format(mark=mark, site=site),
                "queue": "HR-Service" if code == "tkhr" else "IT-Servicedesk",
                "priority": rng.choice(("low", "normal", "high")),
                "type": "service_request",
                "language": lang,
                "created": f"2024-{1 + i % 12:02d}-{1 + i % 27:02d}T09:00:00",
                "closed": f"2024-{1 + i % 12:02d}-{1 + i % 27:02d}T15:30:00",
                "tags": f"{code};{mark}",  # the metadata chunk of the full record too
            }
        )
    path = root / f"{code}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(TICKET_FIELDS))
        writer.writeheader()
        writer.writerows(rows)
    return TicketSet(code, path, tuple(str(r["id"]) for r in rows))


# -- questions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    text: str
    target: str  # the ACL class it is about
    language: Lang


def questions(corpus: Corpus, count: int, seed: int) -> list[Question]:
    """``count`` questions over every ACL class, German and English: topic questions, the
    marker tokens themselves, and topic words with a marker class, round-robin by class."""
    rng = random.Random(seed)
    codes = [c for c in ACL_CLASSES if c in corpus.numbers or ACL_CLASSES[c].ticket]
    out: list[Question] = []
    while len(out) < count:
        code = codes[len(out) % len(codes)]
        lang = rng.choice(("de", "en"))
        kind = rng.randrange(4)
        if code == "boardx":
            number = corpus.board_x_number
            text = BOARD_X_QUESTIONS[lang] if kind < 2 else f"Nordlicht {marker(code, number)}"
        elif ACL_CLASSES[code].ticket:
            subject = rng.choice(TICKET_TOPICS[code])[1]
            text = subject if kind < 3 else f"{subject} ACLMARK {code}"
        elif kind < 2:
            topic = rng.choice(TOPICS[code])
            text = _fill(rng.choice(list(topic.questions[lang])), topic.slots[lang], rng)
        elif kind == 2:
            text = marker(code, rng.choice(corpus.numbers[code]))
        else:
            topic = rng.choice(TOPICS[code])
            title = _fill(rng.choice(list(topic.titles[lang])), topic.slots[lang], rng)
            text = f"{title} ACLMARK {code}"
        out.append(Question(text, code, lang))
    return out
