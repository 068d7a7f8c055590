"""Ready-to-paste quickstart snippets holding the project's API URL and (when known) its key."""

from __future__ import annotations

import json
import shlex

KEY_PLACEHOLDER = "<your publishable key>"


def quickstart_snippets(api_url: str, publishable_key: str | None, collection: str = "posts") -> dict[str, str]:
    """curl and Python examples; the key is inlined only in the response that created it."""
    key = publishable_key or KEY_PLACEHOLDER
    where = json.dumps({"title": "Hello, Basalt"})
    body = json.dumps({"title": "Hello, Basalt"})
    curl = "\n".join(
        [
            f"export BASALT_URL={shlex.quote(api_url)}",
            f"export BASALT_KEY={shlex.quote(key)}",
            "",
            "# Check the key: which project is this?",
            'curl -s "$BASALT_URL/project" -H "X-API-Key: $BASALT_KEY"',
            "",
            f"# Add a document to the '{collection}' collection",
            f'curl -s -X POST "$BASALT_URL/collections/{collection}/documents" \\',
            '  -H "X-API-Key: $BASALT_KEY" -H "Content-Type: application/json" \\',
            f"  -d {shlex.quote(body)}",
            "",
            "# Query it back",
            f'curl -s -G "$BASALT_URL/collections/{collection}/documents" \\',
            '  -H "X-API-Key: $BASALT_KEY" \\',
            f"  --data-urlencode {shlex.quote('where=' + where)}",
        ]
    )
    python = "\n".join(
        [
            "import requests",
            "",
            f"BASALT_URL = {json.dumps(api_url)}",
            f"BASALT_KEY = {json.dumps(key)}",
            "session = requests.Session()",
            'session.headers["X-API-Key"] = BASALT_KEY',
            "",
            f'created = session.post(f"{{BASALT_URL}}/collections/{collection}/documents",',
            f"                       json={body}).json()",
            'print(created["id"])',
            "",
            f'page = session.get(f"{{BASALT_URL}}/collections/{collection}/documents",',
            f'                   params={{"where": \'{where}\', "limit": 20}}).json()',
            'for doc in page["results"]:',
            '    print(doc["id"], doc["title"])',
        ]
    )
    return {"curl": curl, "python": python, "key_inlined": publishable_key is not None}
