"""Create a project from a shell and print its ref and fresh keys as JSON."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from basalt.accounts.models import Account
from basalt.core.errors import BasaltError
from basalt.projects import services
from basalt.projects.api.serializers import key_out, project_out


class Command(BaseCommand):
    help = "Create a project owned by EMAIL (the console account is created, password unset, if missing)."

    def add_arguments(self, parser):
        parser.add_argument("--owner", required=True, help="email of the owning console account")
        parser.add_argument("--name", required=True, help="project name")

    def handle(self, *args, owner: str, name: str, **options):
        owner = owner.strip()
        if not name.strip():
            raise CommandError("--name must not be empty.")
        try:
            validate_email(owner)
        except ValidationError:
            raise CommandError(f"--owner must be an email address, got {owner[:100]!r}.") from None
        try:
            with transaction.atomic():
                account = Account.objects.filter(email__iexact=owner).first()
                created_account = account is None
                if account is None:
                    account = Account.objects.create_user(owner)
                project = services.create_project(account, name)
                publishable = services.create_key(account, project, "publishable", "default publishable")
                secret = services.create_key(account, project, "secret", "default secret")
        except BasaltError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in (exc.details or {}).items())
            raise CommandError(f"{exc.message} {problems}".strip()) from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        output = {
            **project_out(project),
            "owner": account.email,
            "owner_created": created_account,
            "publishable_key": key_out(publishable.key, publishable.raw),
            "secret_key": key_out(secret.key, secret.raw),
        }
        self.stdout.write(json.dumps(output, indent=2))
