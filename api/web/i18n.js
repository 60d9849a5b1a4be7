// UI strings in German and English. The language follows the browser (navigator.language)
// until the person picks one with the DE/EN switch; that choice is remembered in localStorage.
// Elements carry their string keys in data-i18n* attributes, so switching re-translates the
// whole page, including answers already shown. Strings are always set as text, never as HTML.

const STRINGS = {
  de: {
    pageTitle: "Lotse – IT-Servicedesk-Assistent",
    tagline: "IT-Servicedesk-Assistent",
    skipToQuestion: "Zur Frage springen",
    newConversation: "Neues Gespräch",
    deleteConversation: "Gespräch löschen",
    language: "Sprache",
    introTitle: "Wie kann ich helfen?",
    introAi: "Hier antwortet eine KI (ein Sprachmodell), kein Mensch.",
    introKnowledge:
      "Ihr Wissen stammt ausschließlich aus den internen Dokumenten des Unternehmens. " +
      "Jede Antwort nennt ihre Quellen – prüfen Sie wichtige Angaben bitte dort.",
    introTicket:
      "Findet die KI nichts Passendes, können Sie direkt ein Ticket für den Servicedesk vorbereiten.",
    introPrivacy: "Bitte geben Sie keine Passwörter oder andere Geheimnisse ein.",
    examples: "Beispielfragen",
    example1: "Wie verbinde ich mich mit dem VPN?",
    example2: "Wie hoch ist die Tagespauschale auf Dienstreisen?",
    conversation: "Gespräch",
    questionLabel: "Ihre Frage",
    questionPlaceholder: "Stellen Sie Ihre Frage …",
    send: "Senden",
    stop: "Stopp",
    composerHint: "Enter sendet · Umschalt+Enter für eine neue Zeile",
    aiNotice: "Antworten sind KI-generiert und können Fehler enthalten.",
    you: "Sie",
    assistant: "Lotse",
    aiGenerated: "KI-generiert",
    model: "Modell",
    sources: "Quellen",
    sourceOpen: "Quelle öffnen",
    sourceDocument: "Dokument",
    sourceSection: "Abschnitt",
    sourcePassage: "Zitierte Textstelle",
    close: "Schließen",
    searching: "Suche in der Wissensbasis …",
    writing: "Antwort wird geschrieben …",
    answerReady: "Antwort fertig.",
    stopped: "Abgebrochen.",
    copy: "Antwort kopieren",
    copied: "Antwort kopiert.",
    copyFailed: "Kopieren ist fehlgeschlagen.",
    rateUp: "Hilfreich",
    rateDown: "Nicht hilfreich",
    didntHelp: "Das hat nicht geholfen",
    feedbackThanks: "Danke für Ihr Feedback!",
    feedbackCommentLabel: "Möchten Sie etwas ergänzen? (optional)",
    feedbackCommentSend: "Kommentar senden",
    feedbackCommentThanks: "Danke, Ihr Kommentar wurde gespeichert.",
    feedbackFailed: "Das Feedback konnte nicht gespeichert werden.",
    notFoundOffer: "Soll ich ein Ticket beim IT-Servicedesk für Sie vorbereiten?",
    prepareTicket: "Ticket vorbereiten",
    ticketTitle: "Ticket-Entwurf",
    ticketIntro: "Prüfen und ergänzen Sie den Entwurf, bevor er an den Servicedesk geht.",
    ticketSubject: "Betreff",
    ticketDescription: "Beschreibung",
    ticketNotConfigured: "Ticket-Versand ist noch nicht eingerichtet.",
    ticketNotSent:
      "Dieser Entwurf wurde nicht gesendet. Kopieren Sie ihn bei Bedarf und melden Sie sich " +
      "auf dem üblichen Weg beim Servicedesk.",
    ticketSend: "Ticket senden",
    ticketCopy: "Entwurf kopieren",
    ticketCopied: "Entwurf kopiert – er wurde nicht gesendet.",
    ticketSubjectPrefix: "Anfrage: ",
    ticketHeader: "Verlauf mit dem Self-Service-Assistenten:",
    ticketQuestion: "Frage",
    ticketAnswer: "Antwort (KI-generiert",
    ticketSources: "Genannte Quellen",
    ticketNoAnswer: "(keine Antwort)",
    errorTitle: "Die Antwort ist fehlgeschlagen.",
    errorNetwork: "Keine Verbindung zum Server. Bitte versuchen Sie es erneut.",
    conversationDeleted: "Das Gespräch wurde gelöscht.",
    conversationStarted: "Neues Gespräch begonnen.",
    deleteFailed: "Das Gespräch konnte nicht gelöscht werden.",
  },
  en: {
    pageTitle: "Lotse – IT service desk assistant",
    tagline: "IT service desk assistant",
    skipToQuestion: "Skip to the question",
    newConversation: "New conversation",
    deleteConversation: "Delete conversation",
    language: "Language",
    introTitle: "How can I help?",
    introAi: "An AI (a language model) answers here, not a person.",
    introKnowledge:
      "Its knowledge comes only from the company's internal documents. " +
      "Every answer names its sources — please check important details there.",
    introTicket: "If the AI finds nothing suitable, you can prepare a ticket for the service desk.",
    introPrivacy: "Please do not enter passwords or other secrets.",
    examples: "Example questions",
    example1: "How do I connect to the VPN?",
    example2: "What is the per diem for business travel?",
    conversation: "Conversation",
    questionLabel: "Your question",
    questionPlaceholder: "Ask your question …",
    send: "Send",
    stop: "Stop",
    composerHint: "Enter sends · Shift+Enter for a new line",
    aiNotice: "Answers are AI-generated and may contain mistakes.",
    you: "You",
    assistant: "Lotse",
    aiGenerated: "AI-generated",
    model: "Model",
    sources: "Sources",
    sourceOpen: "Open source",
    sourceDocument: "Document",
    sourceSection: "Section",
    sourcePassage: "Cited passage",
    close: "Close",
    searching: "Searching the knowledge base …",
    writing: "Writing the answer …",
    answerReady: "Answer complete.",
    stopped: "Stopped.",
    copy: "Copy answer",
    copied: "Answer copied.",
    copyFailed: "Copying failed.",
    rateUp: "Helpful",
    rateDown: "Not helpful",
    didntHelp: "This didn't help",
    feedbackThanks: "Thank you for your feedback!",
    feedbackCommentLabel: "Anything to add? (optional)",
    feedbackCommentSend: "Send comment",
    feedbackCommentThanks: "Thanks, your comment was saved.",
    feedbackFailed: "The feedback could not be saved.",
    notFoundOffer: "Shall I prepare a ticket for the service desk?",
    prepareTicket: "Prepare a ticket",
    ticketTitle: "Ticket draft",
    ticketIntro: "Check and complete the draft before it goes to the service desk.",
    ticketSubject: "Subject",
    ticketDescription: "Description",
    ticketNotConfigured: "Ticket sending is not configured yet.",
    ticketNotSent:
      "This draft has not been sent. Copy it if you need it and contact the service desk " +
      "the usual way.",
    ticketSend: "Send ticket",
    ticketCopy: "Copy draft",
    ticketCopied: "Draft copied — it has not been sent.",
    ticketSubjectPrefix: "Request: ",
    ticketHeader: "Conversation with the self-service assistant:",
    ticketQuestion: "Question",
    ticketAnswer: "Answer (AI-generated",
    ticketSources: "Cited sources",
    ticketNoAnswer: "(no answer)",
    errorTitle: "The answer failed.",
    errorNetwork: "No connection to the server. Please try again.",
    conversationDeleted: "The conversation was deleted.",
    conversationStarted: "New conversation started.",
    deleteFailed: "The conversation could not be deleted.",
  },
};

export const LANGUAGES = ["de", "en"];
const STORAGE_KEY = "lotse.language";

let current = "en";

/** The remembered choice, else the browser's language (German for any de-*), else English. */
export function detectLanguage() {
  let stored = null;
  try {
    stored = window.localStorage.getItem(STORAGE_KEY);
  } catch {
    stored = null; // storage may be disabled; the browser language still works
  }
  if (LANGUAGES.includes(stored)) return stored;
  const preferred = navigator.languages && navigator.languages.length
    ? navigator.languages
    : [navigator.language || "en"];
  for (const tag of preferred) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

export function language() {
  return current;
}

export function setLanguage(lang, { remember = false } = {}) {
  current = LANGUAGES.includes(lang) ? lang : "en";
  document.documentElement.lang = current;
  if (remember) {
    try {
      window.localStorage.setItem(STORAGE_KEY, current);
    } catch {
      // not remembered; the switch still applies to this page
    }
  }
}

/** The string for ``key`` in the current language (the key itself when unknown). */
export function t(key) {
  return STRINGS[current][key] ?? STRINGS.en[key] ?? key;
}

const ATTRIBUTES = [
  ["i18nAriaLabel", "aria-label"],
  ["i18nPlaceholder", "placeholder"],
  ["i18nTitle", "title"],
];

/** Re-translate every element under ``root`` that carries data-i18n* keys. */
export function translate(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n);
  }
  for (const [dataKey, attribute] of ATTRIBUTES) {
    const selector = `[data-${dataKey.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}]`;
    for (const node of root.querySelectorAll(selector)) {
      node.setAttribute(attribute, t(node.dataset[dataKey]));
    }
  }
  document.title = t("pageTitle");
}
