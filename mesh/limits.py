"""How much one GraphQL request may ask of Mesh, checked before anything runs.

A query under the body limit can still name a huge answer: aliases repeat a field, lists
multiply what is under them, fragments spread one selection many times. So a request is
parsed with a token bound and validated, besides the specification's rules, with:
- ariadne's cost validator over a cost map made from the schema: each field costs its
  worst-case size in kB (a note's content 100, an applet's HTML 500, anything else 1), a list
  multiplies what is under it by its `limit`, and a mutation costs 100, so the cost bounds
  the answer (about 1 kB a unit) and the writes of one request;
- a depth bound, fragments included (introspection types escape the cost map);
- graphql-core's own bound on introspection depth.
Then the answer is capped in size and the request in time (`mesh/app.py`); the devstack's
Mesh proxy checks the same before it forwards (`devstack/mesh_proxy.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ariadne.validation import cost_validator
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    parse,
    specified_rules,
    validate,
)
from graphql.language import FragmentDefinitionNode
from graphql.validation.rules.max_introspection_depth_rule import MaxIntrospectionDepthRule

from mesh.resolvers import CONTENT_MAX, HTML_MAX, PREFERENCES_MAX_BYTES, PROMPT_MAX

# The interface's page query, notes(limit: 100) with their content and applets(limit: 100),
# costs about 10,600: the largest answer a legitimate request asks for.
MAX_COST = 12_000
MAX_DEPTH = 8
# Aliases, fields, operations and fragments are all tokens: this bounds the parser's work.
MAX_TOKENS = 5_000
# The cost bounds an answer to about 12 MB; JSON escapes can make it larger, and this stops it.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
DEADLINE_S = 10.0

_KB = 1000
# Fields whose worst-case size is more than a unit (the limits the resolvers enforce).
_WEIGHTS = {
    ("Note", "content"): CONTENT_MAX // _KB,
    ("Applet", "html"): HTML_MAX // _KB,
    ("FunctionalPrompt", "content"): PROMPT_MAX // _KB,
    ("Personality", "instructions"): PROMPT_MAX // _KB,
    ("Profile", "preferences"): PREFERENCES_MAX_BYTES // _KB,
    # A search scans the user's notes, however little it finds.
    ("Query", "searchNotes"): 10,
}
MUTATION_COST = 100


@dataclass(frozen=True)
class Limits:
    max_cost: int = MAX_COST
    max_depth: int = MAX_DEPTH
    max_tokens: int = MAX_TOKENS
    max_answer_bytes: int = MAX_ANSWER_BYTES
    deadline_s: float = DEADLINE_S


def cost_map(schema: GraphQLSchema) -> dict[str, dict[str, Any]]:
    """Every field of every object type: its weight, and `limit` as its list multiplier."""
    costs: dict[str, dict[str, Any]] = {}
    for name, kind in schema.type_map.items():
        if name.startswith("__") or not isinstance(kind, GraphQLObjectType):
            continue
        for field_name, field in kind.fields.items():
            weight = MUTATION_COST if kind is schema.mutation_type else 1
            entry: dict[str, Any] = {"complexity": _WEIGHTS.get((name, field_name), weight)}
            if "limit" in field.args:
                entry["multipliers"] = ["limit"]
            costs.setdefault(name, {})[field_name] = entry
    return costs


def _depth(
    selections: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str],
) -> int:
    if selections is None:
        return 0
    deepest = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            below = 1 + _depth(selection.selection_set, fragments, seen)
        elif isinstance(selection, InlineFragmentNode):
            below = _depth(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:  # unknown or cyclic: other rules say so
                continue
            below = _depth(fragment.selection_set, fragments, seen | {name})
        else:
            continue
        deepest = max(deepest, below)
    return deepest


def depth_rule(max_depth: int) -> type[ValidationRule]:
    class DepthRule(ValidationRule):
        """Refuses an operation whose fields nest deeper than `max_depth`."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {
                d.name.value: d
                for d in self.context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            depth = _depth(node.selection_set, fragments, frozenset())
            if depth > max_depth:
                self.report_error(
                    GraphQLError(
                        f"the query nests {depth} levels deep, more than {max_depth}",
                        node,
                        extensions={"code": "QUERY_TOO_DEEP"},
                    )
                )

    return DepthRule


class Checker:
    """The request limits for one schema, as validation rules for Mesh and as a check for
    whoever forwards requests to it."""

    def __init__(self, schema: GraphQLSchema, limits: Limits | None = None) -> None:
        self.schema = schema
        self.limits = limits or Limits()
        self._costs = cost_map(schema)
        self._depth = depth_rule(self.limits.max_depth)

    def parse(self, query: str) -> DocumentNode:
        """Raises GraphQLError past the token bound, as for a syntax error."""
        return parse(query, max_tokens=self.limits.max_tokens)

    def rules(self, variables: dict[str, Any] | None) -> list[type[ValidationRule]]:
        """Mesh's rules beyond the specification's (ariadne adds those)."""
        cost = cost_validator(
            maximum_cost=self.limits.max_cost,
            default_cost=1,
            variables=variables,
            cost_map=self._costs,
        )
        return [cost, self._depth, MaxIntrospectionDepthRule]

    def check(self, document: DocumentNode, variables: dict[str, Any] | None) -> list[GraphQLError]:
        """Every problem with a parsed request: the specification's rules and the limits."""
        return validate(self.schema, document, [*specified_rules, *self.rules(variables)])
