"""The README and docs/*.md: every relative link points to a file that exists (and, for a
``#fragment`` into a Markdown file, to one of its headings), and the README's test command
is the one CI runs."""
from __future__ import annotations

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
README = os.path.join(ROOT, "README.md")

# An sdist carries README.md but not docs/: there is nothing to check against.
pytestmark = pytest.mark.skipif(not (os.path.isdir(DOCS) and os.path.isfile(README)),
                                reason="README.md or docs/ not in this tree (an sdist?)")

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")
TEST_COMMAND = 'pip install ".[test]" && python -m pytest'


def _prose(text: str) -> str:
    """The text without fenced blocks and inline code, where brackets are code, not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def _anchors(path: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    with open(path, encoding="utf-8") as f:
        text = FENCE.sub("", f.read())
    out = set()
    for line in text.splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def _links() -> list[tuple[str, str]]:
    files = [README] + sorted(glob.glob(os.path.join(DOCS, "*.md")))
    out = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            for target in LINK.findall(_prose(f.read())):
                out.append((path, target))
    return out


def test_docs_exist_and_have_links() -> None:
    assert glob.glob(os.path.join(DOCS, "*.md")), "docs/ has no Markdown files"
    assert any(os.path.basename(p) == "README.md" for p, _ in _links())


@pytest.mark.parametrize("path,target", _links(),
                         ids=lambda v: os.path.relpath(v, ROOT) if os.path.isabs(v) else v)
def test_relative_link_resolves(path: str, target: str) -> None:
    if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
        return
    file_part, _, fragment = target.partition("#")
    dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
    assert os.path.exists(dest), f"{os.path.relpath(path, ROOT)}: {target} -> no such file"
    if fragment and dest.endswith(".md"):
        assert fragment in _anchors(dest), \
            f"{os.path.relpath(path, ROOT)}: {target} -> no heading #{fragment}"


def test_readme_test_command_is_what_ci_runs() -> None:
    with open(README, encoding="utf-8") as f:
        assert TEST_COMMAND in f.read()
    ci = os.path.join(ROOT, ".ci", "run")
    if not os.path.isfile(ci):
        pytest.skip(".ci/run not in this tree")
    with open(ci, encoding="utf-8") as f:
        assert 'pip install -q ".[test]" && python -m pytest' in f.read()
