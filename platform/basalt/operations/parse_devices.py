"""Parse Server `_Installation` rows as Basalt push installations, and `authData` as linked sign-ins.

Installations: `deviceType` ios → platform ios, provider APNs; android → platform android,
provider FCM (Parse's `gcm` tokens come from the FCM SDK since 2019). `deviceToken` → token
(checked as the provider would), `channels` (Parse's empty "broadcast" channel dropped),
`localeIdentifier` → locale, `timeZone` → timezone (when this install knows the zone),
`appVersion` → app_version, `badge`, and a `user` pointer to `_User` when the app kept one (the
device's owner: its ACL, as Basalt's own registration gives it). Rows that cannot be a Basalt
device (other device types, no token, a malformed one) are counted in the result, not imported;
of several rows holding one token, the most recently updated is kept (Basalt keeps one device
per token). Every other key of a row (the app's own: `favoriteTeam`, `installationId`, a
`Pointer`, a `Date`, a `GeoPoint`, `Bytes`) becomes an app-defined field in the installation's `custom` object under the
name the Parse face reads it by (`favoriteTeam` ↔ `favorite_team`; push/custom.py), pointers
remapped to the imported ids; a key with no such name, a reserved one, a File value (not mapped
to the imported files), or one past the bounds of `custom` is left out and counted in
`fields_left_out`.

authData: `google`, `apple` and `github` ids are the providers' own stable subjects (the ones
Basalt's sign-in looks up), so those users sign in with the same accounts after the move. Tokens
in authData are never kept. `anonymous` marks an anonymous user (when it has no email or
password). Other providers are counted as not linked.
"""

from __future__ import annotations

from typing import Any

from basalt.core.errors import ValidationFailed
from basalt.parse import names
from basalt.parse.errors import ParseError
from basalt.parse.push import value_to_custom
from basalt.push import custom, providers
from basalt.push.builtin import DEFINITION as INSTALLATIONS_DEFINITION
from basalt.push.builtin import INSTALLATIONS
from basalt.push.installations import MAX_CHANNELS, valid_timezone

# What a row holds besides app-defined fields (read above, or the server's own).
DEVICE_KEYS = frozenset(
    {"objectId", "createdAt", "updatedAt", "ACL", "deviceType", "deviceToken", "channels", "badge"}
    | {"localeIdentifier", "timeZone", "appVersion", "user", "pushType", "GCMSenderId"}
)
PARSE_DEVICES = {"ios": ("ios", "apns"), "android": ("android", "fcm")}
LINKED_PROVIDERS = ("google", "apple", "github")


def installations_definition() -> dict[str, Any]:
    return dict(INSTALLATIONS_DEFINITION)


def device(row: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(the installation's data without its user, None), or (None, why it is not imported)."""
    platform_provider = PARSE_DEVICES.get(row.get("deviceType"))
    if platform_provider is None:
        return None, "device_type"
    platform, provider = platform_provider
    token = row.get("deviceToken")
    if not isinstance(token, str) or not 1 <= len(token) <= 2048 or providers.get(provider).check_token(token):
        return None, "token"
    channels = row.get("channels")
    channels = [c for c in channels if isinstance(c, str) and c][:MAX_CHANNELS] if isinstance(channels, list) else []
    data: dict[str, Any] = {
        "platform": platform,
        "provider": provider,
        "token": token,
        "channels": sorted(set(channels), key=channels.index),
        "badge": row["badge"] if type(row.get("badge")) is int and row["badge"] >= 0 else 0,
        "active": True,
    }
    locale, zone, version = row.get("localeIdentifier"), row.get("timeZone"), row.get("appVersion")
    if isinstance(locale, str) and 0 < len(locale) <= 35:
        data["locale"] = locale
    if valid_timezone(zone):
        data["timezone"] = zone
    if isinstance(version, str) and 0 < len(version) <= 64:
        data["app_version"] = version
    return data, None


def custom_fields(row: dict[str, Any], pointer) -> tuple[dict[str, Any], list[str]]:
    """The row's app-defined keys as `custom` stores them, and the keys left out.

    `pointer(class_name, object_id)` gives (collection, id) of an imported object."""
    fields: dict[str, Any] = {}
    left_out: list[str] = []
    for key in sorted(k for k in row if isinstance(k, str) and k not in DEVICE_KEYS and not k.startswith("_")):
        value = row[key]
        if value is None:
            continue
        try:
            name = names.encode(key)
            converted = custom.clean_value(value_to_custom(value, pointer), f"custom.{name}")
            fields = custom.apply(fields, {custom.check_name(name): converted})
        except (ParseError, ValidationFailed, ValueError, TypeError, KeyError):
            left_out.append(key[:64])
    return fields, left_out


def newest_per_token(rows: list[dict[str, Any]], when) -> list[dict[str, Any]]:
    """One row per deviceToken: the one updated last (`when` reads a row's time)."""
    kept: dict[Any, dict[str, Any]] = {}
    for row in sorted(rows, key=when):
        kept[row.get("deviceToken")] = row
    return list(kept.values())


def identities(auth_data: Any) -> tuple[list[tuple[str, str]], bool, list[str]]:
    """(provider, subject) links, whether the user is anonymous, and the providers not linked."""
    if not isinstance(auth_data, dict):
        return [], False, []
    links, anonymous, other = [], False, []
    for provider, entry in auth_data.items():
        if not isinstance(entry, dict):
            continue  # Parse writes null to unlink a provider
        subject = entry.get("id")
        if provider == "anonymous":
            anonymous = True
        elif provider in LINKED_PROVIDERS and type(subject) in (str, int) and 0 < len(str(subject)) <= 255:
            links.append((provider, str(subject)))
        else:
            other.append(str(provider)[:32])
    return links, anonymous, other


__all__ = ["INSTALLATIONS", "custom_fields", "device", "identities", "installations_definition", "newest_per_token"]
