"""The tables and the engine. Rows carry their tenant (and user) so every query can be scoped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, String, Text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from voicefleet.sql import async_url, make_engine, make_sessions, utcnow

__all__ = ["async_url", "create_tables", "make_engine", "make_sessions", "utcnow"]


class Base(DeclarativeBase):
    pass


class OwnedRow(Base):
    """A user's item: notes and applets share identity, ownership and timestamps."""

    __abstract__ = True

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NoteRow(OwnedRow):
    __tablename__ = "mesh_notes"
    __table_args__ = (Index("ix_mesh_notes_owner", "tenant", "user_id", "updated_at"),)

    content: Mapped[str] = mapped_column(Text, default="")


class AppletRow(OwnedRow):
    __tablename__ = "mesh_applets"
    __table_args__ = (Index("ix_mesh_applets_owner", "tenant", "user_id", "updated_at"),)

    html: Mapped[str] = mapped_column(Text)


class ProfileRow(Base):
    __tablename__ = "mesh_profiles"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FunctionalPromptRow(Base):
    __tablename__ = "mesh_functional_prompts"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PersonalityRow(Base):
    __tablename__ = "mesh_personalities"

    tenant: Mapped[str] = mapped_column(String(100), primary_key=True)
    instructions: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


async def create_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
