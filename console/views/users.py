"""Users: list and search end-users, create, disable, delete, send a password reset, end sessions.

Everything goes through services: the `users` collection (identity mirrors every end-user there)
is read with the documents query service; writes use basalt.identity's services.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import urlencode

from basalt.core.errors import BasaltError, NotFound
from basalt.documents.finding import find_documents
from basalt.documents.services import get_document
from basalt.identity import recovery, sessions
from basalt.identity import services as identity
from basalt.projects.roles import Perm
from basalt.projects.services import access_project
from console.caller import console_caller
from console.mail_notice import delivery_note, mail_folder
from console.views.common import ProjectAccess, page, project_context, project_view

PAGE_SIZE = 25
USER_ID = re.compile(r"\A[a-z0-9]{1,32}\Z")


def _caller(request: HttpRequest, access: ProjectAccess, perm: Perm):
    project = access_project(request.user, access.project.ref, perm)
    return project, console_caller(project, request.user.pk)


SEARCH_MAX = 100
# Escaped one by one: re.escape also escapes spaces and other characters, and the query engine's
# portable regex subset refuses such escapes ("The escape \  is not supported").
REGEX_SPECIAL = frozenset("\\.^$|?*+()[]{}")


def literal_pattern(text: str) -> str:
    return "".join("\\" + char if char in REGEX_SPECIAL else char for char in text)


def search_where(q: str) -> dict[str, Any]:
    """Every word, matched literally and ignoring case, in the email or the username."""
    words = q[:SEARCH_MAX].split()
    clauses = [
        {"$or": [{key: {"$regex": literal_pattern(word), "$options": "i"}} for key in ("email", "username")]}
        for word in words
    ]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses} if clauses else {}


def _find_users(caller, q: str, cursor: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {"where": search_where(q), "order": ["-created_at"], "limit": PAGE_SIZE, "count": True}
    if cursor:
        query["cursor"] = cursor
    try:
        return find_documents(caller, "users", query)
    except NotFound:
        # The `users` collection appears with the project's first end-user.
        return {"results": [], "next_cursor": None, "count": 0}


def _users_page(request, access, errors=None, posted=None, status=200) -> HttpResponse:
    _project, caller = _caller(request, access, Perm.VIEW)
    q = (request.GET.get("q") or "").strip()
    error = ""
    try:
        result = _find_users(caller, q, request.GET.get("cursor"))
    except BasaltError as exc:
        error, result = exc.message, {"results": [], "next_cursor": None, "count": None}
    disabled = _disabled_ids(_project, [u["id"] for u in result["results"]])
    for u in result["results"]:
        u["status"] = status_of(u, u["id"] in disabled)
    context = project_context(
        access,
        "users",
        tab="users",
        users=result["results"],
        count=result.get("count"),
        q=q,
        error=error,
        next_href=("?" + urlencode({"q": q, "cursor": result["next_cursor"]})) if result["next_cursor"] else None,
        first_href=("?" + urlencode({"q": q})) if request.GET.get("cursor") else None,
        errors=errors or {},
        posted=posted or {},
    )
    return page(request, "console/users/list.html", context, status=400 if error and status == 200 else status)


def _errors(exc: BasaltError) -> dict[str, list[str]]:
    if isinstance(exc.details, dict) and exc.details:
        out: dict[str, list[str]] = {}
        for key, value in exc.details.items():
            target = key if key in ("email", "username", "password") else "general"
            out.setdefault(target, []).extend(value if isinstance(value, list) else [str(value)])
        return out
    return {"general": [exc.message]}


@project_view
def users(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    if request.method != "POST":
        return _users_page(request, access)
    project, _caller_ = _caller(request, access, Perm.CHANGE_DATA)
    body = {
        key: value
        for key in ("email", "username", "password")
        if (value := (request.POST.get(key) or "").strip() if key != "password" else request.POST.get(key) or "")
    }
    try:
        created = identity.sign_up(_caller_, body, identity.Client(user_agent="Basalt console"))
    except BasaltError as exc:
        # The member's role was checked above; a refusal here is the project's rule (e.g. sign-up closed).
        return _users_page(request, access, _errors(exc), request.POST, status=400)
    user_id = created["user"]["id"]
    # sign_up opens a session for the new user; nobody holds its tokens, so end it at once.
    for session in sessions.list_sessions(project, user_id):
        sessions.revoke_session(project, user_id, session.id)
    messages.success(request, f"User {created['user'].get('email') or created['user'].get('username')} created.")
    return redirect("console:user", access.project.ref, user_id)


def _load_user(request, access, user_id: str, perm: Perm = Perm.VIEW):
    project, caller = _caller(request, access, perm)
    if not USER_ID.match(user_id):
        raise NotFound("No such user.")
    try:
        user = get_document(caller, "users", user_id).body
    except NotFound:
        raise NotFound("No such user.") from None
    return project, user


def status_of(user: dict[str, Any], disabled: bool) -> str:
    """active, disabled or unverified (has an email that was never confirmed)."""
    if disabled:
        return "disabled"
    if user.get("email") and not user.get("email_verified"):
        return "unverified"
    return "active"


def _disabled_ids(project, ids: list[str]) -> set[str]:
    from basalt.identity.models import EndUser

    return set(EndUser.objects.filter(project=project, pk__in=ids, disabled=True).values_list("pk", flat=True))


@project_view
def user_profile(request: HttpRequest, access: ProjectAccess, user_id: str) -> HttpResponse:
    """Edit email, username and the verified flag through identity's administrator service."""
    project, user = _load_user(request, access, user_id, Perm.CHANGE_DATA)
    body: dict[str, Any] = {
        "email": (request.POST.get("email") or "").strip(),
        "username": (request.POST.get("username") or "").strip(),
        "email_verified": request.POST.get("email_verified") == "true",
    }
    try:
        identity.admin_update_user(project, user_id, body)
    except ObjectDoesNotExist:
        raise NotFound("No such user.") from None
    except BasaltError as exc:
        if exc.status == 403:
            raise
        return _detail_page(request, access, project, user, errors=_errors(exc), posted=request.POST, status=400)
    messages.success(request, "Profile saved.")
    return _back(access, user_id)


@project_view
def user_detail(request: HttpRequest, access: ProjectAccess, user_id: str) -> HttpResponse:
    project, user = _load_user(request, access, user_id)
    return _detail_page(request, access, project, user)


def _detail_page(request, access, project, user, errors=None, posted=None, status=200) -> HttpResponse:
    from basalt.identity.roles import held_roles

    user_id = user["id"]
    live = sessions.list_sessions(project, user_id)
    custom = {k: v for k, v in user.items() if k not in SYSTEM_KEYS}
    name = user.get("email") or user.get("username") or user["id"]
    context = project_context(
        access,
        "users",
        tab="users",
        user=user,
        name=name,
        sessions=live,
        custom=custom,
        mail_folder=mail_folder(),
        sign_in=_sign_in_methods(project, user_id),
        status=status_of(user, bool(_disabled_ids(project, [user_id]))),
        roles=sorted(held_roles(project, user_id)),
        errors=errors or {},
        posted=posted,
    )
    return page(request, "console/users/detail.html", context, status=status)


def _sign_in_methods(project, user_id: str) -> dict[str, Any]:
    """Linked identities, passkeys and second factors, for the user page."""
    from basalt.identity import mfa
    from basalt.identity.federation import identity_out
    from basalt.identity.models import EndUser, LinkedIdentity, Passkey

    user = EndUser.objects.filter(project=project, pk=user_id).first()
    if user is None:
        return {}
    return {
        "password": user.has_password,
        "identities": [identity_out(i) for i in LinkedIdentity.objects.filter(user=user).order_by("provider")],
        "passkeys": Passkey.objects.filter(user=user).count(),
        "mfa": mfa.methods(user),
    }


@project_view
def user_mfa_reset(request: HttpRequest, access: ProjectAccess, user_id: str) -> HttpResponse:
    from basalt.identity import mfa
    from basalt.identity.models import EndUser

    project, user = _load_user(request, access, user_id, Perm.CHANGE_DATA)
    end_user = EndUser.objects.select_related("project").filter(project=project, pk=user_id).first()
    if end_user is None:
        raise NotFound("No such user.")
    mfa.reset_by_admin(end_user)
    told = f" {end_user.email} was told by email.{delivery_note()}" if end_user.email else ""
    messages.success(request, f"Two-step sign-in turned off (authenticator app and recovery codes).{told}")
    return _back(access, user_id)


SYSTEM_KEYS = {"id", "email", "username", "email_verified", "is_anonymous", "created_at", "updated_at", "acl"}


def _back(access: ProjectAccess, user_id: str):
    return redirect("console:user", access.project.ref, user_id)


@project_view
def user_disable(request: HttpRequest, access: ProjectAccess, user_id: str) -> HttpResponse:
    project, user = _load_user(request, access, user_id, Perm.CHANGE_DATA)
    disable = request.POST.get("disabled", "true") != "false"
    try:
        identity.set_disabled(project, user_id, disable)
    except ObjectDoesNotExist:
        raise NotFound("No such user.") from None
    if disable:
        messages.success(request, "User disabled: every session ended, and sign-in is refused until re-enabled.")
    else:
        messages.success(request, "User re-enabled: they can sign in again.")
    return _back(access, user_id)


@project_view
def user_delete(request: HttpRequest, access: ProjectAccess, user_id: str) -> HttpResponse:
    project, user = _load_user(request, access, user_id, Perm.CHANGE_DATA)
    identity.delete_user(project, user_id)
    messages.success(request, f"User {user.get('email') or user_id} deleted; their tokens stopped working.")
    return redirect("console:users", access.project.ref)


@project_view
def user_reset(request: HttpRequest, access: ProjectAccess, user_id: str) -> HttpResponse:
    project, user = _load_user(request, access, user_id, Perm.CHANGE_DATA)
    if not user.get("email"):
        messages.error(request, "This user has no email address to send a reset link to.")
        return _back(access, user_id)
    recovery.request_reset(project, {"email": user["email"]})
    messages.success(
        request, f"Password reset email sent to {user['email']} (the link is valid for one hour).{delivery_note()}"
    )
    return _back(access, user_id)


@project_view
def user_sessions_revoke(request: HttpRequest, access: ProjectAccess, user_id: str) -> HttpResponse:
    project, _user = _load_user(request, access, user_id, Perm.CHANGE_DATA)
    wanted = request.POST.get("session") or ""
    live = sessions.list_sessions(project, user_id)
    targets = [s.id for s in live] if wanted == "all" else [wanted]
    for session_id in targets:
        sessions.revoke_session(project, user_id, session_id)
    ended = "All sessions ended" if wanted == "all" else "Session ended"
    messages.success(request, f"{ended}: their access tokens are refused from the next request.")
    return _back(access, user_id)
