"""docs/ stays true: the event reference is generated from the models, and its examples are accepted."""

import importlib.util
from pathlib import Path

from ledger.events import EVENT_ADAPTER, EVENT_CLASSES
from ledger.examples import CATALOGUE_KINDS, EXAMPLES, agreement_example

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("generate_events", ROOT / "docs" / "generate_events.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_events_doc_is_generated_from_the_current_models():
    assert (ROOT / "docs" / "events.md").read_text(encoding="utf-8") == _generator().render(), (
        "docs/events.md is out of date: run python docs/generate_events.py"
    )


def test_every_event_kind_has_an_example_that_validates():
    assert set(EXAMPLES) | set(CATALOGUE_KINDS) == set(EVENT_CLASSES)
    for kind, example in EXAMPLES.items():
        assert EVENT_ADAPTER.validate_python(example).kind == kind
    for kind in CATALOGUE_KINDS:
        assert EVENT_ADAPTER.validate_python(agreement_example(kind)).kind == kind


def test_every_example_is_accepted_by_a_ledger_with_the_seed_agreements(loaded_ledger):
    order = ["recipient_registered", "recipient_renamed", "agreement_approved", "payment_decision_made",
             "allocation_decided", "deadline_amended", "requisition_received", "payout_made",
             "onward_transfer_made", "expense_report_received", "report_received", "repayment_received",
             "reclaim_decided", "reclaim_settled", "event_retracted"]
    assert set(order) == set(EXAMPLES)
    before = loaded_ledger.head()[0]
    loaded_ledger.append([EXAMPLES[k] for k in order], "docs-example")
    assert loaded_ledger.head()[0] == before + len(order)
    assert loaded_ledger.verify().ok


def test_audit_guide_worked_example_is_what_the_ledger_answers():
    spec = importlib.util.spec_from_file_location("gen_audit", ROOT / "docs" / "generate_audit_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    guide = (ROOT / "docs" / "audit-guide.md").read_text(encoding="utf-8")
    assert module.render() in guide, "docs/audit-guide.md is out of date: run python docs/generate_audit_example.py"
