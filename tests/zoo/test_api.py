"""zoo.api, the public part API, is what docs/parts.md lists: every name documented exists and
every exported name is documented."""
import os
import re

import zoo.api

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def documented_names() -> set:
    with open(os.path.join(ROOT, 'docs', 'parts.md')) as f:
        text = f.read()
    section = text.split('## What a plugin may import', 1)[1].split('\n## ', 1)[0]
    rows = [line for line in section.splitlines() if line.startswith('| ') and '`' in line]
    return {name for row in rows for name in re.findall(r'`([A-Za-z_][A-Za-z_0-9]*)`', row)}


def test_the_public_part_api_is_the_documented_one():
    exported = set(zoo.api.__all__)
    assert all(hasattr(zoo.api, name) for name in exported)
    assert documented_names() == exported
