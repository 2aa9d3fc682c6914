"""Cancelling a declaration (the API's DELETE, sent as `DeclarationCancelled`): journalled by the clearance engine,
dropped from its book so the truck is decided as one without a declaration, refused if it comes back (a feed read
again), and still cancelled after a restart. The engine runs against a real gate controller and journal."""

from __future__ import annotations

from pathlib import Path

from bus.journal import Journal
from bus.messages import ClearanceDecision, DeclarationCancelled, DeclarationRejected
from control.clearance import feed_submission
from control.declarations import DeclarationBook
from tests.control.test_clearance import (  # noqa: F401 - fixtures used by name
    Gate,
    declaration,
    gate,
    journal,
    journalled,
    keys,
    make_engine,
    passage,
)


def cancel(declaration_id: str = "DEC-1") -> DeclarationCancelled:
    return DeclarationCancelled(declaration_id=declaration_id, operator="officer", reason="truck turned back")


def test_a_cancelled_declaration_no_longer_clears_its_truck(journal: Journal, keys: Path, gate: Gate) -> None:  # noqa: F811
    engine = make_engine(journal, keys, gate.endpoint, declarations=(declaration(),))
    before, _ = engine.take_passage(passage("p-before"))
    assert isinstance(before, ClearanceDecision)
    assert before.outcome == "OPEN"
    withdrawn = cancel()
    assert engine.take_cancellation(withdrawn)
    after, _ = engine.take_passage(passage("p-after"))
    assert isinstance(after, ClearanceDecision)
    assert after.outcome == "REJECT"
    assert [r.code for r in after.reasons] == ["no_declaration"]
    assert journalled(journal, DeclarationCancelled) == [withdrawn]
    assert engine.counters["declarations.cancelled"] == 1
    engine.close()


def test_a_cancelled_id_is_refused_when_it_comes_back_and_after_a_restart(journal: Journal, keys: Path,  # noqa: F811
                                                                          gate: Gate) -> None:  # noqa: F811
    engine = make_engine(journal, keys, gate.endpoint, declarations=(declaration(),))
    engine.take_cancellation(cancel())
    assert not engine.take_declaration(feed_submission(declaration()))      # the feed read again
    refused = journalled(journal, DeclarationRejected)
    assert [p.code for r in refused for p in r.problems] == ["cancelled_declaration"]
    engine.close()

    restarted = make_engine(journal, keys, gate.endpoint, declarations=(declaration(),))
    assert list(restarted.book) == []
    assert restarted.book.is_cancelled("DEC-1")
    decision, _ = restarted.take_passage(passage("p-later"))
    assert isinstance(decision, ClearanceDecision)
    assert decision.outcome == "REJECT"
    restarted.close()


def test_cancelling_an_unknown_declaration_is_journalled_and_counted(journal: Journal, keys: Path,  # noqa: F811
                                                                     gate: Gate) -> None:  # noqa: F811
    engine = make_engine(journal, keys, gate.endpoint)
    assert not engine.take_cancellation(cancel("DEC-none"))
    assert engine.counters["declarations.cancelled_unknown"] == 1
    assert [c.declaration_id for c in journalled(journal, DeclarationCancelled)] == ["DEC-none"]
    engine.close()


def test_the_book_remembers_a_bounded_number_of_cancellations() -> None:
    book = DeclarationBook(max_size=3)
    assert book.add(declaration("DEC-1"))
    assert book.cancel("DEC-1")
    assert book.get("DEC-1") is None
    assert book.check(declaration("DEC-1"))[0].code == "cancelled_declaration"
    for i in range(2, 6):
        book.cancel(f"DEC-{i}")
    assert not book.is_cancelled("DEC-1")
    assert book.is_cancelled("DEC-5")
