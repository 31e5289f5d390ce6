//! The posts API's rules, once, for every entry point (REST and GraphQL):
//! which ids can name anything, who sees a post (private posts exist only
//! for their author), who may change it (its author), what a write must
//! hold, and how a listing's cursor is bound to what it lists.
//!
//! Entry points parse their own wire format into these calls and render
//! what comes back; none of them decides visibility or permission itself.

use crate::cursors::{CursorCodec, Direction, scope_of};
use crate::tokens::Principal;
use domain::post::{Author, Comment, CommentInput, Post, PostFilter, PostInput, PostOrder, WriteMode};
use domain::{Error, Result, timefmt};
use store::{PostRepository, Table};
use store::paging::{ListPage, PositionKey};

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
    posts: PostRepository,
    cursors: CursorCodec,
}

fn viewer_id(viewer: Option<&Principal>) -> Option<&str> {
    viewer.map(|v| v.user_id.as_str())
}

impl PostService {
    pub fn new(table: Table, cursors: CursorCodec) -> Self {
        Self { posts: PostRepository::new(table), cursors }
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
    use super::*;

    #[test]
    fn only_short_alphanumeric_ids_can_name_anything() {
        assert!(checked_id("01JD4Z6Q3V8M2N5P7R9S1T3W5X").is_ok());
        for bad in ["", "../x", "a b", &"a".repeat(65), "POST#1"] {
            assert!(matches!(checked_id(bad), Err(Error::NotFound)), "{bad:?}");
        }
    }
}
