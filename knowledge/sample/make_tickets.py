"""Generate ``tickets.csv`` (historical helpdesk tickets) from ``sources/tickets/``.

The ticket texts are hand-written in ``sources/tickets/tickets_de.py`` / ``tickets_en.py``;
resolutions come from the service desk's text blocks in ``answers.py``. This script adds the
reporters (fictional people with signatures, phone numbers, e-mail addresses — deliberately
personal data for the redaction tests), IBANs with valid check digits, home addresses, ids and
dates. A fixed random seed keeps the output identical on every run.

Usage: ``python knowledge/sample/make_tickets.py``
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "sources" / "tickets"))

from answers import ANS  # noqa: E402
from tickets_de import TICKETS_DE  # noqa: E402
from tickets_en import TICKETS_EN  # noqa: E402

SEED = 20240917
OUT = HERE / "tickets.csv"
COLUMNS = [
    "id",
    "subject",
    "body",
    "answer",
    "queue",
    "priority",
    "type",
    "language",
    "created",
    "closed",
    "tags",
]

# name, e-mail local part, department, site, extension
PEOPLE_DE = [
    ("Jens Meyer", "j.meyer", "Konstruktion", "BRE", "1234"),
    ("Sabine Krüger", "s.krueger", "Einkauf", "BRE", "2731"),
    ("Ahmet Demir", "a.demir", "Montage Halle 1", "BRE", "3817"),
    ("Claudia Schulz", "c.schulz", "Vertrieb Innendienst", "BRE", "2842"),
    ("Frank Böttcher", "f.boettcher", "Fertigung", "LEI", "5512"),
    ("Petra Lange", "p.lange", "Buchhaltung", "BRE", "2618"),
    ("Uwe Hinrichs", "u.hinrichs", "Instandhaltung", "BRE", "3921"),
    ("Nicole Brandt", "n.brandt", "Personal", "BRE", "2214"),
    ("Torsten Vogel", "t.vogel", "Kundendienst", "BRE", "2955"),
    ("Melanie Wagner", "m.wagner", "Qualitätsmanagement", "BRE", "3140"),
    ("Dirk Janssen", "d.janssen", "Projektleitung", "BRE", "1288"),
    ("Katja Neumann", "k.neumann", "Service", "LEI", "5630"),
    ("Stefan Richter", "s.richter", "Ersatzteillogistik", "LEI", "5744"),
    ("Anke Fischer", "a.fischer", "Controlling", "BRE", "2660"),
    ("Holger Steffens", "h.steffens", "Vertrieb Außendienst", "BRE", "2870"),
    ("Julia Becker", "j.becker", "Marketing", "BRE", "2901"),
    ("Marco Lehmann", "m.lehmann", "Arbeitsvorbereitung", "LEI", "5821"),
    ("Birgit Otten", "b.otten", "Empfang", "BRE", "1001"),
    ("Sven Harms", "s.harms", "Wareneingang", "BRE", "3660"),
    ("Lena Köhler", "l.koehler", "Personal", "BRE", "2236"),
    ("Mehmet Yilmaz", "m.yilmaz", "Produktionsplanung", "LEI", "5810"),
    ("Renate Gerdes", "r.gerdes", "Geschäftsführungsassistenz", "BRE", "1010"),
]
PEOPLE_EN = [
    ("Emma Collins", "e.collins", "Export Sales", "BRE", "2877"),
    ("Raj Patel", "r.patel", "Automation Engineering", "BRE", "1342"),
    ("Tomasz Nowak", "t.nowak", "Service", "LEI", "5671"),
    ("Sarah O'Connor", "s.oconnor", "Marketing", "BRE", "2915"),
    ("Lucas Martin", "l.martin", "Project Management", "BRE", "1296"),
    ("Ana Ferreira", "a.ferreira", "Quality", "LEI", "5790"),
    ("David Kim", "d.kim", "Design", "BRE", "1251"),
    ("Olga Ivanova", "o.ivanova", "Controlling", "BRE", "2671"),
    ("Michael Brown", "m.brown", "Field Service", "BRE", "2961"),
    ("Priya Sharma", "p.sharma", "IT Business Applications", "BRE", "4431"),
    ("Jonas Larsen", "j.larsen", "Sales Scandinavia", "BRE", "2885"),
    ("Chloe Dubois", "c.dubois", "Key Account Management", "BRE", "2890"),
]
AGENTS = {
    "de": {
        "IT": ["Jana Petersen", "Kai Wendt", "Tim Oltmanns"],
        "HR-Service": ["Nicole Brandt"],
        "Facility": ["Jörg Hasselmann"],
        "Einkauf": ["Sabine Krüger"],
    },
    "en": {
        "IT": ["Jana Petersen", "Kai Wendt", "Tim Oltmanns"],
        "HR-Service": ["Nicole Brandt"],
        "Facility": ["Jörg Hasselmann"],
        "Einkauf": ["Sabine Krüger"],
    },
}
STREETS = [
    "Lindenstraße",
    "Am Wall",
    "Hemelinger Heerstraße",
    "Schwachhauser Ring",
    "Kirchweg",
    "Friedrich-Ebert-Straße",
    "Eisenbahnstraße",
    "Holzweg",
]
CITIES = [
    ("28203", "Bremen"),
    ("28209", "Bremen"),
    ("28779", "Bremen"),
    ("27753", "Delmenhorst"),
    ("04109", "Leipzig"),
    ("04315", "Leipzig"),
    ("28816", "Stuhr"),
]
BANK_CODES = ["29050101", "29040090", "86055592", "86050200", "29152670"]


def iban(rng: random.Random) -> str:
    bank = rng.choice(BANK_CODES)
    account = f"{rng.randrange(10**9, 10**10):010d}"
    bban = bank + account
    numeric = int(bban + "131400")  # "DE" -> 13 14, then "00"
    check = 98 - numeric % 97
    raw = f"DE{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def phone(site: str, ext: str) -> str:
    return f"+49 {'421' if site == 'BRE' else '341'} 5550-{ext}"


def mobile(rng: random.Random) -> str:
    return f"+49 {rng.choice(['151', '160', '170', '176'])} {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}"


def signature(rng: random.Random, person: tuple, lang: str) -> str:
    name, local, dept, site, ext = person
    first = name.split()[0]
    mail = f"{local}@nordwind.de"
    style = rng.randrange(6)
    site_name = "Bremen" if site == "BRE" else "Leipzig"
    if style == 0:
        greet = "Gruß" if lang == "de" else "Thanks"
        return f"{greet}\n{name}"
    if style == 1:
        greet = "Viele Grüße" if lang == "de" else "Best regards"
        return (
            f"{greet}\n\n{name}\n{dept} | Nordwind Maschinenbau GmbH\nTel. {phone(site, ext)}\n"
            f"{mail}\nAm Holzhafen 18, 28217 Bremen"
            if site == "BRE"
            else f"{greet}\n\n{name}\n{dept} | Nordwind Maschinenbau GmbH\nTel. {phone(site, ext)}\n"
            f"{mail}\nTorgauer Straße 231, 04347 Leipzig"
        )
    if style == 2:
        return f"VG {first}" if lang == "de" else f"Cheers, {first}"
    if style == 3:
        label = "Mobil" if lang == "de" else "Mobile"
        return f"--\n{name}\n{dept}, {site_name}\nTel.: {phone(site, ext)} / {label}: {mobile(rng)}\nE-Mail: {mail}"
    if style == 4:
        return f"{name} ({dept}, DW {ext})" if lang == "de" else f"{name} ({dept}, ext. {ext})"
    greet = "Danke und Gruß" if lang == "de" else "Thank you"
    return f"{greet}\n{name}\n{mail} | {phone(site, ext)}"


def address(rng: random.Random) -> str:
    plz, city = rng.choice(CITIES)
    return f"{rng.choice(STREETS)} {rng.randrange(1, 140)}, {plz} {city}"


def resolution(rng: random.Random, key: str | None, lang: str, queue: str, person: tuple) -> str:
    if key is None:
        return ""
    text = key[1:] if key.startswith("!") else ANS[lang][key]
    team = queue if queue in ("HR-Service", "Facility", "Einkauf") else "IT"
    agent = rng.choice(AGENTS[lang][team])
    desk = {
        "IT": "IT-Servicedesk" if lang == "de" else "IT Service Desk",
        "HR-Service": "HR-Service",
        "Facility": "Facility Management",
        "Einkauf": "Zentraler Einkauf" if lang == "de" else "Purchasing",
    }[team]
    last = person[0].split()[-1]
    if lang == "de":
        hello = rng.choice(
            [f"Hallo {person[0].split()[0]},", f"Guten Tag {person[0]},", "Hallo,", "Moin,"]
        )
        bye = rng.choice(["Viele Grüße", "Beste Grüße", "Gruß"])
    else:
        hello = rng.choice(
            [f"Hi {person[0].split()[0]},", f"Hello {person[0]},", "Hello,", f"Dear {last},"]
        )
        bye = rng.choice(["Best regards", "Kind regards", "Cheers"])
    return f"{hello}\n{text}\n{bye}\n{agent}, {desk}"


HOURS_TO_CLOSE = {"critical": (1, 6), "high": (2, 24), "normal": (4, 72), "low": (8, 200)}


def main() -> int:
    rng = random.Random(SEED)
    start = dt.datetime(2023, 1, 9, 7, 0)
    rows = []
    pool = [(t, "de") for t in TICKETS_DE] + [(t, "en") for t in TICKETS_EN]
    rng.shuffle(pool)
    span_minutes = int((dt.datetime(2024, 11, 29) - start).total_seconds() // 60)
    stamps = sorted(rng.randrange(span_minutes) for _ in pool)
    for (ticket, lang), minute in zip(pool, stamps, strict=True):
        queue, priority, ttype, subject, body, key, tags = ticket
        created = start + dt.timedelta(minutes=minute)
        if created.weekday() >= 5:  # move weekend tickets to Monday morning
            created = created + dt.timedelta(days=7 - created.weekday())
            created = created.replace(hour=7 + created.minute % 3)
        if not 6 <= created.hour <= 18:
            created = created.replace(hour=8 + created.hour % 9)
        person = rng.choice(PEOPLE_DE if lang == "de" else PEOPLE_EN)
        text = body.replace("{sig}", signature(rng, person, lang))
        text = text.replace("{iban}", iban(rng)).replace("{address}", address(rng))
        rows.append(
            {
                "subject": subject,
                "body": text,
                "queue": queue,
                "priority": priority,
                "type": ttype,
                "language": lang,
                "created": created,
                "key": key,
                "person": person,
                "tags": tags,
            }
        )
    # ~15 % without a documented resolution: the tickets written without one, plus the most
    # recent ones, which are still open.
    target_open = round(len(rows) * 0.15)
    unanswered = sum(r["key"] is None for r in rows)
    for row in reversed(rows):
        if unanswered >= target_open:
            break
        if row["key"] is not None:
            row["key"] = None
            unanswered += 1
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for number, row in enumerate(rows, start=1):
            prefix = {"incident": "NW-INC", "service_request": "NW-REQ", "question": "NW-REQ"}[
                row["type"]
            ]
            ticket_id = f"{prefix}-{104000 + number * 7:06d}"
            answer = resolution(rng, row["key"], row["language"], row["queue"], row["person"])
            closed = ""
            if answer:
                low, high = HOURS_TO_CLOSE[row["priority"]]
                closed_at = row["created"] + dt.timedelta(hours=rng.uniform(low, high))
                if not 7 <= closed_at.hour < 18 or closed_at.weekday() >= 5:  # service hours only
                    closed_at = closed_at.replace(hour=7 + closed_at.minute % 10) + dt.timedelta(
                        days=1
                    )
                    while closed_at.weekday() >= 5:
                        closed_at += dt.timedelta(days=1)
                closed = closed_at.strftime("%Y-%m-%dT%H:%M:%S")
            writer.writerow(
                {
                    "id": ticket_id,
                    "subject": row["subject"],
                    "body": row["body"],
                    "answer": answer,
                    "queue": row["queue"],
                    "priority": row["priority"],
                    "type": row["type"],
                    "language": row["language"],
                    "created": row["created"].strftime("%Y-%m-%dT%H:%M:%S"),
                    "closed": closed,
                    "tags": row["tags"],
                }
            )
    print(f"wrote {len(rows)} tickets to {OUT.relative_to(HERE)} ({unanswered} without answer)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
