//! What a document may cost, checked on the parsed document before any
//! resolver runs, so a refused one makes no AWS call:
//! - depth at most 8, the top-level field counting as 1 (`__schema` and
//!   `__type` are exempt, so an IDE's introspection works);
//! - complexity at most 1,000: each field costs 1, and a connection
//!   multiplies the cost of its `edges` by its `first` (`pageInfo` once);
//! - `first` from 1 to 100 on every connection.

use std::collections::{HashMap, HashSet};

use async_graphql::Name;
use async_graphql::Value as ConstValue;
use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet, Type, TypeKind,
    TypeSystemDefinition,
};
use async_graphql_value::Value;
use web::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, checked_page_size};

pub const MAX_DEPTH: usize = 8;
pub const MAX_COMPLEXITY: u64 = 1_000;
/// Selections visited per document, past which it is too complex whatever
/// its count (fragments spread inside fragments multiply the walk).
const MAX_VISITS: usize = 10_000;

/// Why a document is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `first` outside 1–100 somewhere.
    First,
    TooDeep {
        depth: usize,
    },
    TooComplex {
        complexity: u64,
    },
    /// A rule of GraphQL validation the library does not enforce: a
    /// nullable variable without a default where a value is required.
    Invalid(String),
}

/// Each object type's fields and the named type they return, read from the
/// schema's own SDL, so connections are known by their type.
#[derive(Debug, Default)]
pub struct FieldTypes {
    returns: HashMap<(String, String), String>,
    /// (type, field, argument) for arguments that must have a value.
    required_arguments: HashSet<(String, String, String)>,
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

impl FieldTypes {
    pub fn from_sdl(sdl: &str) -> Self {
        let mut types = Self::default();
        if let Ok(document) = async_graphql::parser::parse_schema(sdl) {
            for definition in document.definitions {
                let TypeSystemDefinition::Type(definition) = definition else { continue };
                let TypeKind::Object(object) = &definition.node.kind else { continue };
                let type_name = definition.node.name.node.to_string();
                for field in &object.fields {
                    let field_name = field.node.name.node.to_string();
                    for argument in &field.node.arguments {
                        if !argument.node.ty.node.nullable && argument.node.default_value.is_none() {
                            let argument = argument.node.name.node.to_string();
                            types.required_arguments.insert((type_name.clone(), field_name.clone(), argument));
                        }
                    }
                    types.returns.insert((type_name.clone(), field_name), named(&field.node.ty.node).to_owned());
                }
            }
        }
        types
    }

    fn of(&self, parent: &str, field: &str) -> Option<&str> {
        self.returns.get(&(parent.to_owned(), field.to_owned())).map(String::as_str)
    }

    fn requires_value(&self, parent: &str, field: &str, argument: &str) -> bool {
        self.required_arguments.contains(&(parent.to_owned(), field.to_owned(), argument.to_owned()))
    }
}

/// The operation a request runs: the named one, or the only one.
pub fn select_operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Result<&'a OperationDefinition, String> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Ok(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .get(&Name::new(name))
            .map(|operation| &operation.node)
            .ok_or_else(|| format!("Unknown operation named \"{name}\".")),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|o| &o.node).ok_or_else(|| "No operation.".to_owned())
        }
        (DocumentOperations::Multiple(_), None) => {
            Err("The document has several operations: name one in `operationName`.".to_owned())
        }
    }
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    operation: &'a OperationDefinition,
    variables: &'a serde_json::Map<String, serde_json::Value>,
    types: &'a FieldTypes,
    max_depth: usize,
    first_out_of_range: bool,
    invalid: Option<String>,
    introspection: bool,
    visits: usize,
    spreading: HashSet<&'a str>,
}

impl<'a> Walk<'a> {
    /// `first` as the request gives it: a literal, a variable, a
    /// variable's default, or the argument's default.
    fn first(&mut self, value: Option<&Value>) -> i64 {
        let given = match value {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::Variable(name)) => match self.variables.get(name.as_str()) {
                Some(value) => value.as_i64(),
                None => self
                    .operation
                    .variable_definitions
                    .iter()
                    .find(|definition| definition.node.name.node == *name)
                    .and_then(|definition| definition.node.default_value.as_ref())
                    .and_then(|default| match &default.node {
                        ConstValue::Number(n) => n.as_i64(),
                        _ => None,
                    }),
            },
            // Null, absent, or a value of another type (validation's to refuse).
            _ => None,
        };
        let first = given.unwrap_or(DEFAULT_PAGE_SIZE as i64);
        if checked_page_size(first).is_none() {
            self.first_out_of_range = true;
        }
        first.clamp(1, MAX_PAGE_SIZE as i64)
    }

    /// A variable given for an argument that needs a value must itself be
    /// non-null or have a default.
    fn check_variables(&mut self, field: &async_graphql::parser::types::Field, parent: &str) {
        for (argument, value) in &field.arguments {
            let Value::Variable(variable) = &value.node else { continue };
            if !self.types.requires_value(parent, &field.name.node, &argument.node) {
                continue;
            }
            let definition = self.operation.variable_definitions.iter().find(|d| d.node.name.node == *variable);
            if let Some(definition) = definition
                && definition.node.var_type.node.nullable
                && definition.node.default_value.is_none()
            {
                self.invalid.get_or_insert_with(|| {
                    format!(
                        "Variable \"${variable}\" of type \"{}\" is used where a value is required (\"{}.{}\" argument \"{}\").",
                        definition.node.var_type.node, parent, field.name.node, argument.node
                    )
                });
            }
        }
    }

    /// The cost of a selection set whose fields sit at `depth` on `parent`.
    fn selection_set(&mut self, set: &'a SelectionSet, parent: &str, depth: usize) -> u64 {
        set.items
            .iter()
            .fold(0u64, |cost, selection| cost.saturating_add(self.selection(&selection.node, parent, depth)))
    }

    fn selection(&mut self, selection: &'a Selection, parent: &str, depth: usize) -> u64 {
        self.visits += 1;
        if self.visits > MAX_VISITS || depth > MAX_DEPTH + 1 {
            // Past a limit already: stop walking, the verdict is made.
            self.max_depth = self.max_depth.max(depth);
            return MAX_COMPLEXITY + 1;
        }
        match selection {
            Selection::Field(field) => {
                let field = &field.node;
                let name = field.name.node.as_str();
                if name == "__schema" || name == "__type" {
                    if !self.introspection {
                        // The library answers `null` here; the contract says refused.
                        self.invalid.get_or_insert_with(|| format!("Unknown field \"{name}\": introspection is off."));
                    }
                    return 0;
                }
                self.max_depth = self.max_depth.max(depth);
                self.check_variables(field, parent);
                // Unknown here (`__typename`, a scalar, or a field validation
                // will refuse): a leaf.
                let Some(returns) = self.types.of(parent, name).map(str::to_owned) else { return 1 };
                let children = &field.selection_set.node;
                if !returns.ends_with("Connection") {
                    return 1u64.saturating_add(self.selection_set(children, &returns, depth + 1));
                }
                let first = self.first(field.get_argument("first").map(|value| &value.node)) as u64;
                children.items.iter().fold(1u64, |cost, child| {
                    // `edges` costs `first` times over; anything else once.
                    let part = self.selection(&child.node, &returns, depth + 1);
                    let is_edges = matches!(&child.node, Selection::Field(f) if f.node.name.node == "edges");
                    cost.saturating_add(if is_edges { part.saturating_mul(first) } else { part })
                })
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                let Some(fragment) = self.document.fragments.get(&spread.node.fragment_name.node) else { return 0 };
                // A fragment that spreads itself is validation's to refuse.
                if !self.spreading.insert(name) {
                    return 0;
                }
                let on = fragment.node.type_condition.node.on.node.to_string();
                let cost = self.selection_set(&fragment.node.selection_set.node, &on, depth);
                self.spreading.remove(name);
                cost
            }
            Selection::InlineFragment(inline) => {
                let on = inline
                    .node
                    .type_condition
                    .as_ref()
                    .map(|condition| condition.node.on.node.to_string())
                    .unwrap_or_else(|| parent.to_owned());
                self.selection_set(&inline.node.selection_set.node, &on, depth)
            }
        }
    }
}

/// Checks `operation` of `document` against the limits.
pub fn check(
    document: &ExecutableDocument,
    operation: &OperationDefinition,
    variables: &serde_json::Map<String, serde_json::Value>,
    types: &FieldTypes,
    root: &str,
    introspection: bool,
) -> Result<(), Refusal> {
    let mut walk = Walk {
        document,
        operation,
        variables,
        types,
        max_depth: 0,
        first_out_of_range: false,
        invalid: None,
        introspection,
        visits: 0,
        spreading: HashSet::new(),
    };
    let complexity = walk.selection_set(&operation.selection_set.node, root, 1);
    if let Some(message) = walk.invalid {
        Err(Refusal::Invalid(message))
    } else if walk.first_out_of_range {
        Err(Refusal::First)
    } else if walk.max_depth > MAX_DEPTH {
        Err(Refusal::TooDeep { depth: walk.max_depth })
    } else if complexity > MAX_COMPLEXITY {
        Err(Refusal::TooComplex { complexity })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(query: &str, variables: serde_json::Value) -> Result<(), Refusal> {
        let types = FieldTypes::from_sdl(&crate::schema::sdl());
        let document = async_graphql::parser::parse_query(query).unwrap();
        let operation = select_operation(&document, None).unwrap();
        let root = match operation.ty {
            async_graphql::parser::types::OperationType::Mutation => "Mutation",
            _ => "Query",
        };
        check(&document, operation, variables.as_object().unwrap(), &types, root, true)
    }

    fn ok(query: &str) {
        assert_eq!(verdict(query, serde_json::json!({})), Ok(()), "{query}");
    }

    #[test]
    fn depth_counts_the_top_level_field_as_one() {
        // post(1) author(2) ... depth 8 is the most.
        ok("{ post(id: \"x\") { comments { edges { node { post { comments { pageInfo { hasNextPage } } } } } } } }");
        let nine =
            "{ post(id: \"x\") { comments { edges { node { post { comments { edges { node { id } } } } } } } } }";
        assert_eq!(verdict(nine, serde_json::json!({})), Err(Refusal::TooDeep { depth: 9 }));
    }

    #[test]
    fn fragments_count_where_they_are_spread() {
        let query = "query { post(id: \"x\") { ...deep } }
            fragment deep on Post { comments { edges { node { post { comments { edges { node { id } } } } } } } }";
        assert!(matches!(verdict(query, serde_json::json!({})), Err(Refusal::TooDeep { .. })));
    }

    #[test]
    fn introspection_is_exempt_from_depth() {
        ok(
            "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } }",
        );
    }

    #[test]
    fn connections_multiply_their_edges_by_first() {
        // 1 (posts) + 100 × (1 edges + 1 node + 2 fields) + 2 (pageInfo) = 403.
        ok("{ posts(first: 100) { edges { node { id title } } pageInfo { hasNextPage } } }");
        let nested = "{ posts(first: 100) { edges { node { comments(first: 100) { edges { node { id } } } } } } }";
        assert!(matches!(verdict(nested, serde_json::json!({})), Err(Refusal::TooComplex { .. })));
        // The default first is 20: 1 + 20 × (1 + 1 + (1 + 20 × (1 + 1 + 2))) = 1661.
        let defaulted = "{ posts { edges { node { comments { edges { node { id body } } } } } } }";
        assert!(matches!(verdict(defaulted, serde_json::json!({})), Err(Refusal::TooComplex { complexity: 1661 })));
    }

    #[test]
    fn first_must_be_between_1_and_100_however_it_is_given() {
        for first in ["0", "101", "-1"] {
            let query = format!("{{ posts(first: {first}) {{ edges {{ node {{ id }} }} }} }}");
            assert_eq!(verdict(&query, serde_json::json!({})), Err(Refusal::First), "{first}");
        }
        let by_variable = "query ($n: Int) { posts(first: $n) { edges { node { id } } } }";
        assert_eq!(verdict(by_variable, serde_json::json!({"n": 500})), Err(Refusal::First));
        assert_eq!(verdict(by_variable, serde_json::json!({"n": 5})), Ok(()));
        let by_default = "query ($n: Int = 0) { posts(first: $n) { edges { node { id } } } }";
        assert_eq!(verdict(by_default, serde_json::json!({})), Err(Refusal::First));
    }

    #[test]
    fn self_spreading_fragments_end_the_walk() {
        let query = "query { post(id: \"x\") { ...a } } fragment a on Post { author { id } ...a }";
        assert_eq!(verdict(query, serde_json::json!({})), Ok(()));
    }

    #[test]
    fn a_nullable_variable_cannot_stand_for_a_required_argument() {
        let nullable = "query ($id: ID) { post(id: $id) { id } }";
        assert!(matches!(verdict(nullable, serde_json::json!({"id": "x"})), Err(Refusal::Invalid(_))));
        assert_eq!(verdict("query ($id: ID!) { post(id: $id) { id } }", serde_json::json!({"id": "x"})), Ok(()));
        assert_eq!(verdict("query ($id: ID = \"x\") { post(id: $id) { id } }", serde_json::json!({})), Ok(()));
    }

    #[test]
    fn introspection_is_refused_where_it_is_off() {
        let types = FieldTypes::from_sdl(&crate::schema::sdl());
        let document = async_graphql::parser::parse_query("{ me { id } __type(name: \"Post\") { name } }").unwrap();
        let operation = select_operation(&document, None).unwrap();
        let empty = serde_json::Map::new();
        assert!(matches!(check(&document, operation, &empty, &types, "Query", false), Err(Refusal::Invalid(_))));
        assert_eq!(check(&document, operation, &empty, &types, "Query", true), Ok(()));
    }

    #[test]
    fn operations_are_chosen_by_name() {
        let document = async_graphql::parser::parse_query("query A { me { id } } query B { me { id } }").unwrap();
        assert!(select_operation(&document, Some("B")).is_ok());
        assert!(select_operation(&document, Some("C")).is_err());
        assert!(select_operation(&document, None).is_err());
    }
}
