"""The class board's tables (SQLAlchemy 2.0 declarative): classes, their students, what they submitted.

Times are seconds since the epoch (a float): the same on SQLite and PostgreSQL, with no time zone to get
wrong. The schema is created and upgraded by the Alembic migrations in ``migrations/``, never by
``create_all``, so a database made by an older cnnviz is upgraded in place.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ClassRow(Base):
    """One class a lecturer opened: its code, who opened it (owner key) and the hash of the lecturer's secret."""

    __tablename__ = "classes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # never reused, even after the class ends
    title: Mapped[str] = mapped_column(String(80))
    lecturer_key: Mapped[str] = mapped_column(String(64), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[float] = mapped_column(Float)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class MemberRow(Base):
    """A student in a class: their browser's owner key and the display name they chose (no personal data)."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("class_id", "owner_key"), UniqueConstraint("class_id", "name_key"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    owner_key: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(32))
    name_key: Mapped[str] = mapped_column(String(32))  # the name case-folded: "Ada" and "ada" are one name
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[float] = mapped_column(Float)


class SubmissionRow(Base):
    """One thing a student sent to the board: a builder network, a challenge, a practice score, an experiment."""

    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_class_id_id", "class_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    params: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[str] = mapped_column(String(200), default="")
    sent_at: Mapped[float] = mapped_column(Float)


class JoinFailureRow(Base):
    """A join with a code that names no class: counted to slow down anyone trying codes."""

    __tablename__ = "join_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_key: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[float] = mapped_column(Float, index=True)
