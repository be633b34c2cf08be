"""The class board's store: classes, students and submissions in a database every server replica shares.

SQLite in ``$CNNVIZ_HOME/classroom.sqlite3`` by default (nothing to set up), PostgreSQL when
``$CNNVIZ_DATABASE_URL`` names one (``postgresql://user:password@host/db``). The schema is brought up to date
by the Alembic migrations the first time a store opens a database.

Who may do what is decided here, not in the pages: the lecturer is the browser that opened the class (its
owner key) holding the secret from the lecturer's link; a student is a browser that joined with the code. A
student sees their own entries and their class's board, never another class's, and can withdraw only their
own entries. Every refusal is a :class:`~cnnviz.errors.ConfigError` whose message can be shown as it is.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, delete, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session

from cnnviz.classroom.codes import new_code, new_secret, read_code, secret_hash, secret_matches, show_code
from cnnviz.classroom.models import ClassRow, JoinFailureRow, MemberRow, SubmissionRow
from cnnviz.classroom.validate import KINDS, class_title, display_name, submission
from cnnviz.errors import ConfigError
from cnnviz.paths import home

DATABASE_ENV = "CNNVIZ_DATABASE_URL"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HIDDEN_NAME = "(name hidden)"
# Guessing a 50-bit code: 10 wrong codes per browser per 10 minutes, and 300 per minute for the whole server
# (a new cookie is a new browser), leave years per hit; a student who mistypes gets 10 tries.
FAILED_JOINS_PER_BROWSER = 10
BROWSER_WINDOW_S = 600.0
FAILED_JOINS_PER_SERVER = 300
SERVER_WINDOW_S = 60.0
OPEN_CLASSES_PER_LECTURER = 20
ENTRIES_PER_STUDENT = 200
_OWNER_MAX = 64
_PG_MIGRATION_LOCK = 0x636E6E76  # "cnnv": one advisory lock id for the board's migrations


def database_url() -> str:
    """The board's database: ``$CNNVIZ_DATABASE_URL``, else the SQLite file under CNNVIZ_HOME."""
    return os.environ.get(DATABASE_ENV) or f"sqlite:///{home() / 'classroom.sqlite3'}"


def _engine(url: str) -> Engine:
    """An engine for ``url`` (``postgresql://`` means psycopg 3); ConfigError for a URL that names no database."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{DATABASE_ENV} is not a database URL (expected postgresql://user:password@host/db "
                          "or sqlite:///path)") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"{DATABASE_ENV} names a {parsed.get_backend_name()} database: the class board "
                          "runs on PostgreSQL or SQLite")
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(parsed, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"{DATABASE_ENV} cannot be used: {exc}") from None
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Write-ahead logging lets replicas read while one writes; foreign keys make a cleared class's rows go."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Any]:
    """A connection in a transaction that only one process at a time holds while it migrates: replicas that
    start together must not both create the tables."""
    if engine.dialect.name == "sqlite":
        lock_path = Path(f"{engine.url.database}.migrate.lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with engine.begin() as connection:
                yield connection
    else:
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_MIGRATION_LOCK})
            yield connection


def migrate(engine: Engine) -> None:
    """Bring the database's schema to the newest migration (nothing to do when it is there already)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _migration_lock(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@dataclass(frozen=True)
class OpenedClass:
    """A class just opened: give students ``shown_code``; keep ``secret`` (it is in the lecturer's link)."""

    code: str
    secret: str
    title: str

    @property
    def shown_code(self) -> str:
        return show_code(self.code)


@dataclass(frozen=True)
class Membership:
    """A student's place in a class."""

    code: str
    title: str
    name: str
    closed: bool

    @property
    def shown_code(self) -> str:
        return show_code(self.code)


@dataclass(frozen=True)
class Entry:
    """One submission as the board shows it: ``name`` is already replaced when the lecturer hid it."""

    id: int
    name: str
    kind: str
    title: str
    params: int | None
    accuracy: float | None
    result: str
    sent_at: float

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]


@dataclass(frozen=True)
class Student:
    """A student as the lecturer sees them: the real name, whether it is hidden on the board, their entries."""

    name: str
    hidden: bool
    entries: int


@dataclass(frozen=True)
class Board:
    """A class's board. ``students`` is filled for the lecturer only (students see the board as projected)."""

    code: str
    title: str
    closed: bool
    lecturer: bool
    entries: tuple[Entry, ...]
    students: tuple[Student, ...] = ()

    @property
    def shown_code(self) -> str:
        return show_code(self.code)


def _owner(owner: object) -> str:
    if not isinstance(owner, str) or not 0 < len(owner) <= _OWNER_MAX:
        raise ConfigError("This browser has no owner key: reload the page.")
    return owner


class ClassStore:
    """Classes and their boards in the database at ``url`` (default :func:`database_url`)."""

    def __init__(self, url: str | None = None) -> None:
        self.engine = _engine(url or database_url())
        try:
            migrate(self.engine)
        except OperationalError as exc:
            self.engine.dispose()
            where = self.engine.url.render_as_string(hide_password=True)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "no answer"
            raise ConfigError(f"The class board's database {where} cannot be used: {reason}") from None

    def close_connections(self) -> None:
        """Let go of the pooled connections (a test stopping its server, a replica shutting down)."""
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    # -- lecturer ---------------------------------------------------------------------------------------
    def open_class(self, owner: str, title: str = "") -> OpenedClass:
        """Open a class for the browser ``owner``: a fresh code (never one used before) and a lecturer secret."""
        owner, title = _owner(owner), class_title(title)
        with self._session() as session:
            open_now = session.scalar(select(func.count()).select_from(ClassRow).where(
                ClassRow.lecturer_key == owner, ClassRow.closed_at.is_(None)))
            if open_now >= OPEN_CLASSES_PER_LECTURER:
                raise ConfigError(f"This browser has {open_now} classes open: close one before opening another.")
        secret = new_secret()
        for _ in range(5):  # a clash of two 50-bit codes is rare, and the unique constraint catches it
            code = new_code()
            try:
                with self._session() as session:
                    session.add(ClassRow(code=code, title=title, lecturer_key=owner, secret_hash=secret_hash(secret),
                                         opened_at=time.time()))
            except IntegrityError:
                continue
            return OpenedClass(code, secret, title)
        raise ConfigError("No free class code was found: try again.")

    def _lectured(self, session: Session, code: str, owner: str, secret: object) -> ClassRow:
        """The class ``code`` when ``owner`` opened it and ``secret`` is its lecturer's, else ConfigError."""
        row = session.scalar(select(ClassRow).where(ClassRow.code == read_code(code)))
        if row is None or row.lecturer_key != _owner(owner) or not secret_matches(secret, row.secret_hash):
            raise ConfigError("Only the lecturer who opened this class can manage it: open the lecturer's link in "
                              "the browser that opened the class.")
        return row

    def hide(self, code: str, owner: str, secret: str, name: str, hidden: bool = True) -> None:
        """Hide (or show again) a student's name on the board; their entries stay, under "(name hidden)"."""
        with self._session() as session:
            row = self._lectured(session, code, owner, secret)
            member = session.scalar(select(MemberRow).where(MemberRow.class_id == row.id,
                                                            MemberRow.name_key == str(name).casefold()))
            if member is None:
                raise ConfigError("No student of this class has that name.")
            member.hidden = hidden

    def clear(self, code: str, owner: str, secret: str) -> int:
        """Remove every entry from the board (the students stay in the class); returns how many went."""
        with self._session() as session:
            row = self._lectured(session, code, owner, secret)
            return session.execute(delete(SubmissionRow).where(SubmissionRow.class_id == row.id)).rowcount

    def close(self, code: str, owner: str, secret: str) -> None:
        """End the class: no more joins or submissions; the board stays readable, the code is never reused."""
        with self._session() as session:
            row = self._lectured(session, code, owner, secret)
            if row.closed_at is None:
                row.closed_at = time.time()

    # -- students ---------------------------------------------------------------------------------------
    def _check_join_rate(self, session: Session, owner: str) -> None:
        now = time.time()
        mine = session.scalar(select(func.count()).select_from(JoinFailureRow).where(
            JoinFailureRow.owner_key == owner, JoinFailureRow.at > now - BROWSER_WINDOW_S))
        if mine >= FAILED_JOINS_PER_BROWSER:
            raise ConfigError(f"Too many wrong class codes from this browser: wait {BROWSER_WINDOW_S / 60:.0f} "
                              "minutes, then check the code on the lecturer's screen.")
        everyone = session.scalar(select(func.count()).select_from(JoinFailureRow).where(
            JoinFailureRow.at > now - SERVER_WINDOW_S))
        if everyone >= FAILED_JOINS_PER_SERVER:
            raise ConfigError("Too many wrong class codes were tried on this server just now: wait a minute.")

    def join(self, code: str, owner: str, name: str) -> Membership:
        """Join class ``code`` as ``name``; joining again from the same browser renames, and the class joined
        last is the one :meth:`memberships` lists first."""
        owner, code, name = _owner(owner), read_code(code), display_name(name)
        with self._session() as session:
            self._check_join_rate(session, owner)
            row = session.scalar(select(ClassRow).where(ClassRow.code == code))
            if row is None:
                now = time.time()
                session.execute(delete(JoinFailureRow).where(JoinFailureRow.at < now - BROWSER_WINDOW_S))
                session.add(JoinFailureRow(owner_key=owner, at=now))
        if row is None:  # outside the session: the failure must be committed, not rolled back with the error
            raise ConfigError(f"No class has the code {show_code(code)}: check the code on the lecturer's screen.")
        if row.closed_at is not None:
            raise ConfigError(f"The class {show_code(code)} has ended: its code cannot be used again.")
        try:
            with self._session() as session:
                member = session.scalar(select(MemberRow).where(MemberRow.class_id == row.id,
                                                                MemberRow.owner_key == owner))
                if member is None:
                    session.add(MemberRow(class_id=row.id, owner_key=owner, name=name, name_key=name.casefold(),
                                          hidden=False, joined_at=time.time()))
                else:
                    member.name, member.name_key, member.joined_at = name, name.casefold(), time.time()
        except IntegrityError:
            raise ConfigError(f"Someone in this class is already called {name!r}: choose another name.") from None
        return Membership(code, row.title, name, closed=False)

    def _member(self, session: Session, code: str, owner: str) -> tuple[ClassRow, MemberRow]:
        row = session.scalar(select(ClassRow).where(ClassRow.code == read_code(code)))
        member = None if row is None else session.scalar(select(MemberRow).where(
            MemberRow.class_id == row.id, MemberRow.owner_key == _owner(owner)))
        if row is None or member is None:
            raise ConfigError("This browser has not joined that class: join it with its code first.")
        return row, member

    def membership(self, code: str, owner: str) -> Membership:
        """``owner``'s place in class ``code`` (ConfigError when they have not joined it)."""
        with self._session() as session:
            row, member = self._member(session, code, owner)
            return Membership(row.code, row.title, member.name, row.closed_at is not None)

    def memberships(self, owner: str) -> list[Membership]:
        """The open classes ``owner`` has joined, newest first: a browser back after a restart is still in class."""
        with self._session() as session:
            rows = session.execute(
                select(ClassRow, MemberRow).join(MemberRow, MemberRow.class_id == ClassRow.id)
                .where(MemberRow.owner_key == _owner(owner), ClassRow.closed_at.is_(None))
                .order_by(MemberRow.joined_at.desc())).all()
            return [Membership(c.code, c.title, m.name, False) for c, m in rows]

    def submit(self, code: str, owner: str, raw: Mapping[str, Any]) -> int:
        """Put ``raw`` (a page's submission dict, see :class:`~cnnviz.classroom.validate.Submission`) on the
        board of class ``code`` as ``owner``'s entry; returns the entry's id."""
        item = submission(raw)
        with self._session() as session:
            row, member = self._member(session, code, owner)
            if row.closed_at is not None:
                raise ConfigError(f"The class {show_code(row.code)} has ended: the board takes no more entries.")
            count = session.scalar(select(func.count()).select_from(SubmissionRow).where(
                SubmissionRow.member_id == member.id))
            if count >= ENTRIES_PER_STUDENT:
                raise ConfigError(f"You have sent {count} entries to this board: withdraw some before sending more.")
            entry = SubmissionRow(class_id=row.id, member_id=member.id, kind=item.kind, title=item.title,
                                  params=item.params, accuracy=item.accuracy, result=item.result,
                                  sent_at=time.time())
            session.add(entry)
            session.flush()
            return entry.id

    def withdraw(self, code: str, owner: str, entry_id: int) -> None:
        """Take one of ``owner``'s own entries off the board (another student's entry is refused)."""
        with self._session() as session:
            _, member = self._member(session, code, owner)
            gone = session.execute(delete(SubmissionRow).where(SubmissionRow.id == int(entry_id),
                                                               SubmissionRow.member_id == member.id)).rowcount
            if not gone:
                raise ConfigError("That entry is not yours (or is gone already): you can withdraw only your own.")

    def my_entries(self, code: str, owner: str) -> list[Entry]:
        """``owner``'s own entries on class ``code``'s board, oldest first."""
        with self._session() as session:
            _, member = self._member(session, code, owner)
            rows = session.scalars(select(SubmissionRow).where(SubmissionRow.member_id == member.id)
                                   .order_by(SubmissionRow.id)).all()
            return [_entry(r, member.name) for r in rows]

    # -- the board --------------------------------------------------------------------------------------
    def board(self, code: str, owner: str, secret: str | None = None) -> Board:
        """Class ``code``'s board for its lecturer (with ``secret``) or one of its students; anyone else is
        refused. Hidden names show as "(name hidden)"."""
        with self._session() as session:
            if secret is not None:
                row = self._lectured(session, code, owner, secret)
                lecturer = True
            else:
                row, _ = self._member(session, code, owner)
                lecturer = False
            members = {m.id: m for m in session.scalars(select(MemberRow).where(MemberRow.class_id == row.id)
                                                        .order_by(MemberRow.joined_at))}
            rows = session.scalars(select(SubmissionRow).where(SubmissionRow.class_id == row.id)
                                   .order_by(SubmissionRow.id)).all()
            entries = tuple(_entry(r, HIDDEN_NAME if members[r.member_id].hidden else members[r.member_id].name)
                            for r in rows)
            students: tuple[Student, ...] = ()
            if lecturer:
                counts: dict[int, int] = {}
                for r in rows:
                    counts[r.member_id] = counts.get(r.member_id, 0) + 1
                students = tuple(Student(m.name, m.hidden, counts.get(m.id, 0)) for m in members.values())
            return Board(row.code, row.title, row.closed_at is not None, lecturer, entries, students)


def _entry(row: SubmissionRow, name: str) -> Entry:
    return Entry(row.id, name, row.kind, row.title, row.params, row.accuracy, row.result, row.sent_at)
