"""technical: the CPython 3.11 documentation (Debian ``python3.11-doc``) and Linux man pages.

Two sources, one prose register (software documentation):

* the reStructuredText sources of the Python manuals (``*.rst.txt``), see below;
* the Linux man-pages project's pages in Debian ``manpages`` (sections 1, 4,
  5, 7, 8: commands, devices, file formats and overviews; the C API
  sections 2 and 3 live in ``manpages-dev`` and are left out, as they are
  mostly identifiers). Each regular page is rendered with ``groff -man
  -Tutf8`` (no hyphenation, one line per paragraph); before rendering,
  ``.EX``/``.nf`` example blocks, tables and the SYNOPSIS, EXAMPLES, SEE ALSO,
  FILES, ATTRIBUTES and COLOPHON sections are removed, and after it the
  header/footer lines and section headings. ``.so`` redirects and symlinks
  (aliases) are skipped.

Python docs:

The ``_sources/**/*.rst.txt`` files are cleaned to prose: literal blocks (the
indented block after ``::``), doctest blocks (``>>>``), tables and code-like
directives (``code-block``, ``doctest``, ``testcode``, ``productionlist``,
``toctree``, ``index`` ...) are dropped with their content; description
directives (``.. function:: sig``) lose the signature but keep the prose
body; admonitions (``note``, ``warning``, ``versionchanged`` ...) keep their
text; roles (``:func:`~os.path.join```) become their text (``join``),
hyperlinks their title, ``literals`` their content; heading under/overlines,
comments, targets, footnote references and bare URLs are removed. List items
become separate paragraphs; wrapped lines are joined.

Skipped files: ``license`` (licence texts belong to the legal domain),
``copyright``, ``about``, ``bugs``, ``contents``, ``whatsnew/changelog`` and
the ``includes/`` fragments.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import Recipe, Source, register
from ._obtain import debian_packages, require_tool, run_tool
from ._text import collapse_spaces, remove_urls, unwrap

PACKAGE = "python3.11-doc"
SOURCES_DIR = Path("usr/share/doc/python3.11/html/_sources")

SOURCE = Source(
    name="Python 3.11 documentation, reST sources (Debian python3.11-doc)",
    install=f"apt-get download {PACKAGE} && dpkg-deb -x",
    license="PSF-2.0",
    attribution="Python documentation, Copyright 2001-2023 Python Software Foundation, "
    "PSF License Version 2",
    url_hint=f"Debian package {PACKAGE}, {SOURCES_DIR}/**/*.rst.txt",
)

MANPAGES_PACKAGE = "manpages"
MAN_DIR = Path("usr/share/man")
MAN_SECTIONS = ("man1", "man4", "man5", "man7", "man8")

MANPAGES_SOURCE = Source(
    name="Linux man-pages 6.03, sections 1, 4, 5, 7, 8 (Debian manpages)",
    install=f"apt-get download {MANPAGES_PACKAGE} && dpkg-deb -x; rendered with groff",
    license="Linux-man-pages-copyleft and other per-page free licences (GPL, BSD, MIT)",
    attribution="The Linux man-pages project (Michael Kerrisk, Alejandro Colomar and "
    "contributors)",
    url_hint=f"Debian package {MANPAGES_PACKAGE}, {MAN_DIR}/man*/*.gz",
)

SKIP = {
    "license", "copyright", "about", "bugs", "contents", "whatsnew/changelog",
    "includes/wasm-notavail",
}

# Directives whose whole block is code, markup or navigation: dropped with their content.
DROP_DIRECTIVES = {
    "code-block", "code", "sourcecode", "doctest", "testcode", "testoutput", "testsetup",
    "testcleanup", "productionlist", "literalinclude", "parsed-literal", "toctree", "index",
    "highlight", "highlightlang", "module", "currentmodule", "moduleauthor", "sectionauthor",
    "include", "raw", "image", "figure", "list-table", "csv-table", "table", "tabularcolumns",
    "contents", "program", "audit-event", "availability", "miscnews", "limited-api-list",
    "only", "math", "graphviz", "literal",
}
# Directives whose argument is prose (a title or a sentence), kept before the body.
PROSE_ARGUMENT_DIRECTIVES = {
    "note", "warning", "seealso", "important", "caution", "tip", "hint", "attention",
    "danger", "error", "admonition", "topic", "sidebar", "rubric", "epigraph", "impl-detail",
}
VERSION_DIRECTIVES = {"versionadded", "versionchanged", "deprecated", "deprecated-removed"}

_EXPLICIT = re.compile(r"^\.\.(?:\s|$)")
_DIRECTIVE = re.compile(r"^\.\.\s+([\w:.-]+)::(?:\s+(.*))?$")
_FOOTNOTE = re.compile(r"^\.\.\s+\[(?:#[\w-]*|\d+|\*)\]\s*(.*)$")
_LINE_BLOCK = re.compile(r"^(\s*)\|(?:\s|$)")
_FIELD = re.compile(r"^:[\w -]+:(?:\s|$)")
_OPTION = re.compile(r"^:[\w -]+:(?:\s.*)?$")
_ADORNMENT = re.compile(r"^([=\-~^*#+\"'`.:_])\1{2,}\s*$")
_TABLE_BORDER = re.compile(r"^[+=][=+\-]*[+=]?\s*$|^=+(?:\s+=+)+\s*$|^\+[-=+]+\+\s*$")
_BULLET = re.compile(r"^(?:[*+\-\u2022]|#\.|\d{1,3}\.|\(?[a-z]\))\s+")
_VERSION_ARG = re.compile(r"^\d+(?:\.\d+)*(?:\s+\d+(?:\.\d+)*)?\s*")

_ROLE = re.compile(r":(?:[\w-]+:)*([\w-]+):`([^`]*)`")
_LINK = re.compile(r"`([^`<]*?)\s*<[^>`]*>`__?")
_REF = re.compile(r"`([^`]+)`__?(?!\w)")
_LITERAL = re.compile(r"``(.+?)``")
_DEFAULT_ROLE = re.compile(r"`([^`]+)`")
_FOOTNOTE_REF = re.compile(r"\s*\[(?:#[\w-]*|\d+|\*)\]_")
_STRONG = re.compile(r"\*\*([^\s*](?:[^*]*?[^\s*])?)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*\\])\*([^\s*](?:[^*]*?[^\s*])?)\*(?![\w*])")
_SUBSTITUTION = re.compile(r"\|([\w -]+)\|_?")
_ESCAPE = re.compile(r"\\(.)")
_CREDIT = re.compile(
    r"\s*\((?:Contributed|Patch(?:ed)?|(?:Original|Initial) patch|Reported|Written|Implemented|"
    r"Fixed|Suggested|Backported)\b[^()]*(?:\([^()]*\)[^()]*)*\)"
)
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.;:!?)])(?=\s|$)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index after the block of lines indented more than ``indent`` (blank lines included)."""
    end = start
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return end


def _dedent(lines: list[str]) -> list[str]:
    margin = min((_indent(line) for line in lines if line.strip()), default=0)
    return [line[margin:] for line in lines]


def _role(match: re.Match) -> str:
    role, content = match.group(1), match.group(2)
    title = re.match(r"^(.*?)\s*<[^>]*>$", content, re.DOTALL)
    if title and title.group(1):
        return title.group(1)
    content = content.lstrip("!")
    if content.startswith("~"):
        content = content[1:].rsplit(".", 1)[-1]
    if role in ("rfc", "pep"):
        return f"{role.upper()} {content.split('#')[0]}"
    return content


def clean_inline(text: str) -> str:
    """reST inline markup -> its text (roles, links, literals, emphasis, footnote refs)."""
    text = _ROLE.sub(_role, text)
    text = _LINK.sub(r"\1", text)
    text = _LITERAL.sub(lambda m: m.group(1).replace("\\", "\0"), text)  # keep backslashes
    text = _REF.sub(r"\1", text)
    text = _DEFAULT_ROLE.sub(r"\1", text)
    text = _FOOTNOTE_REF.sub("", text)
    text = _STRONG.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    text = _SUBSTITUTION.sub(r"\1", text)
    text = _ESCAPE.sub(r"\1", text.replace("\\ ", "")).replace("\0", "\\")
    return _SPACE_BEFORE_PUNCT.sub(r"\1", _CREDIT.sub("", text))


def _paragraph(lines: list[str]) -> tuple[list[str], bool]:
    """Prose of one paragraph (a list of output paragraphs) and whether a literal block follows."""
    lines = [
        _LINE_BLOCK.sub("", line)
        for line in lines
        if not _ADORNMENT.match(line.strip()) and not _FIELD.match(line.strip())
    ]
    if not lines:
        return [], False
    first = lines[0].strip()
    if first.startswith((">>>", "**Source code")) or _TABLE_BORDER.match(first):
        return [], False
    last = lines[-1].rstrip()
    literal_follows = last.endswith("::")
    if literal_follows:
        stripped = last[:-2]
        lines[-1] = stripped.rstrip() if stripped.endswith(" ") or not stripped.strip() else (
            stripped + ":"
        )
    items: list[list[str]] = []
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if _BULLET.match(text) or not items:
            items.append([_BULLET.sub("", text, count=1)])
        else:
            items[-1].append(text)
    out = [clean_inline(" ".join(item)).strip() for item in items]
    return [text for text in out if text], literal_follows


def _convert(lines: list[str]) -> list[str]:
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        text = line.strip()
        if not text:
            i += 1
            continue
        indent = _indent(line)
        if _EXPLICIT.match(text):
            end = _block_end(lines, i + 1, indent)
            body = _dedent(lines[i + 1 : end])
            directive, footnote = _DIRECTIVE.match(text), _FOOTNOTE.match(text)
            if directive:
                name, argument = directive.group(1).lower(), (directive.group(2) or "").strip()
                name = name.split(":")[-1] if name.startswith(("c:", "py:", "std:")) else name
                while body and _OPTION.match(body[0].strip()):
                    body = body[1:]
                if name in DROP_DIRECTIVES:
                    pass
                elif name in VERSION_DIRECTIVES:
                    rest = _VERSION_ARG.sub("", argument, count=1)
                    if rest:
                        out.append(clean_inline(rest))
                    out.extend(_convert(body))
                elif name in PROSE_ARGUMENT_DIRECTIVES:
                    if argument:
                        out.append(clean_inline(argument))
                    out.extend(_convert(body))
                else:  # description directives (function, class, method ...): the
                    # signature, its continuation lines and options end at the first blank line
                    while body and body[0].strip():
                        body = body[1:]
                    out.extend(_convert(body))
            elif footnote:
                out.extend(_convert([footnote.group(1), *body]))
            # else: a comment, hyperlink target or substitution definition: dropped
            i = end
            continue
        start = i
        while i < n and lines[i].strip() and not (i > start and _EXPLICIT.match(lines[i].strip())):
            i += 1
        prose, literal_follows = _paragraph(lines[start:i])
        out.extend(prose)
        if literal_follows:
            while i < n and not lines[i].strip():
                i += 1
            if i < n and _indent(lines[i]) > indent:
                i = _block_end(lines, i, indent)
    return out


def clean_rest(text: str) -> str:
    """One reST source file -> prose paragraphs separated by blank lines."""
    lines = text.replace("\r\n", "\n").expandtabs(8).split("\n")
    return unwrap(remove_urls("\n\n".join(_convert(lines))), keep_list_items=False)


# ---------------------------------------------------------------- man pages

DROP_MAN_SECTIONS = {
    "SYNOPSIS", "EXAMPLE", "EXAMPLES", "SEE ALSO", "FILES", "ATTRIBUTES", "COLOPHON",
    "LIBRARY",
}
GROFF = ["-man", "-Tutf8", "-P", "-cbou", "-rHY=0", "-rLL=5000n", "-dAD=l", "-Wall"]
_SECTION = re.compile(r'^\.SH\s+"?([^"]*?)"?\s*$')
_BLOCKS = {".EX": ".EE", ".nf": ".fi", ".TS": ".TE", ".EQ": ".EN"}


def strip_man_source(source: str) -> str:
    """Remove example/preformatted blocks, tables and non-prose sections from roff source."""
    out, section, closing = [], "", None
    for line in source.split("\n"):
        request = line.split(" ", 1)[0].rstrip()
        if closing:
            if request == closing:
                closing = None
            continue
        if request in _BLOCKS:
            closing = _BLOCKS[request]
            continue
        heading = _SECTION.match(line)
        if heading:
            section = heading.group(1).strip().upper()
        if section in DROP_MAN_SECTIONS:
            continue
        out.append(line)
    return "\n".join(out)


def clean_rendered_man(rendered: str) -> str:
    """groff output -> prose paragraphs: header, footer and section headings dropped."""
    lines = rendered.replace("\r", "").split("\n")
    content = [i for i, line in enumerate(lines) if line.strip()]
    if len(content) >= 2:  # the first and last non-blank lines are the header and footer
        lines = lines[content[0] + 1 : content[-1]]
    kept = []
    for line in lines:
        if line.strip() and not line.startswith(" "):
            kept.append("")  # a section heading ("DESCRIPTION") ends the paragraph
            continue
        if line.strip() and len(line) - len(line.lstrip(" ")) < 5:
            kept.extend(["", collapse_spaces(line), ""])  # a subsection heading stands alone
            continue
        kept.append(collapse_spaces(line))
    text = re.sub(r"\s*\u27e8[^\u27e9]*\u27e9", "", "\n".join(kept))  # ⟨URL⟩ links
    return unwrap(remove_urls(text), keep_list_items=False)


def render_man_page(groff: str, source: bytes) -> str:
    """Render one roff man page to text with groff (output captured)."""
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    proc = run_tool([groff, *GROFF], what="groff -man (rendering a man page)", input=source,
                    env=env, timeout=120)
    return proc.stdout.decode("utf-8", "replace")


def man_page_files(root: Path) -> list[Path]:
    """Regular ``.gz`` pages of the kept sections, sorted; symlinks (aliases) excluded."""
    files = []
    for section in MAN_SECTIONS:
        files.extend(p for p in (root / MAN_DIR / section).glob("*.gz") if not p.is_symlink())
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def man_documents(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """(``man/man7/pipe.7``, prose) for every rendered page, sorted by path."""
    groff = require_tool("groff", "install groff (apt-get install groff-base)")
    root = debian_packages(cache_dir, [MANPAGES_PACKAGE], name=MANPAGES_PACKAGE)
    pages = []
    for path in man_page_files(root):
        source = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        if source.lstrip().startswith(".so "):
            continue  # a redirect to another page
        doc_id = "man/" + path.relative_to(root / MAN_DIR).as_posix()[: -len(".gz")]
        pages.append((doc_id, strip_man_source(source).encode("utf-8")))
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        rendered = pool.map(lambda page: render_man_page(groff, page[1]), pages)
        for (doc_id, _), text in zip(pages, rendered):
            text = clean_rendered_man(text)
            if text:
                yield doc_id, text


# ---------------------------------------------------------------- recipe


def obtain(cache_dir: Path) -> Path:
    """Extract the Python docs package into the cache; returns the ``_sources`` directory."""
    return debian_packages(cache_dir, [PACKAGE], name=PACKAGE) / SOURCES_DIR


def python_documents(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """(``python/library/json`` ..., prose) for every kept ``.rst.txt`` file, sorted by path."""
    root = obtain(cache_dir)
    for path in sorted(root.rglob("*.rst.txt")):
        doc_id = path.relative_to(root).as_posix()[: -len(".rst.txt")]
        if doc_id in SKIP:
            continue
        text = clean_rest(path.read_text(encoding="utf-8", errors="replace"))
        if text:
            yield f"python/{doc_id}", text


def documents(cache_dir: Path) -> Iterator[tuple[str, str]]:
    """Man pages (``man/...``), then the Python docs (``python/...``), each sorted."""
    yield from man_documents(cache_dir)
    yield from python_documents(cache_dir)


RECIPE = register(
    Recipe(
        domain="technical",
        description="Software documentation: the Python 3.11 manuals (tutorial, library and "
        "language reference, HOWTOs, FAQs, C API) and Linux man pages (commands, file "
        "formats, overviews) as prose, code removed",
        license="PSF-2.0 (Python docs) + Linux-man-pages-copyleft and other free licences",
        sources=(SOURCE, MANPAGES_SOURCE),
        approx_words=1_340_000,
        documents=documents,
        build_options={"max_ngrams": 20000, "min_doc_count": 3},
    )
)
