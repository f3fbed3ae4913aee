"""The HTTP API (FastAPI). Routes call the ledger application; they hold no rules.

This is the first slice: health, events, agreements with reconciliation, recipients.
Appending over HTTP, keys and the web pages come with the API issue.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Query

from ledger.application import Ledger
from ledger.index import EventFilter
from ledger.timeparams import TimeParamError, known_at_text, parse_as_of
from projections.reconciliation import reconcile


def create_app(ledger: Ledger) -> FastAPI:
    api = FastAPI(
        title="Grant ledger — revisionsliggare för statsbidrag",
        version="0.1.0",
        description="Event-sourced audit ledger for Swedish state grants to SKR and the regions.",
    )

    @api.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @api.get("/v1/events", tags=["events"])
    def list_events(
        agreement_id: str | None = None,
        recipient_id: str | None = None,
        kind: str | None = None,
        as_of: str | None = Query(None, description="Effective on or before this date (YYYY-MM-DD)"),
        known_at: str | None = Query(None, description="Recorded at or before this time (ISO 8601)"),
        after_position: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        """Recorded events in journal order, paginated by position."""
        try:
            flt = EventFilter(
                agreement_id=agreement_id,
                recipient_id=recipient_id,
                kind=kind,
                as_of=parse_as_of(as_of).isoformat() if as_of else None,
                known_at=known_at_text(known_at) if known_at else None,
                after_position=after_position,
                limit=limit,
            )
        except TimeParamError as exc:
            raise HTTPException(422, str(exc)) from exc
        ledger.catch_up()
        rows = ledger.list_events(flt)
        next_after = rows[-1]["position"] if len(rows) == limit else None
        return {"events": rows, "next_after_position": next_after}

    @api.get("/v1/agreements", tags=["agreements"])
    def agreements() -> list[dict[str, Any]]:
        """Agreements recorded in the ledger, with their reconciliation against printed totals."""
        ledger.catch_up()
        return [
            {"agreement_id": a.agreement_id, "title": a.title, "year": a.year,
             "reconciliation": reconcile(a).as_dict()}
            for a in ledger.agreements()
        ]

    @api.get("/v1/recipients/{recipient_id}", tags=["recipients"])
    def recipient(recipient_id: str) -> dict[str, Any]:
        """A recipient with its name history."""
        ledger.catch_up()
        history = ledger.index.recipient_history(recipient_id)
        if not history:
            raise HTTPException(404, f"unknown recipient {recipient_id!r}")
        return {
            "recipient_id": recipient_id,
            "names": [{"name": h["payload"]["name"], "valid_from": h["effective_date"]} for h in history],
        }

    return api
