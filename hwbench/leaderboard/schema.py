"""The leaderboard submission format ``hwbench.submission/1`` (a JSON Schema) and its validation.

A submission is one JSON object::

    {
      "schema": "hwbench.submission/1",
      "task": "nb201-fmnist-train-params-constrained.v1",      # name.vN: name and version
      "table_sha256": "<sha256 of the table file>",
      "data_sha256": "<sha256 of the task's columns as used>",   # from `hwbench run --out`
      "algorithm": {"name": "...", "version": "...", "url": "https://...", "license": "MIT",
                    "params": {...}},
      "authors": [{"name": "...", "affiliation": "..."}],
      "runs": [{"seed": 0, "archs": ["|...|", ...], "clock_s": [...], "epochs": [...]}, ...],
      "rerun": {"algorithm": "regularized-evolution", "params": {...}}    # or {"command": [argv]}
      "notes": "...",                                                    # optional
      "scores": ...                                                      # optional, ignored
    }

:func:`json_schema` returns the schema (also published as ``docs/submission.schema.json``);
:func:`validate_document` checks a parsed document against it with the ``jsonschema`` package and
raises :class:`SubmissionError` naming the field and the rule. The checks that need the table
(architectures, budget, seeds, hashes) live in :mod:`hwbench.leaderboard.submit`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hwbench.errors import HwbenchError, MissingDependencyError

SCHEMA_ID = "hwbench.submission/1"
#: files larger than this are rejected before parsing
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_RUNS = 100
MAX_TRIALS = 100_000
_SHA = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 200}


class SubmissionError(HwbenchError, ValueError):
    """A submission that breaks a rule. ``field`` is a JSON path (``runs[3].archs[17]``),
    ``rule`` says what was expected."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field or "(document)"
        self.rule = rule
        super().__init__(f"submission rejected: field {self.field}: {rule}")


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``hwbench.submission/1``."""
    run = {
        "type": "object",
        "additionalProperties": False,
        "required": ["seed", "archs"],
        "properties": {
            "seed": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
            "archs": {
                "type": "array", "minItems": 1, "maxItems": MAX_TRIALS,
                "items": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": "the architectures proposed, in order (NAS-Bench-201 strings)",
            },
            "clock_s": {
                "type": "array", "maxItems": MAX_TRIALS, "items": {"type": "number", "minimum": 0},
                "description": "simulated clock after each trial (checked against the table when given)",
            },
            "epochs": {
                "type": "array", "maxItems": MAX_TRIALS,
                "items": {"type": ["integer", "null"], "minimum": 1},
                "description": "multi-fidelity tasks: epochs of each trial (null = full training)",
            },
        },
    }
    params = {"type": "object", "maxProperties": 100}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://hwbench.invalid/schemas/submission-1.json",
        "title": "hwbench leaderboard submission",
        "description": "Per-seed search trajectories of one algorithm on one hwbench task. Scores are "
        "re-computed from the table; any score in the file is ignored.",
        "type": "object",
        "additionalProperties": False,
        "required": ["schema", "task", "table_sha256", "data_sha256", "algorithm", "authors", "runs"],
        "properties": {
            "schema": {"const": SCHEMA_ID},
            "task": {
                "type": "string", "maxLength": 120, "pattern": r"^[a-z0-9][a-z0-9_\-]*\.v[0-9]+$",
                "description": "task name with its version, e.g. nb201-fmnist-train-params-constrained.v1",
            },
            "table_sha256": {**_SHA, "description": "sha256 of the table file (`hwbench info`)"},
            "data_sha256": {**_SHA, "description": "sha256 of the task's columns (results file)"},
            "algorithm": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "version", "license"],
                "properties": {
                    "name": {**_TEXT, "maxLength": 100},
                    "version": {**_TEXT, "maxLength": 50},
                    "url": {"type": "string", "maxLength": 500, "pattern": "^https?://[^\\s]+$"},
                    "license": {**_TEXT, "maxLength": 100},
                    "params": params,
                },
            },
            "authors": {
                "type": "array", "minItems": 1, "maxItems": 50,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {"name": _TEXT, "affiliation": _TEXT,
                                   "contact": {"type": "string", "maxLength": 200}},
                },
            },
            "runs": {"type": "array", "minItems": 1, "maxItems": MAX_RUNS, "items": run},
            "rerun": {
                "description": "how to re-execute the algorithm: an algorithm name (built-in or "
                "installed entry point in group hwbench.algorithms) with parameters, or an external "
                "JSON-lines program (argv list, no shell)",
                "oneOf": [
                    {"type": "object", "additionalProperties": False, "required": ["algorithm"],
                     "properties": {"algorithm": {**_TEXT, "pattern": "^[A-Za-z0-9_.\\-]+$"},
                                    "params": params}},
                    {"type": "object", "additionalProperties": False, "required": ["command"],
                     "properties": {"command": {"type": "array", "minItems": 1, "maxItems": 50,
                                                "items": {"type": "string", "minLength": 1,
                                                          "maxLength": 1000}},
                                    "timeout_s": {"type": "number", "exclusiveMinimum": 0,
                                                  "maximum": 600}}},
                ],
            },
            "notes": {"type": "string", "maxLength": 2000},
            "scores": {"description": "ignored: scores are re-computed from the table"},
            "hwbench_version": {"type": "string", "maxLength": 50},
        },
    }


def schema_json() -> str:
    """The schema as the text of ``docs/submission.schema.json``."""
    return json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


@dataclass(frozen=True)
class _Rule:
    field: str
    rule: str


def _explain(err: Any) -> _Rule:
    """One error of ``jsonschema`` as (field, rule) in plain words."""
    field = _path(err.absolute_path)
    v, val = err.validator, err.validator_value
    inst = err.instance
    if v == "required":
        missing = [k for k in val if isinstance(inst, dict) and k not in inst]
        name = missing[0] if missing else "?"
        return _Rule(_path([*err.absolute_path, name]), "is required")
    if v == "additionalProperties":
        extra = sorted(k for k in inst if k not in err.schema.get("properties", {}))[:1] if isinstance(inst, dict) else []
        allowed = ", ".join(err.schema.get("properties", {}))
        name = extra[0] if extra else "?"
        return _Rule(_path([*err.absolute_path, _key(name)]), f"unknown field; allowed fields: {allowed}")
    if v == "type":
        want = val if isinstance(val, str) else " or ".join(val)
        return _Rule(field, f"must be of type {want}, got {_type(inst)}")
    if v == "const":
        return _Rule(field, f"must be {json.dumps(val)}")
    if v == "pattern":
        return _Rule(field, f"must match the pattern {val}")
    if v in ("minLength", "maxLength"):
        return _Rule(field, f"length must be {'>=' if v == 'minLength' else '<='} {val}")
    if v in ("minItems", "maxItems"):
        return _Rule(field, f"must have {'at least' if v == 'minItems' else 'at most'} {val} items")
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[v]
        return _Rule(field, f"must be {op} {val}")
    if v == "maxProperties":
        return _Rule(field, f"must have at most {val} entries")
    if v == "oneOf":
        return _Rule(field, 'must be either {"algorithm": NAME, "params": {...}} or {"command": [ARGV...]}')
    return _Rule(field, str(err.message)[:300])


def _type(x: Any) -> str:
    if x is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(x), type(x).__name__)


def _key(s: str, n: int = 60) -> str:
    """A user-supplied key as shown in a message: bare if plain, else quoted and clipped."""
    import re

    s = str(s)
    if re.fullmatch(rf"[A-Za-z0-9_\-]{{1,{n}}}", s):
        return s
    return repr(s if len(s) <= n else s[:n] + "...")


def validate_document(doc: Any) -> None:
    """Check a parsed JSON document against the schema; raise :class:`SubmissionError` for the
    first (most relevant) violation."""
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - the leaderboard extra installs it
        raise MissingDependencyError("jsonschema", "leaderboard", "validating leaderboard submissions") from None
    if not isinstance(doc, dict):
        raise SubmissionError("(document)", f"must be a JSON object, got {_type(doc)}")
    if doc.get("format") == "hwbench.search-results" and "schema" not in doc:
        raise SubmissionError("schema", "is required; this is a results file of `hwbench run`: wrap it with "
                              "`hwbench leaderboard prepare RESULTS --author NAME --license ID --out FILE`")
    if doc.get("schema") != SCHEMA_ID and "schema" in doc:
        raise SubmissionError("schema", f"must be {json.dumps(SCHEMA_ID)} (this hwbench reads only that version)")
    validator = jsonschema.Draft202012Validator(json_schema())
    err = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if err is not None:
        r = _explain(err)
        raise SubmissionError(r.field, r.rule)


def parse_bytes(raw: bytes) -> Any:
    """Decode and parse a submission file's bytes (size limit, UTF-8, strict JSON: no NaN)."""
    if len(raw) > MAX_FILE_BYTES:
        raise SubmissionError("(file)", f"is {len(raw)} bytes; the limit is {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError("(file)", f"must be UTF-8 text ({exc.reason} at byte {exc.start})") from None

    def _no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k, v in pairs:
            if k in d:
                raise ValueError(f"duplicate key {k[:60]!r}")
            d[k] = v
        return d

    try:
        return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_pairs)
    except RecursionError:
        raise SubmissionError("(file)", "is nested too deeply to be a submission") from None
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise SubmissionError("(file)", f"must be strict JSON: {str(exc)[:200]}") from None
