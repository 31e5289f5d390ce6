//! The schema of the contract's "GraphQL" section, over the same
//! [`PostService`] the REST posts function calls: the resolvers translate
//! arguments and results, and decide no visibility or permission of their own.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{
    Context, EmptySubscription, Enum, ID, InputObject, Object, Result as GqlResult, Schema, SimpleObject,
};
use domain::field::Field;
use domain::post::{self, CommentInput, DETAIL_COMMENTS, PostFilter, PostInput};
use services::posts::{PageRequest, PostService};
use services::tokens::Principal;
use time::OffsetDateTime;
use web::pagination::{DEFAULT_PAGE_SIZE, Direction, checked_page_size, page_size_range_message};

use crate::errors::{field_error, resolver_error};
use crate::loader::UserLoader;

pub type ApiSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema; introspection only where the IDE is on.
pub fn build(posts: PostService, introspection: bool) -> ApiSchema {
    let builder = Schema::build(Query, Mutation, EmptySubscription).data(posts);
    if introspection { builder.finish() } else { builder.disable_introspection().finish() }
}

/// The schema as SDL, as `openapi/schema.graphql` holds it.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, EmptySubscription).finish().sdl()
}

/// Who is asking: per request, beside the request's user loader.
pub struct Viewer(pub Option<Principal>);

fn viewer<'a>(ctx: &'a Context<'_>) -> GqlResult<Option<&'a Principal>> {
    Ok(ctx.data::<Viewer>()?.0.as_ref())
}

fn signed_in<'a>(ctx: &'a Context<'_>) -> GqlResult<&'a Principal> {
    viewer(ctx)?
        .ok_or_else(|| resolver_error(domain::Error::NotAuthenticated("Authentication credentials were not provided.")))
}

fn posts<'a>(ctx: &'a Context<'_>) -> GqlResult<&'a PostService> {
    ctx.data::<PostService>()
}

/// `first` on a connection: 1–100, default 20. The limits check refuses a
/// document with another value before execution; this is the same rule for
/// a resolver reached anyway.
pub fn page_size(first: Option<i32>) -> GqlResult<usize> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) => checked_page_size(n.into()).ok_or_else(|| field_error("first", &page_size_range_message())),
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
#[graphql(name = "PostOrder")]
pub enum PostOrderArg {
    #[default]
    Newest,
    Oldest,
    Title,
    TitleDesc,
}

impl From<PostOrderArg> for post::PostOrder {
    fn from(order: PostOrderArg) -> Self {
        match order {
            PostOrderArg::Newest => Self::Newest,
            PostOrderArg::Oldest => Self::Oldest,
            PostOrderArg::Title => Self::Title,
            PostOrderArg::TitleDesc => Self::TitleDesc,
        }
    }
}

pub struct Query;

#[Object]
impl Query {
    /// A post; `null` when there is none the caller may see.
    async fn post(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Option<PostNode>> {
        match posts(ctx)?.visible_detail(&id, viewer(ctx)?).await {
            Ok((post, comments)) => Ok(Some(PostNode::with_comments(post, comments))),
            Err(domain::Error::NotFound) => Ok(None),
            Err(error) => Err(resolver_error(error)),
        }
    }

    /// The posts the caller may see, newest first unless `orderBy` says
    /// otherwise; `author` is a username in any letter case.
    async fn posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        author: Option<String>,
        search: Option<String>,
        #[graphql(default_with = "Some(PostOrderArg::Newest)")] order_by: Option<PostOrderArg>,
    ) -> GqlResult<PostConnection> {
        let service = posts(ctx)?;
        let order = post::PostOrder::from(order_by.unwrap_or_default());
        let filter = PostFilter::new(author.as_deref(), None, search.as_deref(), order);
        let page = PageRequest { cursor: after.as_deref(), size: page_size(first)? };
        let listed = service.list(viewer(ctx)?, &filter, page).await.map_err(resolver_error)?;
        let edges: Vec<PostEdge> = listed
            .page
            .results
            .into_iter()
            .map(|post| PostEdge {
                cursor: service.post_cursor(&listed.scope, &post, order),
                node: PostNode::new(post),
            })
            .collect();
        // Where the listing goes on: after the last post, or past what a
        // search's read budget covered when it found fewer.
        let end_cursor = match listed.page.next.clone() {
            Some(next) => Some(service.cursors().encode(&listed.scope, Direction::Forward, next)),
            None => edges.last().map(|edge| edge.cursor.clone()),
        };
        Ok(PostConnection { edges, page_info: PageInfo { has_next_page: listed.page.next.is_some(), end_cursor } })
    }

    /// The caller; `null` when anonymous.
    async fn me(&self, ctx: &Context<'_>) -> GqlResult<Option<UserNode>> {
        Ok(viewer(ctx)?.map(|me| UserNode { id: me.user_id.clone(), username: me.username.clone() }))
    }
}

pub struct Mutation;

#[derive(InputObject)]
pub struct CreatePostInput {
    title: String,
    body: String,
    #[graphql(default_with = "Some(true)")]
    is_public: Option<bool>,
    /// Kept with the post, never returned.
    secret_note: Option<String>,
}

#[derive(InputObject)]
pub struct AddCommentInput {
    post_id: ID,
    body: String,
}

#[Object]
impl Mutation {
    /// A post by the caller.
    async fn create_post(&self, ctx: &Context<'_>, input: CreatePostInput) -> GqlResult<PostNode> {
        let me = signed_in(ctx)?;
        let fields = PostInput {
            title: Field::Value(input.title),
            body: Field::Value(input.body),
            is_public: input.is_public.map_or(Field::Absent, Field::Value),
            secret_note: input.secret_note.map_or(Field::Absent, Field::Value),
        };
        let post = posts(ctx)?.create(me, fields).await.map_err(resolver_error)?;
        Ok(PostNode::with_comments(post, vec![]))
    }

    /// A comment by the caller on a post they can see.
    async fn add_comment(&self, ctx: &Context<'_>, input: AddCommentInput) -> GqlResult<CommentNode> {
        let me = signed_in(ctx)?;
        let body = CommentInput { body: Field::Value(input.body) };
        let comment = posts(ctx)?.add_comment(me, &input.post_id, body).await.map_err(resolver_error)?;
        // Its post is read again if asked for: its count has just changed.
        Ok(CommentNode { comment, post: None })
    }
}

pub struct PostNode {
    post: Arc<post::Post>,
    /// The oldest comments, when the post was read with them (its detail).
    comments: Option<Vec<post::Comment>>,
}

impl PostNode {
    fn new(post: post::Post) -> Self {
        Self { post: Arc::new(post), comments: None }
    }

    fn with_comments(post: post::Post, comments: Vec<post::Comment>) -> Self {
        Self { post: Arc::new(post), comments: Some(comments) }
    }
}

fn count(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[Object(name = "Post")]
impl PostNode {
    async fn id(&self) -> ID {
        ID(self.post.id.clone())
    }
    async fn title(&self) -> &str {
        &self.post.title
    }
    async fn body(&self) -> &str {
        &self.post.body
    }
    async fn is_public(&self) -> bool {
        self.post.is_public
    }
    async fn author(&self) -> UserNode {
        UserNode::from(&self.post.author)
    }
    async fn comment_count(&self) -> i32 {
        count(self.post.comment_count)
    }
    /// Oldest first.
    async fn comments(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<CommentConnection> {
        let service = posts(ctx)?;
        let first = page_size(first)?;
        let node = |comment: post::Comment| CommentEdge {
            cursor: service.comment_cursor(&comment),
            node: CommentNode { comment, post: Some(self.post.clone()) },
        };
        // The first page of a post read with its detail is already here.
        if let (None, Some(read)) = (&after, &self.comments) {
            let more_than_read = read.len() >= DETAIL_COMMENTS && self.post.comment_count > first as u64;
            let has_next_page = read.len() > first || more_than_read;
            let edges: Vec<CommentEdge> = read.iter().take(first).cloned().map(node).collect();
            let end_cursor = edges.last().map(|edge| edge.cursor.clone());
            return Ok(CommentConnection { edges, page_info: PageInfo { has_next_page, end_cursor } });
        }
        let page = PageRequest { cursor: after.as_deref(), size: first };
        let listed = service.list_comments(viewer(ctx)?, &self.post.id, page).await.map_err(resolver_error)?;
        let has_next_page = listed.page.next.is_some();
        let edges: Vec<CommentEdge> = listed.page.results.into_iter().map(node).collect();
        let end_cursor = edges.last().map(|edge| edge.cursor.clone());
        Ok(CommentConnection { edges, page_info: PageInfo { has_next_page, end_cursor } })
    }
    async fn created_at(&self) -> OffsetDateTime {
        self.post.created_at
    }
    async fn updated_at(&self) -> OffsetDateTime {
        self.post.updated_at
    }
}

pub struct CommentNode {
    comment: post::Comment,
    /// Its post, when the comment was read under it.
    post: Option<Arc<post::Post>>,
}

#[Object(name = "Comment")]
impl CommentNode {
    async fn id(&self) -> ID {
        ID(self.comment.id.clone())
    }
    async fn post(&self, ctx: &Context<'_>) -> GqlResult<PostNode> {
        if let Some(post) = &self.post {
            return Ok(PostNode { post: post.clone(), comments: None });
        }
        let (post, comments) =
            posts(ctx)?.visible_detail(&self.comment.post_id, viewer(ctx)?).await.map_err(resolver_error)?;
        Ok(PostNode::with_comments(post, comments))
    }
    async fn author(&self) -> UserNode {
        UserNode::from(&self.comment.author)
    }
    async fn body(&self) -> &str {
        &self.comment.body
    }
    async fn created_at(&self) -> OffsetDateTime {
        self.comment.created_at
    }
    async fn updated_at(&self) -> OffsetDateTime {
        self.comment.updated_at
    }
}

/// A user. Posts and comments carry their author's id and username, so
/// those cost nothing; anything else is read through the request's
/// batching [`UserLoader`].
pub struct UserNode {
    id: String,
    username: String,
}

impl From<&post::Author> for UserNode {
    fn from(author: &post::Author) -> Self {
        Self { id: author.id.clone(), username: author.username.clone() }
    }
}

#[Object(name = "User")]
impl UserNode {
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }
    async fn username(&self) -> &str {
        &self.username
    }
    async fn date_joined(&self, ctx: &Context<'_>) -> GqlResult<OffsetDateTime> {
        Ok(self.stored(ctx).await?.date_joined)
    }
    /// Staff keep the catalog and see every order.
    async fn is_staff(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        Ok(self.stored(ctx).await?.is_staff)
    }
    /// The person proved they read their address (its link, a reset link,
    /// or a provider that vouches for it).
    async fn email_verified(&self, ctx: &Context<'_>) -> GqlResult<bool> {
        Ok(self.stored(ctx).await?.email_verified)
    }
}

impl UserNode {
    /// The user as stored, through the request's batching loader.
    async fn stored(&self, ctx: &Context<'_>) -> GqlResult<domain::user::User> {
        let loader = ctx.data::<DataLoader<UserLoader>>()?;
        let user = loader.load_one(self.id.clone()).await.map_err(resolver_error)?;
        user.ok_or_else(|| resolver_error(domain::Error::NotFound))
    }
}

#[derive(SimpleObject)]
pub struct PostConnection {
    edges: Vec<PostEdge>,
    page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct PostEdge {
    cursor: String,
    node: PostNode,
}

#[derive(SimpleObject)]
pub struct CommentConnection {
    edges: Vec<CommentEdge>,
    page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct CommentEdge {
    cursor: String,
    node: CommentNode,
}

#[derive(SimpleObject)]
pub struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use async_graphql::parser::parse_schema;
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

    /// The contract's SDL ("GraphQL" in the HTTP contract), as clients rely on it.
    const CONTRACT: &str = r#"
scalar DateTime
type Query {
  post(id: ID!): Post
  posts(first: Int = 20, after: String, author: String, search: String,
        orderBy: PostOrder = NEWEST): PostConnection!
  me: User
}
type Mutation {
  createPost(input: CreatePostInput!): Post!
  addComment(input: AddCommentInput!): Comment!
}
type Post {
  id: ID!  title: String!  body: String!  isPublic: Boolean!  author: User!
  commentCount: Int!  comments(first: Int = 20, after: String): CommentConnection!
  createdAt: DateTime!  updatedAt: DateTime!
}
type Comment { id: ID!  post: Post!  author: User!  body: String!  createdAt: DateTime!  updatedAt: DateTime! }
type User { id: ID!  username: String! }
type PostConnection { edges: [PostEdge!]!  pageInfo: PageInfo! }
type PostEdge { cursor: String!  node: Post! }
type CommentConnection { edges: [CommentEdge!]!  pageInfo: PageInfo! }
type CommentEdge { cursor: String!  node: Comment! }
type PageInfo { hasNextPage: Boolean!  endCursor: String }
enum PostOrder { NEWEST OLDEST TITLE TITLE_DESC }
input CreatePostInput { title: String!  body: String!  isPublic: Boolean = true  secretNote: String }
input AddCommentInput { postId: ID!  body: String! }
"#;

    /// Every type, field, argument (with its default) and enum value, as
    /// one line each: `Type.field(arg: T = default): R`.
    fn signatures(sdl: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for definition in parse_schema(sdl).unwrap().definitions {
            let TypeSystemDefinition::Type(definition) = definition else { continue };
            let name = definition.node.name.node.to_string();
            match &definition.node.kind {
                TypeKind::Scalar => {
                    out.insert(name.clone(), "scalar".to_owned());
                }
                TypeKind::Object(object) => {
                    for field in &object.fields {
                        let args: Vec<String> = field
                            .node
                            .arguments
                            .iter()
                            .map(|a| {
                                let default = a.node.default_value.as_ref().map(|d| format!(" = {}", d.node));
                                format!("{}: {}{}", a.node.name.node, a.node.ty.node, default.unwrap_or_default())
                            })
                            .collect();
                        out.insert(
                            format!("{name}.{}", field.node.name.node),
                            format!("({}): {}", args.join(", "), field.node.ty.node),
                        );
                    }
                }
                TypeKind::InputObject(input) => {
                    for field in &input.fields {
                        let default = field.node.default_value.as_ref().map(|d| format!(" = {}", d.node));
                        out.insert(
                            format!("{name}.{}", field.node.name.node),
                            format!("{}{}", field.node.ty.node, default.unwrap_or_default()),
                        );
                    }
                }
                TypeKind::Enum(values) => {
                    for value in &values.values {
                        out.insert(format!("{name}.{}", value.node.value.node), "enum value".to_owned());
                    }
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn the_schema_has_everything_the_contract_promises_as_it_promises_it() {
        let ours = signatures(&super::sdl());
        for (what, signature) in signatures(CONTRACT) {
            assert_eq!(ours.get(&what), Some(&signature), "{what}");
        }
    }

    #[test]
    fn the_committed_schema_is_the_codes() {
        let committed = include_str!("../../../openapi/schema.graphql");
        assert!(committed == super::sdl(), "openapi/schema.graphql is out of date: run `make openapi` and commit it");
    }
}
