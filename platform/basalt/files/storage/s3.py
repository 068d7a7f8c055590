"""S3-compatible storage through django-storages' configured boto3 client.

Uploads stream as S3 multipart uploads (one part buffered at a time), so a file is never whole in
memory or on local disk; an aborted write aborts the multipart upload, leaving no object.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from basalt.files.storage import CHUNK
from basalt.files.storage.prefetch import read_ahead

PART = 8 * 1024 * 1024  # S3's minimum part is 5 MiB; 8 MiB keeps one part in memory per upload


class S3Writer:
    def __init__(self, client, bucket: str, key: str):
        self.client, self.bucket, self.key = client, bucket, key
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def _flush_part(self) -> None:
        if self.upload_id is None:
            self.upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
        number = len(self.parts) + 1
        # The buffer itself, not a bytes() copy of it: one 8 MiB part in memory, not two.
        part, self.buffer = self.buffer, bytearray()
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=part
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def write(self, chunk: bytes) -> None:
        self.buffer += chunk
        if len(self.buffer) >= PART:
            self._flush_part()

    def commit(self) -> None:
        if self.upload_id is None:
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.buffer))
            self.buffer.clear()
            return
        if self.buffer:
            self._flush_part()
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
        )

    def abort(self) -> None:
        self.buffer.clear()
        if self.upload_id is not None:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
            except ClientError:
                pass  # the expiry task (tasks.expire_multipart) retries stranded uploads


class S3Storage:
    kind = "s3"

    def __init__(self, options: dict[str, Any]):
        from storages.backends.s3 import S3Storage as DjangoS3Storage

        self.django = DjangoS3Storage(**options)
        self.client = self.django.connection.meta.client
        self.bucket = self.django.bucket_name

    def writer(self, key: str) -> S3Writer:
        return S3Writer(self.client, self.bucket, key)

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        extra = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end}"
        answer = self.client.get_object(Bucket=self.bucket, Key=key, **extra)
        body = answer["Body"]
        if int(answer.get("ContentLength") or 0) > 2 * CHUNK:
            # Downloads: the next chunks come from the bucket while this one is sent (prefetch.py).
            yield from read_ahead(body.iter_chunks(CHUNK), body.close)
            return
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def size(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> None:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})

    def presigned_get(self, key: str, expires_in: int, params: dict[str, str]) -> str | None:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key, **params}, ExpiresIn=expires_in
        )

    def presigned_post(self, key: str, expires_in: int, content_type: str, size: int) -> dict[str, Any]:
        """A browser-style POST whose policy pins the key, the Content-Type and the exact size."""
        return self.client.generate_presigned_post(
            self.bucket,
            key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
            ExpiresIn=expires_in,
        )

    # Resumable writes (tus): the caller numbers the parts and keeps their ETags between requests.
    def begin_parts(self, key: str) -> str:
        return self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]

    def put_part(self, key: str, upload_id: str, number: int, data: bytes) -> str:
        """Upload (or replace: the same number again) one part; its ETag."""
        answer = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)
        return answer["ETag"]

    def complete_parts(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """S3 checks each ETag against the part it holds: a part replaced since it was recorded fails here."""
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in parts]},
        )

    def stranded_uploads(self, prefix: str = "") -> Iterator[tuple[str, str, Any]]:
        """Multipart uploads begun and never completed: (key, upload id, initiated)."""
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                yield upload["Key"], upload["UploadId"], upload["Initiated"]

    def abort_upload(self, key: str, upload_id: str) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
