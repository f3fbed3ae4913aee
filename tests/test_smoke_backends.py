import uuid

from tests.conftest import raw_sql


def test_append_and_read_back_on_each_backend(ledger):
    event_id = str(uuid.uuid4())
    entries = ledger.append(
        [{"kind": "recipient_registered", "event_id": event_id, "effective_date": "2019-01-01",
          "recipient_id": "skr", "recipient_kind": "association", "name": "Sveriges Kommuner och Regioner"}],
        "tester",
    )
    assert entries[0].position == 1
    stored = ledger.index.event(event_id)
    assert stored["recorded_by"] == "tester"
    assert stored["payload"]["name"] == "Sveriges Kommuner och Regioner"
    table = ledger.recorder.events_table_name if ledger.config.backend == "sqlite" else ledger.recorder.events_table_name
    assert raw_sql(ledger, f"SELECT COUNT(*) FROM {table}")[0][0] == 2  # journal opened + one entry
