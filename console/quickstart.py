"""Ready-to-paste quickstart snippets for one of the project's collections, written for its rules.

A snippet only does what a publishable key can do on that collection: it signs an end-user up
(or in anonymously) when the rules want a signed-in user, builds a document that satisfies the
schema, and reads it back the way the rules allow. When the key cannot create there at all, the
plan says why instead of showing a snippet that fails.
"""

from __future__ import annotations

import json
import keyword
import shlex
from dataclasses import dataclass, field
from typing import Any

from basalt.identity.auth_settings import AuthSettings

KEY_PLACEHOLDER = "<your publishable key>"
GREETING = "Hello, Basalt"
# Offered by the overview in one click: anyone reads, signed-in users create, a creator changes
# only their own documents (the "public read, owner write" preset).
SAMPLE_NAMES = ("notes", "sample_notes", "quickstart_notes")
SAMPLE_FIELDS = {
    "title": {"type": "string", "required": True, "max_length": 200},
    "done": {"type": "boolean", "default": False},
}
PASSWORD = "Demo-passphrase-2026"
# Whatever these collections' rules say, apps do not create documents in them directly.
NOT_QUICKSTART = frozenset({"users", "roles", "installations"})


@dataclass
class Plan:
    """How a publishable key uses one collection: who acts, what it sends, how it reads back."""

    collection: str
    works: bool
    why: str = ""
    sign_in: str | None = None  # None, "signup" or "anonymous"
    document: dict[str, Any] = field(default_factory=dict)
    where: dict[str, Any] = field(default_factory=dict)
    read: str | None = None  # "find", "get" or None


def _who(permissions: dict[str, list[str]], op: str) -> str | None:
    """'key' when the bare publishable key may, 'user' when a signed-in user may, else None."""
    principals = permissions.get(op) or []
    if "*" in principals:
        return "key"
    if "authenticated" in principals:
        return "user"
    return None


def _sample_value(definition: dict[str, Any], text: str) -> tuple[bool, Any]:
    """A value the field accepts, or (False, None) for types a snippet cannot invent (pointers, files)."""
    kind = definition["type"]
    if definition.get("choices"):
        return True, definition["choices"][0]
    if kind == "string":
        return True, text[: definition.get("max_length") or len(text)]
    if kind == "number":
        low, high = definition.get("min"), definition.get("max")
        value = 1 if low is None else low
        return True, value if high is None or value <= high else high
    if kind == "boolean":
        return True, True
    if kind == "date":
        return True, definition.get("min") or definition.get("max") or "2026-01-01T00:00:00.000Z"
    if kind == "object":
        return True, {}
    if kind == "array":
        return True, []
    if kind == "geopoint":
        return True, {"lat": 48.85, "lng": 2.35}
    return False, None


def _hidden(collection: dict[str, Any], acting: str | None) -> set[str]:
    protected = collection.get("protected_fields") or {}
    names = set(protected.get("*", []))
    if acting:
        names |= set(protected.get("authenticated", []))
    return names


def plan_for(collection: dict[str, Any], auth: AuthSettings) -> Plan:
    name = collection["name"]
    permissions = collection.get("permissions") or {}
    create = _who(permissions, "create")
    if create is None:
        return Plan(name, False, f"The publishable key cannot create documents in “{name}”: {_rules_text(permissions)}")
    read = next((op for op in ("find", "get") if _who(permissions, op)), None)
    needs_user = create == "user" or (read is not None and _who(permissions, read) == "user")
    # With the "owner" default ACL, a document made without a user has no reader but the secret key.
    needs_user = needs_user or collection.get("default_acl") == "owner"
    sign_in = None
    if needs_user:
        if auth.sign_up_enabled and not auth.require_verified_email_for_login:
            sign_in = "signup"
        elif auth.anonymous_enabled:
            sign_in = "anonymous"
        else:
            return Plan(
                name,
                False,
                f"“{name}” needs a signed-in end-user, and this project's auth settings allow neither sign-up "
                "without email verification nor anonymous sign-in.",
            )
    document: dict[str, Any] = {}
    text_field = None
    for field_name, definition in collection["fields"].items():
        is_text = text_field is None and definition["type"] == "string" and not definition.get("choices")
        if not definition.get("required") and not is_text:
            continue
        possible, value = _sample_value(definition, GREETING if is_text else "example")
        if not possible:
            if definition.get("required"):
                return Plan(
                    name,
                    False,
                    f"“{name}” requires the {definition['type']} field “{field_name}”, which a quickstart "
                    "cannot fill in.",
                )
            continue
        document[field_name] = value
        if is_text:
            text_field = field_name
    where = {}
    if text_field and text_field not in _hidden(collection, sign_in):
        where = {text_field: document[text_field]}
    return Plan(name, True, sign_in=sign_in, document=document, where=where, read=read)


def _rules_text(permissions: dict[str, list[str]]) -> str:
    principals = permissions.get("create") or []
    if not principals:
        return "only the secret key may (the collection is locked). Open it with an access preset."
    return f"only {', '.join(principals)} may. Change its access rules, or use a collection open to signed-in users."


def _post_json(body: dict[str, Any]) -> str:
    return shlex.quote(json.dumps(body, ensure_ascii=False))


def curl_snippet(api_url: str, key: str, plan: Plan | None) -> str:
    lines = [
        f"export BASALT_URL={shlex.quote(api_url)}",
        f"export BASALT_KEY={shlex.quote(key)}",
        "",
        "# Check the key: which project is this?",
        'curl -s -w \'\\n\' "$BASALT_URL/project" -H "X-API-Key: $BASALT_KEY"',
    ]
    if plan is None or not plan.works:
        return "\n".join(lines)
    auth = ""
    if plan.sign_in == "signup":
        lines += [
            "",
            f"# The rules of “{plan.collection}” want a signed-in user: sign one up and keep the access token",
            'EMAIL="demo-$(date +%s)-$$@example.com"',
            'TOKEN=$(curl -s "$BASALT_URL/auth/signup" -H "X-API-Key: $BASALT_KEY" '
            '-H "Content-Type: application/json" \\',
            f'  -d "{{\\"email\\": \\"$EMAIL\\", \\"password\\": \\"{PASSWORD}\\"}}" \\',
            '  | sed -n \'s/.*"access_token": *"\\([^"]*\\)".*/\\1/p\')',
        ]
        auth = ' -H "Authorization: Bearer $TOKEN"'
    elif plan.sign_in == "anonymous":
        lines += [
            "",
            f"# The rules of “{plan.collection}” want a signed-in user: sign in anonymously and keep the token",
            'TOKEN=$(curl -s -X POST "$BASALT_URL/auth/anonymous" -H "X-API-Key: $BASALT_KEY" \\',
            '  | sed -n \'s/.*"access_token": *"\\([^"]*\\)".*/\\1/p\')',
        ]
        auth = ' -H "Authorization: Bearer $TOKEN"'
    path = f"$BASALT_URL/collections/{plan.collection}/documents"
    lines += [
        "",
        f"# Add a document to “{plan.collection}”",
        f'curl -s -w \'\\n\' "{path}" -H "X-API-Key: $BASALT_KEY"{auth} \\',
        f'  -H "Content-Type: application/json" -d {_post_json(plan.document)}',
    ]
    if plan.read == "find":
        query = f" \\\n  --data-urlencode {shlex.quote('where=' + json.dumps(plan.where, ensure_ascii=False))}"
        lines += [
            "",
            "# Query it back",
            f'curl -s -w \'\\n\' -G "{path}" -H "X-API-Key: $BASALT_KEY"{auth}'
            + (query if plan.where else " --data-urlencode 'limit=20'"),
        ]
    return "\n".join(lines)


def python_snippet(server_url: str, key: str, plan: Plan | None) -> str:
    lines = [
        "# pip install -e sdk/python   (the SDK in the Basalt repository; import name basalt_sdk)",
        "import uuid",
        "",
        "from basalt_sdk import Client",
        "",
        f"BASALT_URL = {json.dumps(server_url)}",
        f"BASALT_KEY = {json.dumps(key)}",
        "",
        "with Client(BASALT_URL, BASALT_KEY) as basalt:",
        '    print(basalt.request("GET", "/api/v1/project").json())  # which project is this?',
    ]
    if plan is None or not plan.works:
        return "\n".join(lines)
    variable = plan.collection + "_" if keyword.iskeyword(plan.collection) else plan.collection
    if plan.sign_in == "signup":
        lines += [
            f"    # The rules of “{plan.collection}” want a signed-in user: sign one up (sets basalt.access_token)",
            f'    basalt.sign_up(f"demo-{{uuid.uuid4().hex[:8]}}@example.com", {json.dumps(PASSWORD)})',
        ]
    elif plan.sign_in == "anonymous":
        lines += [
            f"    # The rules of “{plan.collection}” want a signed-in user: sign in anonymously",
            "    basalt.sign_in_anonymously()",
        ]
    lines += [
        f"    {variable} = basalt.collection({json.dumps(plan.collection)})",
        f"    created = {variable}.create({json.dumps(plan.document, ensure_ascii=False)})",
        '    print("created", created.id)',
    ]
    if plan.read == "find":
        where = json.dumps(plan.where, ensure_ascii=False) if plan.where else ""
        lines += [
            f"    for doc in {variable}.find({where}{', ' if where else ''}limit=20):",
            "        print(doc.id, dict(doc))",
        ]
    elif plan.read == "get":
        lines += [f"    print({variable}.get(created.id))"]
    return "\n".join(lines)


@dataclass
class Snippets:
    """One collection's quickstart: its plan and the curl and Python text."""

    plan: Plan | None
    curl: str
    python: str

    @property
    def label(self) -> str:
        return self.plan.collection if self.plan else "no collection yet"


def quickstart(
    api_url: str,
    server_url: str,
    publishable_key: str | None,
    collections: list[dict[str, Any]],
    auth: AuthSettings,
    limit: int = 20,
) -> list[Snippets]:
    """Snippets for the project's own collections, the ones that work first; the key inlined only when just created."""
    key = publishable_key or KEY_PLACEHOLDER
    plans = [plan_for(c, auth) for c in collections if c["name"] not in NOT_QUICKSTART and not c.get("builtin")]
    plans.sort(key=lambda plan: not plan.works)  # stable: by name within each group
    chosen: list[Plan | None] = [*plans[:limit]] or [None]
    return [Snippets(plan, curl_snippet(api_url, key, plan), python_snippet(server_url, key, plan)) for plan in chosen]


def sample_name(taken: set[str]) -> str:
    return next((name for name in SAMPLE_NAMES if name not in taken), f"notes_{len(taken)}")
