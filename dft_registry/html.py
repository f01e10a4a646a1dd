"""A static HTML catalog: ``index.html`` (sortable table of domains) and one page per bundle.

No server and nothing fetched from the network: the sort script is a few
lines inline, plots are PNGs embedded as data URIs, so the site can be opened
from disk, attached to a CI run, or served by any static host.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

from .atomic import atomic_write_bytes
from .bundle import load
from .catalog import latest_entries, read_catalog, sort_entries
from .describe import describe, plural
from .registry import registry_root

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;
padding:0 1rem;color:#1d1d1f}
h1,h2{font-weight:600}table{border-collapse:collapse;margin:0.5rem 0 1.5rem}
th,td{padding:0.3rem 0.7rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
th.sortable{cursor:pointer;user-select:none}th.sortable:hover{background:#f0f0f5}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
pre{background:#f6f6f8;padding:1rem;overflow:auto;font-size:0.85rem}
img{max-width:100%}.muted{color:#666}.grid{display:flex;flex-wrap:wrap;gap:2rem}
code{background:#f0f0f5;padding:0 0.2rem}
"""

SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.classList.add("sortable");
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column].dataset.value || a.cells[column].textContent;
        var y = b.cells[column].dataset.value || b.cells[column].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def page_name(domain: str, version: str) -> str:
    return f"bundles/{domain}-{version}.html"


def _page(title: str, body: str, script: str = "") -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n"
            + (f"<script>{script}</script>\n" if script else "") + "</body></html>\n")


def _num(value, digits: int = 0) -> str:
    text = f"{value:,.{digits}f}" if isinstance(value, (int, float)) else escape(str(value))
    return f'<td class="num" data-value="{value}">{text}</td>'


def index_html(catalog: dict) -> str:
    """The index page: one row per domain (latest version), sortable by any column."""
    entries = latest_entries(catalog)
    versions = {}
    for entry in catalog["bundles"]:
        versions[entry["domain"]] = versions.get(entry["domain"], 0) + 1
    head = ("<tr><th>domain</th><th>version</th><th class=\"num\">documents</th>"
            "<th class=\"num\">words</th><th class=\"num\">sentences</th><th class=\"num\">vocabulary</th>"
            "<th class=\"num\">sentence length</th><th class=\"num\">entropy (bits)</th>"
            "<th class=\"num\">size (KB)</th><th>license</th><th>description</th></tr>")
    rows = []
    for e in entries:
        totals, headline = e.get("totals", {}), e.get("headline", {})
        link = f'<a href="{escape(page_name(e["domain"], e["version"]))}">{escape(e["domain"])}</a>'
        rows.append(
            f"<tr><td data-value=\"{escape(e['domain'])}\">{link}</td>"
            f"<td data-value=\"{e['version'][1:]}\">{escape(e['version'])}"
            f"<span class=\"muted\"> of {versions[e['domain']]}</span></td>"
            + _num(totals.get("documents", 0)) + _num(totals.get("words", 0))
            + _num(totals.get("sentences", 0)) + _num(totals.get("vocabulary", 0))
            + _num(headline.get("sentence_length_mean", 0.0), 2)
            + _num(headline.get("unigram_entropy_bits", 0.0), 3)
            + _num(round(e.get("size_bytes", 0) / 1024, 1), 1)
            + f"<td>{escape(e.get('license') or 'unspecified')}</td>"
            f"<td>{escape(e.get('description', ''))}</td></tr>")
    body = (f"<h1>DFT stat bundles</h1><p class=\"muted\">{plural(len(entries), 'domain')}, "
            f"{plural(len(catalog['bundles']), 'version')}. Click a column to sort; click a domain for its "
            "statistics.</p>"
            f"<table id=\"bundles\" class=\"sortable\"><thead>{head}</thead><tbody>\n"
            + "\n".join(rows) + "\n</tbody></table>"
            "<p class=\"muted\">Use a bundle: <code>dft-stats show DOMAIN</code>, "
            "<code>dft-stats pull DOMAIN --from REMOTE</code>.</p>")
    return _page("DFT stat bundles", body, SORT_SCRIPT)


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset(),
           css: str = "") -> str:
    num_class = ' class="num"'
    head = "".join(f"<th{num_class if i in numeric else ''}>{escape(h)}</th>"
                   for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(
        _num(v, 2 if isinstance(v, float) else 0) if i in numeric else f"<td>{escape(str(v))}</td>"
        for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table class=\"{css}\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bundle_html(info: dict, manifest: dict, plot_png: bytes | None, siblings: list[dict]) -> str:
    """One bundle's page from ``describe()`` output, its manifest and an optional PNG."""
    t, s, e = info["totals"], info["sentence_length"], info["entropy_bits"]
    numbers = [
        ["documents", t.get("documents", 0)], ["words", t.get("words", 0)],
        ["tokens (with punctuation)", t.get("tokens", 0)], ["sentences", t.get("sentences", 0)],
        ["vocabulary (word types)", t.get("vocabulary", 0)],
        ["sentence length mean (words)", s.get("mean", 0.0)],
        ["sentence length variance", s.get("variance", 0.0)],
        ["sentence length median / p90", f"{s.get('median', 0)} / {s.get('p90', 0)}"],
        *[[f"{metric} (bits)", round(value, 4)] for metric, value in sorted(e.items())],
        ["size (bytes)", info["size_bytes"]],
    ]
    numbers_html = "<table>" + "".join(
        f"<tr><th>{escape(k)}</th>" + (_num(v, 2 if isinstance(v, float) else 0)
                                       if isinstance(v, (int, float)) else f"<td>{escape(v)}</td>")
        + "</tr>" for k, v in numbers) + "</table>"
    sources = "".join(
        f"<li>{escape(str(src.get('name', '?')))} ({escape(str(src.get('license', 'unspecified')))})"
        + (f": {escape(str(src['attribution']))}" if src.get("attribution") else "") + "</li>"
        for src in info["sources"]) or "<li>(none recorded)</li>"
    versions = " ".join(
        (f"<strong>{escape(v['version'])}</strong>" if v["version"] == info["version"] else
         f'<a href="{escape(Path(page_name(v["domain"], v["version"])).name)}">{escape(v["version"])}</a>')
        for v in siblings)
    plot = (f'<img alt="plots of {escape(info["ref"])}" src="data:image/png;base64,'
            f'{base64.b64encode(plot_png).decode()}">' if plot_png else "")
    body = (
        f"<p><a href=\"../index.html\">&larr; all bundles</a></p>"
        f"<h1 id=\"title\">{escape(info['ref'])}</h1>"
        f"<p>{escape(info['description'] or '')}</p>"
        f"<p class=\"muted\">sha256:<code>{escape(info['content_hash'])}</code> &middot; built "
        f"{escape(str(info['created_at']))} &middot; segmenter <code>"
        f"{escape(info['segmenter']['name'])}</code> &middot; versions: {versions}</p>"
        f"<h2>License</h2><p id=\"license\">{escape(info['license'] or 'unspecified')}</p>"
        f"<h2>Numbers</h2>{numbers_html}"
        f"<h2>Plots</h2>{plot}"
        "<div class=\"grid\"><div><h2>Top words</h2>"
        + _table(["word", "count", "per million", "documents"],
                 [[w["token"], w["count"], w["per_million"], w["doc_count"]] for w in info["top_words"]],
                 {1, 2, 3}, "top-words")
        + "</div><div><h2>Top bigrams</h2>"
        + _table(["bigram", "count"], [[g["ngram"], g["count"]] for g in info["top_bigrams"]], {1})
        + "<h2>Top trigrams</h2>"
        + _table(["trigram", "count"], [[g["ngram"], g["count"]] for g in info["top_trigrams"]], {1})
        + "</div><div><h2>Sentence openers</h2>"
        + _table(["opener", "count"], [[o["opener"], o["count"]] for o in info["top_openers"]], {1})
        + "</div></div>"
        f"<h2>Sources</h2><ul id=\"sources\">{sources}</ul>"
        f"<h2>Manifest</h2><pre id=\"manifest\">"
        f"{escape(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False))}</pre>"
        f"<p class=\"muted\">Query it: <code>dft-stats query {escape(info['ref'])} "
        "\"SELECT * FROM unigrams ORDER BY count DESC LIMIT 20\"</code></p>")
    return _page(f"{info['ref']}: DFT stat bundle", body)


def write_site(out_dir: str | Path, registry: str | Path | None = None, plots: bool = True,
               top: int = 20, on_page=None) -> list[Path]:
    """Write ``index.html`` and one page per bundle version into ``out_dir``; returns the pages.

    Every bundle is verified while it is read (a corrupt one stops the build
    with BundleCorrupt). ``on_page(path)`` is called after each page.
    """
    from .plot import png_bytes

    root = registry_root(registry, must_exist=True)
    catalog = read_catalog(root)
    out = Path(out_dir)
    written = []
    for entry in sort_entries(catalog["bundles"]):
        bundle = load(f"{entry['domain']}@{entry['version']}", registry=root)
        siblings = [e for e in sort_entries(catalog["bundles"]) if e["domain"] == entry["domain"]]
        page = out / page_name(entry["domain"], entry["version"])
        html_text = bundle_html(describe(bundle, top=top), bundle.manifest,
                                png_bytes([bundle]) if plots else None, siblings)
        atomic_write_bytes(page, html_text.encode("utf-8"))
        written.append(page)
        if on_page:
            on_page(page)
    index = out / "index.html"
    atomic_write_bytes(index, index_html(catalog).encode("utf-8"))
    written.insert(0, index)
    return written
