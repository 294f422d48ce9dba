"""The Idempotency-Key cases of tests/e2e/idempotency_cases (issue 16, G1): loading them and filling their
placeholders. The suite's walk (tests/e2e/api_conventions_test.py) and a service's own e2e test read them
through this module.

A case module defines fixtures(curl, as_) -> {"name": "id", ...} and CASES; its paths and bodies name
fixtures as "{name}".
"""
import glob
import importlib.util
import os

CASES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e", "idempotency_cases")


def load_cases(name):
    """tests/e2e/idempotency_cases/<name>.py as a module."""
    path = os.path.join(CASES_DIR, name + ".py")
    spec = importlib.util.spec_from_file_location("idempotency_cases_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_all():
    """Every case module, by file name."""
    return [load_cases(os.path.basename(p)[:-3]) for p in sorted(glob.glob(os.path.join(CASES_DIR, "*.py")))]


def fill(value, names):
    """`value` with "{name}" in its strings replaced by names[name]; lists and dicts filled inside."""
    if isinstance(value, str):
        for k, v in names.items():
            value = value.replace("{%s}" % k, v)
        return value
    if isinstance(value, dict):
        return {k: fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    return value
