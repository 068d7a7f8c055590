"""Files faces (API.md §5): parse, call one service, render. Bodies are streamed, never read whole."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from basalt.core.caller import Caller
from basalt.core.errors import LengthRequired, MethodNotAllowed, ValidationFailed
from basalt.core.json import loads_body
from basalt.core.request_body import CUTS_REPORTED, sent_chunked, streams_body
from basalt.documents.api.base import endpoint, json_body, no_content, respond
from basalt.files import direct, services, signing, thumbs, tus
from basalt.files.access import access_file
from basalt.files.config import files_config
from basalt.files.ingest import Ingest, check_room
from basalt.files.models import File
from basalt.files.serving import serve
from basalt.files.storage import CHUNK
from basalt.projects.caller import resolve_caller

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file part


def _declared_length(request: HttpRequest) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    if not raw:
        return None
    try:
        length = int(raw)
    except ValueError:
        raise ValidationFailed("Content-Length is not a number.") from None
    if length < 0:
        raise ValidationFailed("Content-Length is negative.")
    return length


def _acl_param(request: HttpRequest) -> Any:
    raw = request.GET.get("acl")
    return None if raw is None else loads_body(raw.encode())


class _StreamToIngest(FileUploadHandler):
    """Django's multipart parser hands the `file` part here chunk by chunk, straight into an Ingest."""

    chunk_size = CHUNK

    def __init__(self, open_ingest):
        super().__init__()
        self.open_ingest = open_ingest
        self.ingest: Ingest | None = None
        self.result: File | None = None

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        if field_name != "file" or self.ingest is not None:
            raise StopUpload(connection_reset=False)
        self.ingest = self.open_ingest(file_name, content_type)

    def receive_data_chunk(self, raw_data, start):
        self.ingest.feed(raw_data)
        return None

    def file_complete(self, file_size):
        self.result = self.ingest.finish()
        return _Done()


class _Done:
    """What the parser files under request.FILES; the real result is on the handler."""

    name = "file"
    size = 0

    def close(self):
        pass


def _chunked(request: HttpRequest) -> bool:
    """A body without a length, read to its end as it arrives (the view streams_body), where the
    server reports one cut short; elsewhere 411, before anything is stored."""
    if not sent_chunked(request.META):
        return False
    if not request.META.get(CUTS_REPORTED):
        # granian 2.8.7 reads a chunked body that a hang-up or bad framing ended early as a clean
        # end: stored, it would be a truncated file with a sha256 of its own (core.request_body).
        raise LengthRequired(
            "This server cannot tell a chunked upload cut short from a whole one: send a "
            "Content-Length, or upload resumably with tus (/api/v1/files/tus)."
        )
    return True


def _parse_multipart(request: HttpRequest, handler: FileUploadHandler, chunked: bool) -> None:
    if not chunked:
        request.POST  # noqa: B018 (parses the body through the handler)
        return
    # Django's parser reads its input to the end but takes a Content-Length of 0 for an empty
    # body: give it an upper bound instead (the Ingest enforces the real limits as bytes pass).
    meta = {**request.META, "CONTENT_LENGTH": str(2**62)}
    MultiPartParser(meta, request, [handler], request.encoding).parse()


def _upload(request: HttpRequest, caller: Caller) -> HttpResponse:
    content_type = request.META.get("CONTENT_TYPE", "")
    length = _declared_length(request)
    acl = _acl_param(request)
    chunked = _chunked(request)
    if content_type.lower().startswith("multipart/form-data"):
        if length is not None:
            check_room(caller.project.pk, files_config(caller.project), max(0, length - MULTIPART_OVERHEAD))

        def open_ingest(file_name, part_type):
            return services.begin_upload(
                caller,
                name=request.GET.get("name") or file_name,
                declared_type=part_type,
                declared_length=None,
                acl=acl,
            )

        handler = _StreamToIngest(open_ingest)
        request.upload_handlers = [handler]
        try:
            _parse_multipart(request, handler, chunked)
        except MultiPartParserError as exc:
            raise ValidationFailed(f"The multipart body is malformed: {exc}") from None
        finally:
            if handler.ingest is not None and handler.result is None:
                handler.ingest.abort()
        if handler.result is None:
            raise ValidationFailed(details={"file": ["Send the file in a multipart part named `file`."]})
        row = handler.result
    else:
        ingest = services.begin_upload(
            caller, name=request.GET.get("name"), declared_type=content_type, declared_length=length, acl=acl
        )
        try:
            while chunk := request.read(CHUNK):
                ingest.feed(chunk)
        except OSError:
            ingest.abort()
            raise ValidationFailed("The upload was interrupted.") from None
        except BaseException:
            ingest.abort()  # whatever the server raised: no temporary object, no pipeline thread left
            raise
        row = ingest.finish()
    body = services.render(row)
    return respond(body, 201, {"Location": f"/api/v1/files/{row.id}"})


def _list(request: HttpRequest, caller: Caller) -> HttpResponse:
    return respond(services.list_files(caller, request.GET.dict()))


def _get(request: HttpRequest, caller: Caller, file_id: str) -> HttpResponse:
    return respond(services.get_file(caller, file_id))


def _patch(request: HttpRequest, caller: Caller, file_id: str) -> HttpResponse:
    return respond(services.update_file(caller, file_id, json_body(request)))


def _delete(request: HttpRequest, caller: Caller, file_id: str) -> HttpResponse:
    services.delete_file(caller, file_id)
    return no_content()


def _mint(request: HttpRequest, caller: Caller, file_id: str) -> HttpResponse:
    body = json_body(request) if request.body else {}
    return respond(services.mint_url(caller, file_id, body))


@csrf_exempt
def content(request: HttpRequest, file_id: str) -> HttpResponse:
    """The bytes, by API key (+ bearer) or by a signed `?token=` alone."""
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(headers={"Allow": "GET, HEAD"})
    token = request.GET.get("token")
    if token is not None:
        project_id = signing.verify(token, file_id)
        row = (
            File.objects.filter(pk=file_id, project_id=project_id, status=File.READY).select_related("project").first()
        )
        if row is None:
            from basalt.core.errors import NotFound

            raise NotFound()
        project = row.project
        cache = "private, max-age=300"
    else:
        caller = resolve_caller(request)
        row = access_file(caller, file_id)
        project = caller.project
        cache = "private, no-cache"
    spec = thumbs.check_spec(project, request.GET.get("thumb"), request.GET.get("fit"))
    if spec is not None:
        width, height, fit = spec
        made = thumbs.thumbnail(row, width, height, fit)
        return serve(
            request,
            key=made.storage_key,
            size=made.size,
            sha256=f"{row.sha256[:32]}-{made.spec}",
            name=row.name,
            content_type=made.content_type,
            cache=cache,
            keep=True,
        )
    return serve(
        request,
        key=row.storage_key,
        size=row.size,
        sha256=row.sha256,
        name=row.name,
        content_type=row.content_type,
        cache=cache,
    )


def _begin_direct(request: HttpRequest, caller: Caller) -> HttpResponse:
    return respond(direct.begin(caller, json_body(request)), 201)


def _complete(request: HttpRequest, caller: Caller, file_id: str) -> HttpResponse:
    return respond(direct.complete(caller, file_id))


@csrf_exempt
def direct_put(request: HttpRequest, file_id: str) -> HttpResponse:
    if request.method != "PUT":
        raise MethodNotAllowed(headers={"Allow": "PUT"})
    direct.receive_put(request, file_id)
    return no_content()


uploads = endpoint(post=_begin_direct)
complete = endpoint(post=_complete)
files = streams_body(endpoint(get=_list, post=_upload))
file = endpoint(get=_get, patch=_patch, delete=_delete)
url = endpoint(post=_mint)


@csrf_exempt
def tus_root(request: HttpRequest) -> HttpResponse:
    if request.method == "OPTIONS":
        return tus.options_response()
    if request.method != "POST":
        raise MethodNotAllowed(headers={"Allow": "OPTIONS, POST"})
    return tus.create(request, resolve_caller(request))


@streams_body  # a chunked PATCH stores what arrived, as a short one does; the client resumes from HEAD
@csrf_exempt
def tus_upload(request: HttpRequest, upload_id: str) -> HttpResponse:
    handlers = {"HEAD": tus.head, "PATCH": tus.patch, "DELETE": tus.terminate}
    if request.method == "OPTIONS":
        return tus.options_response()
    handler = handlers.get(request.method or "")
    if handler is None:
        raise MethodNotAllowed(headers={"Allow": "HEAD, PATCH, DELETE, OPTIONS"})
    return handler(request, resolve_caller(request), upload_id)
