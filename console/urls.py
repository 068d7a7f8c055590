"""Console pages, mounted at /console/ by basalt.urls; every view gets the console's security headers.

`page` routes answer GET (and some POST); `action` routes are form targets that only change
things on POST, and a GET on them (a reload of the address htmx left) lands on their page.
"""

from django.urls import re_path

from console.actions import Landing, post_only
from console.security import secure_page
from console.views import (
    account_links,
    account_security,
    audit,
    auth,
    data,
    emails,
    files,
    install_mail,
    invitations,
    jobs,
    logs,
    projects,
    push,
    realtime,
    reference,
    roles,
    schema,
    settings,
    transfers,
    usage,
    users,
    webhooks,
)

app_name = "console"

REF = r"p/(?P<ref>[a-z0-9]{1,32})"
NAME = r"(?P<name>[a-z][a-z0-9_]{0,62})"
DOC = r"(?P<doc_id>[A-Za-z0-9_-]{1,32})"
USER = r"(?P<user_id>[a-z0-9]{1,32})"
ROLE = r"(?P<name>[a-z][a-z0-9_-]{0,62})"
# An emailed account link (djoser's ACTIVATION_URL, PASSWORD_RESET_CONFIRM_URL): base64 id, token.
LINK = r"(?P<uid>[A-Za-z0-9_-]{1,64})/(?P<link_token>[A-Za-z0-9_-]{1,100})"

HOME = Landing("project")
SETTINGS = ("settings", ("ref",))
MEMBERS = Landing("members")
COLLECTION = ("collection", ("ref", "name"))
COLLECTION_DATA = ("data_collection", ("ref", "name"))
FIELD = r"(?P<field>[a-z][a-z0-9_]{0,62})"
DOCUMENT = Landing("document", ("ref", "name", "doc_id"))
USER_PAGE = Landing("user", ("ref", "user_id"))
ROLE_PAGE = Landing("role", ("ref", "name"))
HOOK = r"(?P<endpoint_id>ep_[a-z0-9]{1,30})"
DELIVERY = r"(?P<delivery_id>msg_[a-z0-9]{1,36})"
HOOK_PAGE = Landing("webhook", ("ref", "endpoint_id"))
JOB = r"(?P<job_id>job_[a-z0-9]{1,30})"
EXPORT = r"(?P<export_id>tr_[a-z0-9]{1,29})"


def page(pattern: str, view, name: str):
    return re_path(pattern, secure_page(view), name=name)


def action(pattern: str, view, name: str, landing: Landing):
    return re_path(pattern, secure_page(post_only(view, landing)), name=name)


FILE = r"(?P<file_id>[a-z0-9]{1,32})"

urlpatterns = [
    page(rf"^{REF}/files/?$", files.files, "files"),
    page(rf"^{REF}/files/upload/?$", files.upload, "files_upload"),
    page(rf"^{REF}/files/{FILE}/preview/?$", files.preview, "files_preview"),
    page(rf"^{REF}/files/{FILE}/url/?$", files.signed_url, "files_url"),
    page(rf"^{REF}/files/{FILE}/delete/?$", files.delete, "files_delete"),
    page(rf"^{REF}/files/{FILE}/acl/?$", files.acl, "files_acl"),
    page(r"^$", auth.index, "index"),
    page(r"^signin/?$", auth.sign_in, "signin"),
    page(r"^signup/?$", auth.sign_up, "signup"),
    page(r"^signin/code/?$", account_security.sign_in_code, "signin_code"),
    page(r"^account/?$", account_security.account, "account"),
    page(r"^account/totp/start/?$", account_security.totp_start, "account_totp_start"),
    page(r"^account/totp/confirm/?$", account_security.totp_confirm, "account_totp_confirm"),
    page(r"^account/totp/disable/?$", account_security.totp_disable, "account_totp_disable"),
    page(rf"^{REF}/settings/member-mfa/?$", account_security.member_mfa, "member_mfa"),
    page(r"^password/forgot/?$", account_links.password_forgot, "password_forgot"),
    page(rf"^password/reset/{LINK}/?$", account_links.password_reset, "password_reset"),
    page(rf"^activate/{LINK}/?$", account_links.activate, "activate"),
    action(r"^signout/?$", auth.sign_out, "signout", Landing("index", ())),
    page(r"^projects/?$", projects.project_list, "projects"),
    page(r"^install/mail/?$", install_mail.install_mail, "install_mail"),
    page(r"^install/outbox/?$", install_mail.install_outbox, "install_outbox"),
    page(rf"^{REF}/?$", projects.project_home, "project"),
    action(rf"^{REF}/keys/?$", projects.key_create, "key_create", Landing("project", anchor="keys")),
    action(
        rf"^{REF}/keys/(?P<key_id>[a-z0-9_]{{1,40}})/revoke/?$",
        projects.key_revoke,
        "key_revoke",
        Landing("project", anchor="keys"),
    ),
    action(rf"^{REF}/parse/?$", projects.parse_settings, "parse_settings", Landing("project", anchor="parse")),
    action(
        rf"^{REF}/quickstart/sample/?$",
        projects.sample_collection,
        "quickstart_sample",
        Landing("project", anchor="quickstart"),
    ),
    page(rf"^{REF}/settings/?$", settings.settings_page, "settings"),
    action(rf"^{REF}/settings/name/?$", settings.rename, "rename", Landing(*SETTINGS, anchor="general")),
    action(rf"^{REF}/settings/cors/?$", settings.change_cors, "cors", Landing(*SETTINGS, anchor="cors")),
    action(rf"^{REF}/settings/limits/?$", settings.change_limits, "limits", Landing(*SETTINGS, anchor="limits")),
    action(rf"^{REF}/settings/auth/?$", settings.change_auth, "auth_settings", Landing(*SETTINGS, anchor="auth")),
    action(
        rf"^{REF}/settings/providers/?$",
        settings.change_providers,
        "providers_settings",
        Landing(*SETTINGS, anchor="providers"),
    ),
    action(rf"^{REF}/settings/delete/?$", settings.delete, "delete", Landing(*SETTINGS, anchor="danger")),
    page(rf"^{REF}/members/?$", settings.members, "members"),
    action(rf"^{REF}/members/(?P<member_id>[0-9]{{1,18}})/role/?$", settings.member_role, "member_role", MEMBERS),
    action(rf"^{REF}/members/(?P<member_id>[0-9]{{1,18}})/remove/?$", settings.member_remove, "member_remove", MEMBERS),
    action(rf"^{REF}/invitations/?$", settings.invite, "invite_create", Landing("members", anchor="invitations")),
    action(
        rf"^{REF}/invitations/(?P<invitation_id>inv_[a-z0-9]{{1,28}})/revoke/?$",
        settings.invitation_revoke,
        "invitation_revoke",
        Landing("members", anchor="invitations"),
    ),
    page(r"^invite/(?P<token>[A-Za-z0-9_-]{1,100})/?$", invitations.invite, "invite"),
    page(rf"^{REF}/schema/?$", schema.schema_list, "schema"),
    page(rf"^{REF}/schema/{NAME}/?$", schema.collection_detail, "collection"),
    action(rf"^{REF}/schema/{NAME}/fields/?$", schema.field_add, "field_add", Landing(*COLLECTION, anchor="fields")),
    action(
        rf"^{REF}/schema/{NAME}/fields/(?P<field>[a-z][a-z0-9_]{{0,62}})/remove/?$",
        schema.field_remove,
        "field_remove",
        Landing(*COLLECTION, anchor="fields"),
    ),
    action(rf"^{REF}/schema/{NAME}/indexes/?$", schema.index_add, "index_add", Landing(*COLLECTION, anchor="indexes")),
    action(
        rf"^{REF}/schema/{NAME}/indexes/(?P<position>[0-9]{{1,3}})/remove/?$",
        schema.index_remove,
        "index_remove",
        Landing(*COLLECTION, anchor="indexes"),
    ),
    action(rf"^{REF}/schema/{NAME}/rules/?$", schema.rules, "rules", Landing(*COLLECTION, anchor="rules")),
    action(
        rf"^{REF}/schema/{NAME}/delete/?$",
        schema.collection_delete,
        "collection_delete",
        Landing(*COLLECTION, anchor="delete"),
    ),
    page(rf"^{REF}/data/?$", data.data_index, "data"),
    page(rf"^{REF}/data/{NAME}/?$", data.data_collection, "data_collection"),
    page(rf"^{REF}/data/{NAME}/new/?$", data.document_new, "document_new"),
    action(rf"^{REF}/data/{NAME}/grid/bulk/?$", data.document_bulk, "document_bulk", Landing(*COLLECTION_DATA)),
    action(rf"^{REF}/data/{NAME}/views/?$", data.saved_view_save, "saved_view_save", Landing(*COLLECTION_DATA)),
    action(
        rf"^{REF}/data/{NAME}/views/(?P<view_id>[0-9]{{1,18}})/delete/?$",
        data.saved_view_delete,
        "saved_view_delete",
        Landing(*COLLECTION_DATA),
    ),
    page(rf"^{REF}/data/{NAME}/grid/pick/?$", data.pointer_search, "pointer_search"),
    page(rf"^{REF}/data/{NAME}/{DOC}/cell/{FIELD}/?$", data.document_cell, "document_cell"),
    page(rf"^{REF}/data/{NAME}/{DOC}/?$", data.document_detail, "document"),
    action(rf"^{REF}/data/{NAME}/{DOC}/delete/?$", data.document_delete, "document_delete", DOCUMENT),
    page(rf"^{REF}/users/?$", users.users, "users"),
    page(rf"^{REF}/users/{USER}/?$", users.user_detail, "user"),
    action(rf"^{REF}/users/{USER}/profile/?$", users.user_profile, "user_profile", USER_PAGE),
    action(rf"^{REF}/users/{USER}/disable/?$", users.user_disable, "user_disable", USER_PAGE),
    action(rf"^{REF}/users/{USER}/delete/?$", users.user_delete, "user_delete", USER_PAGE),
    action(rf"^{REF}/users/{USER}/reset/?$", users.user_reset, "user_reset", USER_PAGE),
    action(rf"^{REF}/users/{USER}/sessions/?$", users.user_sessions_revoke, "user_sessions", USER_PAGE),
    action(rf"^{REF}/users/{USER}/mfa/reset/?$", users.user_mfa_reset, "user_mfa_reset", USER_PAGE),
    page(rf"^{REF}/roles/?$", roles.role_list, "roles"),
    page(rf"^{REF}/roles/{ROLE}/?$", roles.role_detail, "role"),
    action(rf"^{REF}/roles/{ROLE}/users/?$", roles.role_add_user, "role_add_user", ROLE_PAGE),
    action(rf"^{REF}/roles/{ROLE}/users/{USER}/remove/?$", roles.role_remove_user, "role_remove_user", ROLE_PAGE),
    action(rf"^{REF}/roles/{ROLE}/roles/?$", roles.role_add_child, "role_add_child", ROLE_PAGE),
    action(
        rf"^{REF}/roles/{ROLE}/roles/(?P<child>[a-z][a-z0-9_-]{{0,62}})/remove/?$",
        roles.role_remove_child,
        "role_remove_child",
        ROLE_PAGE,
    ),
    action(rf"^{REF}/roles/{ROLE}/delete/?$", roles.role_delete, "role_delete", ROLE_PAGE),
    page(rf"^{REF}/push/?$", push.push_page, "push"),
    page(rf"^{REF}/push/audience/?$", push.push_audience, "push_audience"),
    action(rf"^{REF}/push/send/?$", push.push_send, "push_send", Landing("push", anchor="composer")),
    action(rf"^{REF}/push/providers/?$", push.push_providers, "push_providers", Landing("push", anchor="providers")),
    action(
        rf"^{REF}/push/installations/(?P<installation_id>[A-Za-z0-9_-]{{1,32}})/channels/?$",
        push.push_channels,
        "push_channels",
        Landing("push", anchor="installations"),
    ),
    action(
        rf"^{REF}/push/(?P<push_id>p_[a-z0-9]{{1,30}})/cancel/?$",
        push.push_cancel,
        "push_cancel",
        Landing("push", anchor="history"),
    ),
    page(rf"^{REF}/reference/?$", reference.reference, "reference"),
    page(rf"^{REF}/reference/openapi\.json$", reference.reference_document, "reference_document"),
    page(rf"^{REF}/usage/?$", usage.usage, "usage"),
    page(rf"^{REF}/logs/?$", logs.logs, "logs"),
    action(rf"^{REF}/logs/retention/?$", logs.logs_retention, "logs_retention", Landing("logs")),
    page(rf"^{REF}/outbox/?$", logs.outbox, "outbox"),
    page(rf"^{REF}/settings/emails/?$", emails.email_templates, "emails"),
    action(rf"^{REF}/settings/emails/save/?$", emails.email_template_save, "email_template_save", Landing("emails")),
    page(rf"^{REF}/realtime/?$", realtime.realtime, "realtime"),
    # Webhooks (basalt.hooks)
    page(rf"^{REF}/webhooks/?$", webhooks.webhooks, "webhooks"),
    action(rf"^{REF}/webhooks/new/?$", webhooks.endpoint_create, "webhook_create", Landing("webhooks")),
    page(rf"^{REF}/webhooks/{HOOK}/?$", webhooks.endpoint, "webhook"),
    action(rf"^{REF}/webhooks/{HOOK}/toggle/?$", webhooks.endpoint_toggle, "webhook_toggle", HOOK_PAGE),
    action(rf"^{REF}/webhooks/{HOOK}/ping/?$", webhooks.endpoint_ping, "webhook_ping", HOOK_PAGE),
    action(rf"^{REF}/webhooks/{HOOK}/delete/?$", webhooks.endpoint_delete, "webhook_delete", HOOK_PAGE),
    page(rf"^{REF}/deliveries/{DELIVERY}/?$", webhooks.delivery, "webhook_delivery"),
    action(
        rf"^{REF}/deliveries/{DELIVERY}/redeliver/?$",
        webhooks.redeliver,
        "webhook_redeliver",
        Landing("webhook_delivery", ("ref", "delivery_id")),
    ),
    page(rf"^{REF}/jobs/?$", jobs.jobs, "jobs"),
    page(rf"^{REF}/audit/?$", audit.audit, "audit"),
    action(rf"^{REF}/jobs/new/?$", jobs.job_create, "job_create", Landing("jobs")),
    action(rf"^{REF}/jobs/{JOB}/run/?$", jobs.job_run, "job_run", Landing("jobs")),
    action(rf"^{REF}/jobs/{JOB}/delete/?$", jobs.job_delete, "job_delete", Landing("jobs")),
    # Export / import / clone (basalt.operations.transfers)
    page(rf"^{REF}/transfers/?$", transfers.transfers_page, "transfers"),
    page(rf"^{REF}/transfers/{EXPORT}/download/?$", transfers.export_download, "export_download"),
    action(rf"^{REF}/transfers/export/?$", transfers.export_start, "export_start", Landing("transfers")),
    action(rf"^{REF}/transfers/import/?$", transfers.import_start, "import_start", Landing("transfers")),
    action(rf"^{REF}/transfers/clone/?$", transfers.clone_start, "clone_start", Landing("transfers")),
]
