import time, traceback
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from api.app import create_app
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]

@pytest.mark.parametrize("role", ["appender", "auditor"])
def test_st(loaded_ledger, keys, role, backend):
    app = create_app(loaded_ledger)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    token = getattr(keys, role)
    out = []
    for result in schema.get_all_operations():
        op = result.ok()
        t = time.time(); codes = {}; samples = []
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=op.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE))
        def run(case):
            r = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error])
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            if r.status_code == 400 and len(samples) < 2: samples.append((case.headers, case.media_type, repr(case.body)[:100], r.text[:200]))
        try:
            run()
            out.append(f"OK {op.label} {time.time()-t:.1f}s {codes} {samples}")
        except BaseException as e:
            out.append(f"FAIL {op.label} {time.time()-t:.1f}s\n{str(e)[:3000]}")
    print("\n".join(out))
