from __future__ import annotations

import pytest

from knowledge.language import detect_language


@pytest.mark.parametrize(
    "question",
    [
        "Wie setze ich mein Passwort zurück?",
        "VPN geht nicht",
        "Outlook startet nicht mehr",
        "Drucker druckt nicht",
        "Mein Bildschirm bleibt schwarz",
        "Wo finde ich die Urlaubsanträge?",
        "Ich habe mein Kennwort vergessen",
        "Zugriff auf Laufwerk verweigert",
        "Teams stürzt ab",
        "Fehlermeldung beim Anmelden",
        "Kann ich das Notebook mit nach Hause nehmen?",
        "Größe des Postfachs überschritten",
    ],
)
def test_short_german_questions(question: str) -> None:
    assert detect_language(question) == "de"


@pytest.mark.parametrize(
    "question",
    [
        "How do I reset my password?",
        "printer offline",
        "VPN is not working",
        "Outlook does not start anymore",
        "My screen stays black",
        "Where can I find the holiday request form?",
        "I forgot my password",
        "access denied on shared drive",
        "Teams keeps crashing",
        "error when signing in",
        "Can I take the laptop home?",
        "mailbox size exceeded",
    ],
)
def test_short_english_questions(question: str) -> None:
    assert detect_language(question) == "en"


def test_long_documents() -> None:
    german = (
        "## Einrichtung des VPN-Zugangs\n\nUm sich von zu Hause aus mit dem Firmennetz zu "
        "verbinden, installieren Sie zuerst den Client aus dem Softwarecenter. Danach melden "
        "Sie sich mit Ihrem Benutzerkonto an. Wenn die Verbindung nicht zustande kommt, prüfen "
        "Sie bitte, ob Ihr Kennwort abgelaufen ist.\n\n- Schritt 1: Client öffnen\n"
    ) * 50
    english = (
        "## Setting up VPN access\n\nTo connect to the company network from home, first "
        "install the client from the software center. Then sign in with your user account. "
        "If the connection fails, please check whether your password has expired.\n\n"
        "- Step 1: open the client\n"
    ) * 50
    assert detect_language(german) == "de"
    assert detect_language(english) == "en"


def test_mostly_english_document_with_german_names_stays_english() -> None:
    text = (
        "The Müller GmbH office in Düsseldorf uses the same printers as the head office. "
        "Please send all requests to the service desk and include the asset number."
    )
    assert detect_language(text) == "en"


def test_french_and_spanish() -> None:
    assert detect_language("Comment réinitialiser mon mot de passe ?") == "fr"
    assert detect_language("¿Cómo restablezco mi contraseña? La impresora no funciona.") == "es"


@pytest.mark.parametrize("text", ["", "   ", "VPN", "Outlook 365", "12345 67", "SAP-ERP-404", "🙂"])
def test_no_evidence_returns_default(text: str) -> None:
    assert detect_language(text) == "und"
    assert detect_language(text, default="de") == "de"


def test_deterministic_and_case_insensitive() -> None:
    text = "WIE SETZE ICH MEIN PASSWORT ZURÜCK"
    assert {detect_language(text) for _ in range(5)} == {"de"}
