"""Values for the JSON schemas pydantic writes, as a Hypothesis strategy.

hypothesis-jsonschema would do this, but its last release (0.23.1) fails on the Hypothesis
releases of 2026 (`'many' object has no attribute 'more'`). Our schemas use a small subset
(objects, strings with lengths and patterns, numbers with bounds, booleans, null, enums,
`const`, `anyOf`, arrays and local `$ref`s), and that subset is what this covers.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def values(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: values(root["components"]["schemas"][name], root))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema or "oneOf" in schema:
        return st.one_of([values(s, root) for s in schema.get("anyOf") or schema["oneOf"]])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return _object(schema, root)
    if kind == "string":
        if "pattern" in schema:
            text = st.from_regex(schema["pattern"], fullmatch=True)
        else:
            text = st.text(min_size=schema.get("minLength", 0), max_size=40)
        limit = schema.get("maxLength")
        return text.filter(lambda s: limit is None or len(s) <= limit)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = values(schema.get("items", {}), root)
        return st.lists(items, max_size=min(schema.get("maxItems", 4), 4))
    # {} (any value): a small JSON value
    return st.none() | st.booleans() | st.integers() | st.text(max_size=20)


def _object(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    fixed = st.fixed_dictionaries(
        {name: values(properties[name], root) for name in properties if name in required},
        optional={
            name: values(sub, root) for name, sub in properties.items() if name not in required
        },
    )
    if schema.get("additionalProperties") is False or not properties:
        return (
            fixed
            if properties
            else st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4)
        )
    return fixed
