//! The posts API's rules, once, for every entry point (REST and GraphQL):
//! which ids can name anything, who sees a post (private posts exist only
//! for their author), who may change it (its author), what a write must
//! hold, and how a listing's cursor is bound to what it lists.
//!
//! Entry points parse their own wire format into these calls and render
//! what comes back; none of them decides visibility or permission itself.

#[cfg(any(test, feature = "memory"))]
pub mod memory;

use std::sync::Arc;

use async_trait::async_trait;

use crate::cursors::{CursorCodec, Direction, scope_of};
use crate::tokens::Principal;
use domain::page::{ListPage, PositionKey};
use domain::post::{Author, Comment, CommentInput, Post, PostChanges, PostFilter, PostInput, PostOrder, WriteMode};
use domain::{Error, Result, timefmt};
use store::{PostRepository, Table};

/// What the posts' rules need of a store: the table's repository, or
/// memory in tests. Each call is one the table answers in one round trip
/// or one transaction.
#[async_trait]
pub trait PostStore: Send + Sync {
    async fn create(&self, post: &Post) -> Result<()>;
    /// The post and its oldest comments (up to 100).
    async fn detail(&self, post_id: &str) -> Result<Option<(Post, Vec<Comment>)>>;
    async fn update(&self, post: &Post, changes: &PostChanges) -> Result<Option<Post>>;
    /// The post, and whether a delete of it is under way.
    async fn get_for_delete(&self, post_id: &str) -> Result<Option<(Post, bool)>>;
    async fn delete(&self, post_id: &str, author_id: &str) -> Result<()>;
    async fn list(
        &self,
        filter: &PostFilter,
        viewer: Option<&Principal>,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<ListPage<Post>>;
    /// False: no such post for this commenter (gone, or not visible).
    async fn add_comment(&self, comment: &Comment) -> Result<bool>;
    async fn find_comment(&self, comment_id: &str) -> Result<Option<(Comment, Post)>>;
    async fn update_comment(&self, comment: &Comment, body: &str) -> Result<Option<Comment>>;
    async fn delete_comment(&self, comment: &Comment) -> Result<bool>;
    async fn list_comments(
        &self,
        post_id: &str,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<(Option<Post>, ListPage<Comment>)>;
}

#[async_trait]
impl PostStore for PostRepository {
    async fn create(&self, post: &Post) -> Result<()> {
        PostRepository::create(self, post).await
    }
    async fn detail(&self, post_id: &str) -> Result<Option<(Post, Vec<Comment>)>> {
        PostRepository::detail(self, post_id).await
    }
    async fn update(&self, post: &Post, changes: &PostChanges) -> Result<Option<Post>> {
        PostRepository::update(self, post, changes).await
    }
    async fn get_for_delete(&self, post_id: &str) -> Result<Option<(Post, bool)>> {
        PostRepository::get_for_delete(self, post_id).await
    }
    async fn delete(&self, post_id: &str, author_id: &str) -> Result<()> {
        PostRepository::delete(self, post_id, author_id).await
    }
    async fn list(
        &self,
        filter: &PostFilter,
        viewer: Option<&Principal>,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<ListPage<Post>> {
        PostRepository::list(self, filter, viewer, direction, start, page_size).await
    }
    async fn add_comment(&self, comment: &Comment) -> Result<bool> {
        PostRepository::add_comment(self, comment).await
    }
    async fn find_comment(&self, comment_id: &str) -> Result<Option<(Comment, Post)>> {
        PostRepository::find_comment(self, comment_id).await
    }
    async fn update_comment(&self, comment: &Comment, body: &str) -> Result<Option<Comment>> {
        PostRepository::update_comment(self, comment, body).await
    }
    async fn delete_comment(&self, comment: &Comment) -> Result<bool> {
        PostRepository::delete_comment(self, comment).await
    }
    async fn list_comments(
        &self,
        post_id: &str,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<(Option<Post>, ListPage<Comment>)> {
        PostRepository::list_comments(self, post_id, direction, start, page_size).await
    }
}

/// An id that could name a post or comment, or the 404 for one that
/// cannot ([`domain::ids::is_plausible_id`]).
pub fn checked_id(id: &str) -> Result<&str> {
    if domain::ids::is_plausible_id(id) { Ok(id) } else { Err(Error::NotFound) }
}

/// A page of a listing and the scope its cursors are bound to.
#[derive(Debug)]
pub struct Listed<T> {
    pub scope: String,
    pub page: ListPage<T>,
}

/// Where a listing starts: a cursor (from a `next` link or an `endCursor`)
/// and how many items.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest<'a> {
    pub cursor: Option<&'a str>,
    pub size: usize,
}

#[derive(Clone)]
pub struct PostService {
    posts: Arc<dyn PostStore>,
    cursors: CursorCodec,
}

fn viewer_id(viewer: Option<&Principal>) -> Option<&str> {
    viewer.map(|v| v.user_id.as_str())
}

impl PostService {
    pub fn new(table: Table, cursors: CursorCodec) -> Self {
        Self::with_store(Arc::new(PostRepository::new(table)), cursors)
    }

    pub fn with_store(posts: Arc<dyn PostStore>, cursors: CursorCodec) -> Self {
        Self { posts, cursors }
    }

    /// Signs and checks this service's cursors, for the entry points' links.
    pub fn cursors(&self) -> &CursorCodec {
        &self.cursors
    }

    fn encode_cursor(&self, scope: &str, direction: Direction, key: PositionKey) -> String {
        self.cursors.encode(scope, direction, key)
    }

    /// The post with its oldest comments (up to 100), if `viewer` may see it.
    pub async fn visible_detail(&self, id: &str, viewer: Option<&Principal>) -> Result<(Post, Vec<Comment>)> {
        let (post, comments) = self.posts.detail(checked_id(id)?).await?.ok_or(Error::NotFound)?;
        if !post.is_visible_to(viewer_id(viewer)) {
            return Err(Error::NotFound);
        }
        Ok((post, comments))
    }

    pub async fn create(&self, me: &Principal, input: PostInput) -> Result<Post> {
        let changes = input.validate(WriteMode::Full)?;
        let now = timefmt::now();
        let post = Post {
            id: domain::ids::new_id_at(now),
            title: changes.title.unwrap_or_default(),
            body: changes.body.unwrap_or_default(),
            is_public: changes.is_public.unwrap_or(true),
            secret_note: changes.secret_note.flatten(),
            author: Author { id: me.user_id.clone(), username: me.username.clone() },
            comment_count: 0,
            created_at: now,
            updated_at: now,
        };
        self.posts.create(&post).await?;
        tracing::info!(post_id = %post.id, "post created");
        Ok(post)
    }

    /// Changes a post its author can see; anyone else who can see it gets a
    /// 403, anyone who cannot a 404.
    pub async fn update(
        &self,
        me: &Principal,
        id: &str,
        input: PostInput,
        mode: WriteMode,
    ) -> Result<(Post, Vec<Comment>)> {
        let (post, comments) = self.visible_detail(id, Some(me)).await?;
        if post.author.id != me.user_id {
            return Err(Error::PermissionDenied);
        }
        let changes = input.validate(mode)?;
        let updated = self.posts.update(&post, &changes).await?.ok_or(Error::NotFound)?;
        Ok((updated, comments))
    }

    pub async fn delete(&self, me: &Principal, id: &str) -> Result<()> {
        let id = checked_id(id)?;
        let (post, deleting) = self.posts.get_for_delete(id).await?.ok_or(Error::NotFound)?;
        let is_author = post.author.id == me.user_id;
        if deleting && !is_author || !post.is_visible_to(Some(&me.user_id)) {
            return Err(Error::NotFound);
        }
        if !is_author {
            return Err(Error::PermissionDenied);
        }
        self.posts.delete(id, &me.user_id).await?;
        tracing::info!(post_id = %id, "post deleted");
        Ok(())
    }

    /// A page of the posts `viewer` may see under `filter`.
    pub async fn list(
        &self,
        viewer: Option<&Principal>,
        filter: &PostFilter,
        page: PageRequest<'_>,
    ) -> Result<Listed<Post>> {
        let scope = scope_of(&[
            ("list", "posts"),
            ("ordering", filter.order.as_str()),
            ("author", filter.author.as_deref().unwrap_or_default()),
            ("is_public", filter.is_public.map(|p| if p { "true" } else { "false" }).unwrap_or_default()),
            ("search", filter.search.as_deref().unwrap_or_default()),
        ]);
        let (direction, start) = self.cursors.start(page.cursor, &scope)?;
        let page = self.posts.list(filter, viewer, direction, start.as_ref(), page.size).await?;
        Ok(Listed { scope, page })
    }

    /// The cursor a listing (of `scope`, in `order`) would resume after `post`.
    pub fn post_cursor(&self, scope: &str, post: &Post, order: PostOrder) -> String {
        self.encode_cursor(scope, Direction::Forward, store::posts::post_position(post, order))
    }

    fn comments_scope(post_id: &str) -> String {
        scope_of(&[("list", "comments"), ("post", post_id)])
    }

    /// A page of a post's comments, oldest first, if `viewer` may see it.
    pub async fn list_comments(
        &self,
        viewer: Option<&Principal>,
        post_id: &str,
        page: PageRequest<'_>,
    ) -> Result<Listed<Comment>> {
        let post_id = checked_id(post_id)?;
        let scope = Self::comments_scope(post_id);
        let (direction, start) = self.cursors.start(page.cursor, &scope)?;
        let (post, page) = self.posts.list_comments(post_id, direction, start.as_ref(), page.size).await?;
        if !post.is_some_and(|p| p.is_visible_to(viewer_id(viewer))) {
            return Err(Error::NotFound);
        }
        Ok(Listed { scope, page })
    }

    /// The cursor a listing of `comment`'s post would resume after it.
    pub fn comment_cursor(&self, comment: &Comment) -> String {
        let position = store::posts::comment_position(&comment.post_id, &comment.id);
        self.encode_cursor(&Self::comments_scope(&comment.post_id), Direction::Forward, position)
    }

    /// Comments on a post the commenter can see.
    pub async fn add_comment(&self, me: &Principal, post_id: &str, input: CommentInput) -> Result<Comment> {
        let post_id = checked_id(post_id)?;
        let body = input.validate()?;
        let now = timefmt::now();
        let comment = Comment {
            id: domain::ids::new_id_at(now),
            post_id: post_id.to_owned(),
            author: Author { id: me.user_id.clone(), username: me.username.clone() },
            body,
            created_at: now,
            updated_at: now,
        };
        if !self.posts.add_comment(&comment).await? {
            return Err(Error::NotFound);
        }
        Ok(comment)
    }

    /// The comment if `viewer` may see its post.
    pub async fn visible_comment(&self, id: &str, viewer: Option<&Principal>) -> Result<Comment> {
        let (comment, post) = self.posts.find_comment(checked_id(id)?).await?.ok_or(Error::NotFound)?;
        if !post.is_visible_to(viewer_id(viewer)) {
            return Err(Error::NotFound);
        }
        Ok(comment)
    }

    /// The comment if `me` may see it and wrote it.
    async fn own_comment(&self, id: &str, me: &Principal) -> Result<Comment> {
        let comment = self.visible_comment(id, Some(me)).await?;
        if comment.author.id != me.user_id {
            return Err(Error::PermissionDenied);
        }
        Ok(comment)
    }

    pub async fn update_comment(&self, me: &Principal, id: &str, input: CommentInput) -> Result<Comment> {
        let comment = self.own_comment(id, me).await?;
        let body = input.validate()?;
        self.posts.update_comment(&comment, &body).await?.ok_or(Error::NotFound)
    }

    pub async fn delete_comment(&self, me: &Principal, id: &str) -> Result<()> {
        let comment = self.own_comment(id, me).await?;
        if !self.posts.delete_comment(&comment).await? {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::memory::MemoryPostStore;
    use super::*;
    use serde_json::json;

    fn service() -> PostService {
        PostService::with_store(Arc::new(MemoryPostStore::default()), CursorCodec::derive_from(b"test key"))
    }

    fn person(name: &str) -> Principal {
        Principal { user_id: format!("01{}", name.to_uppercase()), username: name.to_owned(), claims_staff: false }
    }

    fn post_input(title: &str, is_public: bool) -> PostInput {
        serde_json::from_value(json!({"title": title, "body": "text", "is_public": is_public})).unwrap()
    }

    fn comment_input(body: &str) -> CommentInput {
        serde_json::from_value(json!({"body": body})).unwrap()
    }

    #[tokio::test]
    async fn a_private_post_exists_only_for_its_author() {
        let posts = service();
        let (ann, bob) = (person("ann"), person("bob"));
        let private = posts.create(&ann, post_input("Diary", false)).await.unwrap();
        assert!(posts.visible_detail(&private.id, Some(&ann)).await.is_ok());
        for viewer in [Some(&bob), None] {
            assert!(matches!(posts.visible_detail(&private.id, viewer).await, Err(Error::NotFound)));
        }
        let edit = posts.update(&bob, &private.id, post_input("Mine now", true), WriteMode::Full).await;
        assert!(matches!(edit, Err(Error::NotFound)), "not 403: the post does not exist for bob");
        assert!(matches!(posts.delete(&bob, &private.id).await, Err(Error::NotFound)));
        assert!(matches!(posts.add_comment(&bob, &private.id, comment_input("hi")).await, Err(Error::NotFound)));
        let listed = posts
            .list(None, &PostFilter::new(None, None, None, PostOrder::Newest), PageRequest { cursor: None, size: 20 })
            .await
            .unwrap();
        assert!(listed.page.results.is_empty());
        let listed = posts
            .list(
                Some(&ann),
                &PostFilter::new(None, None, None, PostOrder::Newest),
                PageRequest { cursor: None, size: 20 },
            )
            .await;
        assert_eq!(listed.unwrap().page.results.len(), 1);
    }

    #[tokio::test]
    async fn only_the_author_changes_a_public_post_others_get_403() {
        let posts = service();
        let (ann, bob) = (person("ann"), person("bob"));
        let post = posts.create(&ann, post_input("Hello", true)).await.unwrap();
        let edit = posts.update(&bob, &post.id, post_input("Hijacked", true), WriteMode::Full).await;
        assert!(matches!(edit, Err(Error::PermissionDenied)));
        assert!(matches!(posts.delete(&bob, &post.id).await, Err(Error::PermissionDenied)));
        let (edited, _) = posts.update(&ann, &post.id, post_input("Hello again", true), WriteMode::Full).await.unwrap();
        assert_eq!(edited.title, "Hello again");
        posts.delete(&ann, &post.id).await.unwrap();
        assert!(matches!(posts.visible_detail(&post.id, Some(&ann)).await, Err(Error::NotFound)));
    }

    #[tokio::test]
    async fn comments_are_their_writers_to_change_and_count_on_the_post() {
        let posts = service();
        let (ann, bob) = (person("ann"), person("bob"));
        let post = posts.create(&ann, post_input("Hello", true)).await.unwrap();
        let comment = posts.add_comment(&bob, &post.id, comment_input("Nice")).await.unwrap();
        assert_eq!(posts.visible_detail(&post.id, None).await.unwrap().0.comment_count, 1);
        assert!(matches!(
            posts.update_comment(&ann, &comment.id, comment_input("Edited by ann")).await,
            Err(Error::PermissionDenied)
        ));
        assert_eq!(posts.update_comment(&bob, &comment.id, comment_input("Nicer")).await.unwrap().body, "Nicer");
        assert!(matches!(posts.delete_comment(&ann, &comment.id).await, Err(Error::PermissionDenied)));
        posts.delete_comment(&bob, &comment.id).await.unwrap();
        assert_eq!(posts.visible_detail(&post.id, None).await.unwrap().0.comment_count, 0);
    }

    #[tokio::test]
    async fn a_listing_cursor_resumes_its_own_listing_only() {
        let posts = service();
        let ann = person("ann");
        for title in ["A", "B", "C"].map(|t| format!("Post {t}")) {
            posts.create(&ann, post_input(&title, true)).await.unwrap();
        }
        let newest = PostFilter::new(None, None, None, PostOrder::Newest);
        let first = posts.list(None, &newest, PageRequest { cursor: None, size: 2 }).await.unwrap();
        assert_eq!(first.page.results.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), ["Post C", "Post B"]);
        let last = first.page.results.last().unwrap();
        let cursor = posts.post_cursor(&first.scope, last, newest.order);
        let second = posts.list(None, &newest, PageRequest { cursor: Some(&cursor), size: 2 }).await.unwrap();
        assert_eq!(second.page.results.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), ["Post A"]);
        let by_title = PostFilter::new(None, None, None, PostOrder::Title);
        let reused = posts.list(None, &by_title, PageRequest { cursor: Some(&cursor), size: 2 }).await;
        assert!(matches!(reused, Err(Error::Validation(_))), "a cursor is bound to its listing");
    }

    #[test]
    fn only_short_alphanumeric_ids_can_name_anything() {
        assert!(checked_id("01JD4Z6Q3V8M2N5P7R9S1T3W5X").is_ok());
        for bad in ["", "../x", "a b", &"a".repeat(65), "POST#1"] {
            assert!(matches!(checked_id(bad), Err(Error::NotFound)), "{bad:?}");
        }
    }
}
