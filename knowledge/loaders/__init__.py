"""Loaders: turn a file into a ``knowledge.documents.Document`` or say why not.

    SUPPORTED_SUFFIXES   the suffixes with a loader (.md .markdown .txt .text .html .htm .pdf
                         .docx .eml .msg); anything else is ``UnsupportedDocument``
    LoadLimits           max_bytes, timeout_s (SafeLoader only), max_chars
    load_file(...)       in-process; raises ``UnsupportedDocument(path, reason)``
    SafeLoader           the same in a killable worker process (timeouts, crashes)

Every loader produces light Markdown (see ``knowledge.documents``), the document's own title
(else the file stem), the detected language, the file's mtime and the sha256 of its bytes.
"""

from knowledge.loaders.files import SUPPORTED_SUFFIXES, LoadLimits, load_file
from knowledge.loaders.safe import LoaderFunction, SafeLoader

__all__ = ["SUPPORTED_SUFFIXES", "LoadLimits", "LoaderFunction", "SafeLoader", "load_file"]
