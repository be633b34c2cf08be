"""The live class board: a lecturer opens a class, students join with its code and send what they made.

Everything lives in a database (:mod:`cnnviz.classroom.store`), so any number of server replicas share it::

    from cnnviz.classroom import ClassStore
    store = ClassStore()                                  # SQLite under CNNVIZ_HOME, or $CNNVIZ_DATABASE_URL
    opened = store.open_class(lecturer_key, "CNN basics")
    store.join(opened.shown_code, student_key, "Ada")
    store.submit(opened.code, student_key, {"kind": "builder", "title": "conv(6,5) relu fc(10)",
                                            "params": 11_850, "accuracy": 0.97})
    store.board(opened.code, lecturer_key, opened.secret).entries
"""
from cnnviz.classroom.codes import read_code, show_code
from cnnviz.classroom.store import Board, ClassStore, Entry, Membership, OpenedClass, Student, database_url
from cnnviz.classroom.validate import KINDS, Submission, display_name, submission

__all__ = ["Board", "ClassStore", "Entry", "KINDS", "Membership", "OpenedClass", "Student", "Submission",
           "database_url", "display_name", "read_code", "show_code", "submission"]
