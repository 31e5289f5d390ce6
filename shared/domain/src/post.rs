//! Posts and comments: what writes accept (create, PUT, PATCH) and the
//! shapes clients see. `secret_note` is accepted and never shown.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::field::Field;
use super::validate::{BLANK, REQUIRED, length_between};
use crate::{FieldErrors, Result};

pub const TITLE_MIN: usize = 3;
pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 20_000;
pub const SECRET_NOTE_MAX: usize = 20_000;
pub const COMMENT_MIN: usize = 1;
pub const COMMENT_MAX: usize = 5_000;
/// Comments embedded in a post's detail; `comment_count` is the total.
pub const DETAIL_COMMENTS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Author {
    pub id: String,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub id: String,
    pub title: String,
    pub body: String,
    pub is_public: bool,
    pub secret_note: Option<String>,
    pub author: Author,
    pub comment_count: u64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Post {
    /// What a search looks in: title and body, case-folded.
    pub fn search_text(&self) -> String {
        format!("{}\n{}", self.title.to_lowercase(), self.body.to_lowercase())
    }

    /// The post as `changes` leave it, changed at `now`.
    pub fn with_changes(&self, changes: &PostChanges, now: OffsetDateTime) -> Post {
        let mut updated = self.clone();
        if let Some(title) = &changes.title {
            updated.title = title.clone();
        }
        if let Some(body) = &changes.body {
            updated.body = body.clone();
        }
        if let Some(is_public) = changes.is_public {
            updated.is_public = is_public;
        }
        if let Some(note) = &changes.secret_note {
            updated.secret_note = note.clone();
        }
        updated.updated_at = now;
        updated
    }

    /// Private posts exist only for their author.
    pub fn is_visible_to(&self, viewer: Option<&str>) -> bool {
        self.is_public || viewer == Some(self.author.id.as_str())
    }

    pub fn view(&self, comments: Option<Vec<Comment>>) -> PostView {
        PostView {
            id: self.id.clone(),
            title: self.title.clone(),
            body: self.body.clone(),
            is_public: self.is_public,
            author: self.author.clone(),
            comments,
            comment_count: self.comment_count,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A post as clients see it: in lists without `comments`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PostView {
    pub id: String,
    pub title: String,
    pub body: String,
    pub is_public: bool,
    pub author: Author,
    /// In a post's detail only: its oldest comments, up to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 100)]
    pub comments: Option<Vec<Comment>>,
    /// All comments of the post.
    pub comment_count: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Comment {
    pub id: String,
    pub post_id: String,
    pub author: Author,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A post write as sent. Each field may be absent (PATCH), null or a value.
/// Create and PUT need `title` and `body` ([`NewPost`] documents that);
/// PATCH takes any subset.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = PostPatch)]
pub struct PostInput {
    #[serde(default)]
    /// One line, no leading or trailing space, no control characters.
    #[schema(value_type = String, min_length = 3, max_length = 200, pattern = r"^[^\s\u0000-\u001f\u007f-\u009f]([^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$", example = "Hello Lambda")]
    pub title: Field<String>,
    /// May be empty.
    #[serde(default)]
    #[schema(value_type = String, max_length = 20000, example = "Rust starts fast.")]
    pub body: Field<String>,
    #[serde(default)]
    #[schema(value_type = bool, default = true)]
    pub is_public: Field<bool>,
    /// Accepted on write, never returned.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 20000, write_only)]
    pub secret_note: Field<String>,
}

/// The body of a create or a PUT, as the document shows it: the same
/// fields as a PATCH, with `title` and `body` required.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NewPost {
    #[schema(
        min_length = 3,
        max_length = 200,
        pattern = r"^[^\s\u0000-\u001f\u007f-\u009f]([^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f])?$",
        example = "Hello Lambda"
    )]
    title: String,
    /// May be empty.
    #[schema(max_length = 20000, example = "Rust starts fast.")]
    body: String,
    #[schema(value_type = bool, required = false, default = true)]
    is_public: Option<bool>,
    /// Accepted on write, never returned.
    #[schema(max_length = 20000, write_only)]
    secret_note: Option<String>,
}

/// Validated changes; `None` leaves a field as it is.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PostChanges {
    pub title: Option<String>,
    pub body: Option<String>,
    pub is_public: Option<bool>,
    /// `Some(None)` clears the note.
    pub secret_note: Option<Option<String>>,
}

/// Create and PUT need every required field; PATCH takes any subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Full,
    Partial,
}

impl PostInput {
    pub fn validate(self, mode: WriteMode) -> Result<PostChanges> {
        let mut errors = FieldErrors::new();
        let mut changes = PostChanges::default();

        match self.title {
            Field::Value(title) => {
                let title = title.trim().to_owned();
                if title.is_empty() {
                    errors.add("title", BLANK);
                } else if title.chars().any(char::is_control) {
                    errors.add("title", "A title is one line of text, without control characters.");
                } else {
                    length_between(&mut errors, "title", &title, TITLE_MIN, TITLE_MAX);
                }
                changes.title = Some(title);
            }
            Field::Null => errors.add("title", "This field may not be null."),
            Field::Absent if mode == WriteMode::Full => errors.add("title", REQUIRED),
            Field::Absent => {}
        }
        match self.body {
            Field::Value(body) => {
                length_between(&mut errors, "body", &body, 0, BODY_MAX);
                changes.body = Some(body);
            }
            Field::Null => errors.add("body", "This field may not be null."),
            Field::Absent if mode == WriteMode::Full => errors.add("body", REQUIRED),
            Field::Absent => {}
        }
        match self.is_public {
            Field::Value(is_public) => changes.is_public = Some(is_public),
            Field::Null => errors.add("is_public", "This field may not be null."),
            Field::Absent if mode == WriteMode::Full => changes.is_public = Some(true),
            Field::Absent => {}
        }
        match self.secret_note {
            Field::Value(note) => {
                length_between(&mut errors, "secret_note", &note, 0, SECRET_NOTE_MAX);
                changes.secret_note = Some(Some(note));
            }
            Field::Null => changes.secret_note = Some(None),
            Field::Absent if mode == WriteMode::Full => changes.secret_note = Some(None),
            Field::Absent => {}
        }
        errors.into_result(changes)
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CommentInput {
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, max_length = 5000, pattern = r"\S", example = "Nice post!")]
    pub body: Field<String>,
}

impl CommentInput {
    /// Comment bodies are required on create and on PATCH alike (a comment
    /// has no other field to change).
    pub fn validate(self) -> Result<String> {
        let mut errors = FieldErrors::new();
        let body = match self.body {
            Field::Value(body) if body.trim().is_empty() => {
                errors.add("body", BLANK);
                body
            }
            Field::Value(body) => {
                length_between(&mut errors, "body", &body, COMMENT_MIN, COMMENT_MAX);
                body
            }
            Field::Null => {
                errors.add("body", "This field may not be null.");
                String::new()
            }
            Field::Absent => {
                errors.add("body", REQUIRED);
                String::new()
            }
        };
        errors.into_result(body)
    }
}

/// How a list is ordered: the contract's four `ordering` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostOrder {
    Newest,
    Oldest,
    Title,
    TitleDesc,
}

impl PostOrder {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "-created_at" => Some(Self::Newest),
            "created_at" => Some(Self::Oldest),
            "title" => Some(Self::Title),
            "-title" => Some(Self::TitleDesc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "-created_at",
            Self::Oldest => "created_at",
            Self::Title => "title",
            Self::TitleDesc => "-title",
        }
    }

    pub fn by_title(self) -> bool {
        matches!(self, Self::Title | Self::TitleDesc)
    }

    pub fn ascending(self) -> bool {
        matches!(self, Self::Oldest | Self::Title)
    }
}

/// What a post list asks for, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostFilter {
    /// Case-folded author username.
    pub author: Option<String>,
    pub is_public: Option<bool>,
    /// Case-folded search text; empty means no search.
    pub search: Option<String>,
    pub order: PostOrder,
}

impl PostFilter {
    /// From what a client sent: an author matches in any letter case, a
    /// search ignores case and surrounding space, and empty means none.
    pub fn new(author: Option<&str>, is_public: Option<bool>, search: Option<&str>, order: PostOrder) -> Self {
        Self {
            author: author.filter(|a| !a.is_empty()).map(super::user::username_key),
            is_public,
            search: search.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()),
            order,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::json::parse_json;

    fn validate(json: &str, mode: WriteMode) -> Result<PostChanges> {
        parse_json::<PostInput>(json.as_bytes())?.validate(mode)
    }

    fn field_errors(result: Result<PostChanges>) -> FieldErrors {
        match result {
            Err(Error::Validation(errors)) => errors,
            other => panic!("expected validation errors, got {other:?}"),
        }
    }

    #[test]
    fn create_needs_title_and_body_and_defaults_to_public() {
        let errors = field_errors(validate("{}", WriteMode::Full));
        assert_eq!(errors.get("title").unwrap(), [REQUIRED]);
        assert_eq!(errors.get("body").unwrap(), [REQUIRED]);
        let ok = validate(r#"{"title": "  Hello  ", "body": ""}"#, WriteMode::Full).unwrap();
        assert_eq!((ok.title.as_deref(), ok.body.as_deref(), ok.is_public), (Some("Hello"), Some(""), Some(true)));
    }

    #[test]
    fn limits_are_in_characters() {
        let errors = field_errors(validate(r#"{"title": "ab", "body": "x"}"#, WriteMode::Full));
        assert_eq!(errors.get("title").unwrap(), ["Ensure this field has at least 3 characters."]);
        let long_title = format!(r#"{{"title": "{}", "body": "x"}}"#, "é".repeat(201));
        assert!(field_errors(validate(&long_title, WriteMode::Full)).get("title").is_some());
        let ok_title = format!(r#"{{"title": "{}", "body": "x"}}"#, "é".repeat(200));
        assert!(validate(&ok_title, WriteMode::Full).is_ok());
        let long_body = format!(r#"{{"title": "abc", "body": "{}"}}"#, "b".repeat(20_001));
        assert!(field_errors(validate(&long_body, WriteMode::Full)).get("body").is_some());
    }

    #[test]
    fn titles_are_one_line() {
        let errors = field_errors(validate("{\"title\": \"two\\nlines\", \"body\": \"\"}", WriteMode::Full));
        assert!(errors.get("title").is_some());
    }

    #[test]
    fn patch_changes_only_what_is_sent_and_refuses_null() {
        let changes = validate(r#"{"is_public": false}"#, WriteMode::Partial).unwrap();
        assert_eq!(changes, PostChanges { is_public: Some(false), ..Default::default() });
        assert!(field_errors(validate(r#"{"title": null}"#, WriteMode::Partial)).get("title").is_some());
        assert_eq!(validate(r#"{"secret_note": null}"#, WriteMode::Partial).unwrap().secret_note, Some(None));
    }

    #[test]
    fn wrong_types_are_field_errors() {
        let errors = field_errors(validate(r#"{"title": "abc", "body": "x", "is_public": "yes"}"#, WriteMode::Full));
        assert_eq!(errors.get("is_public").unwrap(), ["Must be a valid boolean."]);
    }

    #[test]
    fn comment_bodies() {
        let body = |json: &str| parse_json::<CommentInput>(json.as_bytes()).unwrap().validate();
        assert_eq!(body(r#"{"body": "nice"}"#).unwrap(), "nice");
        assert!(body(r#"{"body": "   "}"#).is_err());
        assert!(body(r#"{}"#).is_err());
        assert!(body(&format!(r#"{{"body": "{}"}}"#, "c".repeat(5001))).is_err());
        assert!(body(&format!(r#"{{"body": "{}"}}"#, "c".repeat(5000))).is_ok());
    }

    #[test]
    fn orderings() {
        for raw in ["-created_at", "created_at", "title", "-title"] {
            assert_eq!(PostOrder::parse(raw).unwrap().as_str(), raw);
        }
        assert!(PostOrder::parse("author").is_none());
    }
}
