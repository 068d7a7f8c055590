"""Copy a project on this install into a new one (new ids, same data, users, files and settings)."""

import json

from django.core.management.base import BaseCommand, CommandError

from basalt.accounts.models import Account
from basalt.core.errors import BasaltError
from basalt.operations import transfers
from basalt.operations.management.commands import _transfer
from basalt.operations.models import Transfer
from basalt.projects.models import Membership
from basalt.projects.services import create_project


class Command(BaseCommand):
    help = "Clone project REF into a new project --name (owned by --owner, default the source's owner)."

    def add_arguments(self, parser):
        parser.add_argument("--ref", required=True, help="the project to copy")
        parser.add_argument("--name", required=True, help="the new project's name")
        parser.add_argument("--owner", help="email of the new project's owner (default: the source's owner)")

    def handle(self, *args, ref: str, name: str, owner: str | None, **options):
        source = _transfer.project(ref)
        if owner:
            account = Account.objects.filter(email__iexact=owner.strip()).first()
            if account is None:
                raise CommandError(f"No console account {owner[:100]!r}.")
        else:
            membership = Membership.objects.filter(project=source, role="owner").order_by("id").first()
            if membership is None:
                raise CommandError("The project has no owner; pass --owner.")
            account = membership.account
        try:
            copy = create_project(account, name)
        except BasaltError as exc:
            raise _transfer.fail(exc) from None
        # The same runner as the API's background clone, here in the foreground.
        transfer = Transfer.objects.create(project=copy, kind=Transfer.CLONE, source_ref=source.ref, created_by=account)
        transfers.run(transfer.id)
        transfer.refresh_from_db()
        if transfer.status != Transfer.SUCCEEDED:
            raise CommandError(json.dumps({"error": transfer.error, "project": copy.ref}))
        self.stdout.write(
            json.dumps({"source": source.ref, "project": copy.ref, "name": copy.name, **transfer.progress}, indent=2)
        )
