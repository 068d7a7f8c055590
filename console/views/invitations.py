"""The page an invitation email links to: sign up or sign in, then accept the role."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from basalt.core.errors import BasaltError
from basalt.projects import invitations
from console.views.common import error_page, page, signed_in


def invite(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST":
        return _accept(request, token)
    try:
        invitation = invitations.peek_invitation(token)
    except BasaltError as exc:
        return error_page(request, 400, "Invitation not valid", exc.message)
    here = request.get_full_path()
    context = {
        "invitation": invitation,
        "project_name": invitation.project.name,
        "email_matches": request.user.is_authenticated and request.user.email.lower() == invitation.email.lower(),
        "signup_url": reverse("console:signup") + "?" + urlencode({"next": here, "email": invitation.email}),
        "signin_url": reverse("console:signin") + "?" + urlencode({"next": here}),
    }
    return page(request, "console/auth/invite.html", context)


@signed_in
def _accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        membership = invitations.accept_invitation(request.user, token)
    except BasaltError as exc:
        return error_page(request, 400 if exc.status == 401 else exc.status, "Invitation not accepted", exc.message)
    messages.success(request, f"You joined “{membership.project.name}” as {membership.role}.")
    return redirect("console:project", membership.project.ref)
