"""Files: uploads (simple, tus, direct), per-file ACLs, signed URLs, thumbnails, orphan sweep."""
