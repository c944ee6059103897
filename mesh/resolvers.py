"""Queries and mutations. Each one reads the caller's identity from the context and touches
only rows of that tenant (and user): another tenant's id is as good as a missing one."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from ariadne import MutationType, QueryType, ScalarType
from graphql import GraphQLResolveInfo
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mesh.auth import Identity
from mesh.db import (
    AppletRow,
    FunctionalPromptRow,
    NoteRow,
    OwnedRow,
    PersonalityRow,
    ProfileRow,
    utcnow,
)
from mesh.errors import BadInput, NotFound

TITLE_MAX = 200
CONTENT_MAX = 100_000
HTML_MAX = 500_000
NAME_MAX = 100
PROMPT_MAX = 20_000
QUERY_MAX = 200
PREFERENCES_MAX_BYTES = 16_000
PREFERENCES_MAX_DEPTH = 16
LIMIT_MAX = 100
# What one user may keep: with the field limits above, at most 100 MB of notes and 50 MB of
# applets, however many requests write them.
NOTES_PER_USER = 1_000
APPLETS_PER_USER = 100

Info = GraphQLResolveInfo[dict[str, Any]]

query = QueryType()
mutation = MutationType()
datetime_scalar = ScalarType("DateTime")
json_scalar = ScalarType("JSON")


@datetime_scalar.serializer
def _serialize_datetime(value: datetime) -> str:
    # SQLite hands back naive datetimes; every stored time is UTC.
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    # Always with microseconds, so that the strings sort as the instants do.
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@asynccontextmanager
async def _db(info: Info) -> AsyncIterator[tuple[AsyncSession, Identity]]:
    async with info.context["sessions"]() as session, session.begin():
        yield session, info.context["identity"]


def _text(value: object, name: str, *, max_len: int, required: bool = True) -> str:
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a string")
    if required and not value.strip():
        raise BadInput(f"{name} must not be empty")
    if len(value) > max_len:
        raise BadInput(f"{name} is longer than {max_len} characters")
    _storable(value, name)
    return value


def _storable(value: str, name: str) -> None:
    """Text both databases can keep: PostgreSQL refuses NUL, neither driver can encode a lone
    surrogate (JSON's `\ud800` arrives as one). Refused here, they are the caller's mistake
    rather than an internal error."""
    if "\x00" in value:
        raise BadInput(f"{name} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{name} is not valid Unicode text") from None


def _depth(value: object) -> int:
    """How deeply a JSON value nests, counted without recursion (it is the caller's value)."""
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
    return depth


def _preferences(stored: dict[str, Any], change: object) -> dict[str, Any]:
    """The stored preferences with the change merged in (a null value removes its key)."""
    if not isinstance(change, dict):
        raise BadInput("preferences must be an object of names and values")
    if _depth(change) > PREFERENCES_MAX_DEPTH:
        raise BadInput(f"preferences nest deeper than {PREFERENCES_MAX_DEPTH} levels")
    merged = {k: v for k, v in {**stored, **change}.items() if v is not None}
    encoded = json.dumps(merged)  # as stored: non-ASCII escaped, so characters are bytes
    _storable(json.dumps(merged, ensure_ascii=False), "preferences")
    if len(encoded) > PREFERENCES_MAX_BYTES:
        raise BadInput(f"preferences are larger than {PREFERENCES_MAX_BYTES} bytes")
    return merged


def _uuid(value: str) -> bool:
    """Ids are UUIDs; anything else names no row (and is not worth a query)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _limit(value: object) -> int:
    if not isinstance(value, int) or not 1 <= value <= LIMIT_MAX:
        raise BadInput(f"limit must be from 1 to {LIMIT_MAX}")
    return value


def _note(row: NoteRow) -> dict[str, Any]:
    return {"id": row.id, "title": row.title, "content": row.content,
            "createdAt": row.created_at, "updatedAt": row.updated_at}  # fmt: skip


def _applet(row: AppletRow) -> dict[str, Any]:
    return {"id": row.id, "title": row.title, "html": row.html,
            "createdAt": row.created_at, "updatedAt": row.updated_at}  # fmt: skip


async def _owned(db: AsyncSession, model: type[OwnedRow], who: Identity, row_id: str) -> Any:
    if not _uuid(row_id):
        return None
    row = await db.get(model, row_id)
    if row is None or row.tenant != who.tenant or row.user_id != who.user:
        return None
    return row


async def _owned_or_missing(
    db: AsyncSession, model: type[OwnedRow], who: Identity, row_id: str, what: str
) -> Any:
    row = await _owned(db, model, who, row_id)
    if row is None:
        raise NotFound(f"no {what} {row_id}")
    return row


async def _recent(
    db: AsyncSession, model: type[OwnedRow], who: Identity, limit: object
) -> list[Any]:
    rows = await db.scalars(
        select(model)
        .where(model.tenant == who.tenant, model.user_id == who.user)
        .order_by(model.updated_at.desc(), model.id)
        .limit(_limit(limit))
    )
    return list(rows)


async def _room_for_one_more(
    db: AsyncSession, model: type[OwnedRow], who: Identity, most: int, what: str
) -> None:
    held = await db.scalar(
        select(func.count()).where(model.tenant == who.tenant, model.user_id == who.user)
    )
    if (held or 0) >= most:
        raise BadInput(f"a user keeps at most {most} {what}; delete some first")


def _add(db: AsyncSession, model: type[OwnedRow], who: Identity, **fields: str) -> Any:
    """A new row of the caller's, created and updated now."""
    now = utcnow()
    row = model(id=str(uuid.uuid4()), tenant=who.tenant, user_id=who.user,
                created_at=now, updated_at=now, **fields)  # fmt: skip
    db.add(row)
    return row


async def _delete(db: AsyncSession, model: type[OwnedRow], who: Identity, row_id: str) -> bool:
    row = await _owned(db, model, who, row_id)
    if row is None:
        return False
    await db.delete(row)
    return True


# notes ---------------------------------------------------------------------------------------


@query.field("note")
async def resolve_note(_: None, info: Info, id: str) -> dict[str, Any] | None:
    async with _db(info) as (db, who):
        row = await _owned(db, NoteRow, who, id)
        return _note(row) if row else None


@query.field("notes")
async def resolve_notes(_: None, info: Info, limit: int = 20) -> list[Any]:
    async with _db(info) as (db, who):
        return [_note(r) for r in await _recent(db, NoteRow, who, limit)]


@query.field("searchNotes")
async def resolve_search_notes(_: None, info: Info, query: str, limit: int = 20) -> list[Any]:
    text = _text(query, "query", max_len=QUERY_MAX)
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    async with _db(info) as (db, who):
        rows = await db.scalars(
            select(NoteRow)
            .where(
                NoteRow.tenant == who.tenant,
                NoteRow.user_id == who.user,
                or_(
                    NoteRow.title.ilike(pattern, escape="\\"),
                    NoteRow.content.ilike(pattern, escape="\\"),
                ),
            )
            .order_by(NoteRow.updated_at.desc(), NoteRow.id)
            .limit(_limit(limit))
        )
        return [_note(r) for r in rows]


@mutation.field("createNote")
async def resolve_create_note(
    _: None, info: Info, title: str, content: str | None = None
) -> dict[str, Any]:
    async with _db(info) as (db, who):
        await _room_for_one_more(db, NoteRow, who, NOTES_PER_USER, "notes")
        row = _add(
            db,
            NoteRow,
            who,
            title=_text(title, "title", max_len=TITLE_MAX),
            content=_text(content or "", "content", max_len=CONTENT_MAX, required=False),
        )
        return _note(row)


@mutation.field("updateNote")
async def resolve_update_note(
    _: None,
    info: Info,
    id: str,
    title: str | None = None,
    content: str | None = None,
) -> dict[str, Any]:
    async with _db(info) as (db, who):
        row = await _owned_or_missing(db, NoteRow, who, id, "note")
        if title is not None:
            row.title = _text(title, "title", max_len=TITLE_MAX)
        if content is not None:
            row.content = _text(content, "content", max_len=CONTENT_MAX, required=False)
        row.updated_at = utcnow()
        return _note(row)


@mutation.field("appendToNote")
async def resolve_append_to_note(_: None, info: Info, id: str, content: str) -> dict[str, Any]:
    addition = _text(content, "content", max_len=CONTENT_MAX)
    async with _db(info) as (db, who):
        row = await _owned_or_missing(db, NoteRow, who, id, "note")
        combined = f"{row.content}\n{addition}" if row.content else addition
        row.content = _text(combined, "content", max_len=CONTENT_MAX)
        row.updated_at = utcnow()
        return _note(row)


@mutation.field("deleteNote")
async def resolve_delete_note(_: None, info: Info, id: str) -> bool:
    async with _db(info) as (db, who):
        return await _delete(db, NoteRow, who, id)


# applets -------------------------------------------------------------------------------------


@query.field("applet")
async def resolve_applet(_: None, info: Info, id: str) -> dict[str, Any] | None:
    async with _db(info) as (db, who):
        row = await _owned(db, AppletRow, who, id)
        return _applet(row) if row else None


@query.field("applets")
async def resolve_applets(_: None, info: Info, limit: int = 20) -> list[Any]:
    async with _db(info) as (db, who):
        return [_applet(r) for r in await _recent(db, AppletRow, who, limit)]


@mutation.field("createApplet")
async def resolve_create_applet(_: None, info: Info, title: str, html: str) -> dict[str, Any]:
    async with _db(info) as (db, who):
        await _room_for_one_more(db, AppletRow, who, APPLETS_PER_USER, "applets")
        row = _add(
            db,
            AppletRow,
            who,
            title=_text(title, "title", max_len=TITLE_MAX),
            html=_text(html, "html", max_len=HTML_MAX),
        )
        return _applet(row)


@mutation.field("updateApplet")
async def resolve_update_applet(
    _: None, info: Info, id: str, title: str | None = None, html: str | None = None
) -> dict[str, Any]:
    async with _db(info) as (db, who):
        row = await _owned_or_missing(db, AppletRow, who, id, "applet")
        if title is not None:
            row.title = _text(title, "title", max_len=TITLE_MAX)
        if html is not None:
            row.html = _text(html, "html", max_len=HTML_MAX)
        row.updated_at = utcnow()
        return _applet(row)


@mutation.field("deleteApplet")
async def resolve_delete_applet(_: None, info: Info, id: str) -> bool:
    async with _db(info) as (db, who):
        return await _delete(db, AppletRow, who, id)


# profile -------------------------------------------------------------------------------------


def _profile(who: Identity, row: ProfileRow | None) -> dict[str, Any]:
    if row is None:
        return {"userId": who.user, "displayName": None, "preferences": {}, "updatedAt": None}
    return {"userId": row.user_id, "displayName": row.display_name,
            "preferences": row.preferences or {}, "updatedAt": row.updated_at}  # fmt: skip


@query.field("profile")
async def resolve_profile(_: None, info: Info) -> dict[str, Any]:
    async with _db(info) as (db, who):
        return _profile(who, await db.get(ProfileRow, (who.tenant, who.user)))


@mutation.field("updateProfile")
async def resolve_update_profile(
    _: None, info: Info, displayName: str | None = None, preferences: Any = None
) -> dict[str, Any]:
    async with _db(info) as (db, who):
        row = await db.get(ProfileRow, (who.tenant, who.user))
        if row is None:
            row = ProfileRow(tenant=who.tenant, user_id=who.user, preferences={})
            db.add(row)
        if displayName is not None:
            row.display_name = _text(displayName, "displayName", max_len=100)
        if preferences is not None:
            row.preferences = _preferences(row.preferences or {}, preferences)
        row.updated_at = utcnow()
        return _profile(who, row)


# prompts and personality ---------------------------------------------------------------------


@query.field("functionalPrompts")
async def resolve_functional_prompts(_: None, info: Info) -> list[Any]:
    async with _db(info) as (db, who):
        rows = await db.scalars(
            select(FunctionalPromptRow)
            .where(FunctionalPromptRow.tenant == who.tenant)
            .order_by(FunctionalPromptRow.name)
        )
        return [{"name": r.name, "content": r.content, "updatedAt": r.updated_at} for r in rows]


@mutation.field("setFunctionalPrompt")
async def resolve_set_functional_prompt(
    _: None, info: Info, name: str, content: str
) -> dict[str, Any]:
    name = _text(name, "name", max_len=NAME_MAX)
    content = _text(content, "content", max_len=PROMPT_MAX)
    async with _db(info) as (db, who):
        row = await db.get(FunctionalPromptRow, (who.tenant, name))
        if row is None:
            row = FunctionalPromptRow(tenant=who.tenant, name=name)
            db.add(row)
        row.content, row.updated_at = content, utcnow()
        return {"name": row.name, "content": row.content, "updatedAt": row.updated_at}


@mutation.field("deleteFunctionalPrompt")
async def resolve_delete_functional_prompt(_: None, info: Info, name: str) -> bool:
    name = _text(name, "name", max_len=NAME_MAX)
    async with _db(info) as (db, who):
        result = await db.execute(
            delete(FunctionalPromptRow).where(
                FunctionalPromptRow.tenant == who.tenant, FunctionalPromptRow.name == name
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


@query.field("personality")
async def resolve_personality(_: None, info: Info) -> dict[str, Any] | None:
    async with _db(info) as (db, who):
        row = await db.get(PersonalityRow, who.tenant)
        return {"instructions": row.instructions, "updatedAt": row.updated_at} if row else None


@mutation.field("setPersonality")
async def resolve_set_personality(_: None, info: Info, instructions: str) -> dict[str, Any]:
    instructions = _text(instructions, "instructions", max_len=PROMPT_MAX)
    async with _db(info) as (db, who):
        row = await db.get(PersonalityRow, who.tenant)
        if row is None:
            row = PersonalityRow(tenant=who.tenant)
            db.add(row)
        row.instructions, row.updated_at = instructions, utcnow()
        return {"instructions": row.instructions, "updatedAt": row.updated_at}
