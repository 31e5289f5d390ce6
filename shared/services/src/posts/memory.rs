//! Posts and comments in memory, with the table's answers: what the posts
//! service's unit tests and the routers' in-process tests run on. Listings
//! filter and order as the indexes do; a page resumes after the item whose
//! position its cursor carries.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use domain::page::{Direction, ListPage, PositionKey};
use domain::post::{Comment, Post, PostChanges, PostFilter, PostOrder};
use domain::user::username_key;
use domain::{Error, Result, timefmt};
use store::posts::{comment_position, post_position};

use super::PostStore;
use crate::tokens::Principal;

#[derive(Debug, Default)]
pub struct MemoryPostStore {
    posts: Mutex<BTreeMap<String, Post>>,
    /// By post id, oldest first.
    comments: Mutex<BTreeMap<String, Vec<Comment>>>,
}

fn poisoned<T>(_: T) -> Error {
    Error::internal("memory store poisoned")
}

/// One page of `items` (in listing order) after or before `start`.
fn page_of<T: Clone>(
    items: Vec<T>,
    position: impl Fn(&T) -> PositionKey,
    direction: Direction,
    start: Option<&PositionKey>,
    page_size: usize,
) -> ListPage<T> {
    let at = |key: &PositionKey| items.iter().position(|item| &position(item) == key);
    let (from, to) = match (direction, start) {
        (Direction::Forward, None) => (0, page_size.min(items.len())),
        (Direction::Forward, Some(key)) => {
            let from = at(key).map_or(items.len(), |i| i + 1);
            (from, (from + page_size).min(items.len()))
        }
        (Direction::Backward, key) => {
            let end = key.and_then(at).unwrap_or(items.len());
            (end.saturating_sub(page_size), end)
        }
    };
    let results = items[from..to].to_vec();
    let next = (to < items.len()).then(|| results.last().map(&position)).flatten();
    let previous = (from > 0).then(|| results.first().map(&position)).flatten();
    ListPage { results, next, previous }
}

#[async_trait]
impl PostStore for MemoryPostStore {
    async fn create(&self, post: &Post) -> Result<()> {
        self.posts.lock().map_err(poisoned)?.insert(post.id.clone(), post.clone());
        Ok(())
    }

    async fn detail(&self, post_id: &str) -> Result<Option<(Post, Vec<Comment>)>> {
        let Some(post) = self.posts.lock().map_err(poisoned)?.get(post_id).cloned() else { return Ok(None) };
        let comments = self.comments.lock().map_err(poisoned)?.get(post_id).cloned().unwrap_or_default();
        Ok(Some((post, comments.into_iter().take(100).collect())))
    }

    async fn update(&self, post: &Post, changes: &PostChanges) -> Result<Option<Post>> {
        let mut posts = self.posts.lock().map_err(poisoned)?;
        let Some(stored) = posts.get_mut(&post.id) else { return Ok(None) };
        *stored = stored.with_changes(changes, timefmt::now());
        Ok(Some(stored.clone()))
    }

    async fn get_for_delete(&self, post_id: &str) -> Result<Option<(Post, bool)>> {
        Ok(self.posts.lock().map_err(poisoned)?.get(post_id).cloned().map(|post| (post, false)))
    }

    async fn delete(&self, post_id: &str, author_id: &str) -> Result<()> {
        let mut posts = self.posts.lock().map_err(poisoned)?;
        if posts.get(post_id).is_some_and(|post| post.author.id == author_id) {
            posts.remove(post_id);
            self.comments.lock().map_err(poisoned)?.remove(post_id);
        }
        Ok(())
    }

    async fn list(
        &self,
        filter: &PostFilter,
        viewer: Option<&Principal>,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<ListPage<Post>> {
        let viewer = viewer.map(|me| me.user_id.as_str());
        let mut posts: Vec<Post> = self
            .posts
            .lock()
            .map_err(poisoned)?
            .values()
            .filter(|post| post.is_visible_to(viewer))
            .filter(|post| filter.author.as_ref().is_none_or(|author| username_key(&post.author.username) == *author))
            .filter(|post| filter.is_public.is_none_or(|public| post.is_public == public))
            .filter(|post| filter.search.as_ref().is_none_or(|text| post.search_text().contains(text.as_str())))
            .cloned()
            .collect();
        // Ids are ULIDs: their order is their creation order.
        let title = |post: &Post| (post.title.to_lowercase(), post.id.clone());
        match filter.order {
            PostOrder::Oldest => posts.sort_by(|a, b| a.id.cmp(&b.id)),
            PostOrder::Newest => posts.sort_by(|a, b| b.id.cmp(&a.id)),
            PostOrder::Title => posts.sort_by_key(title),
            PostOrder::TitleDesc => posts.sort_by_key(|post| std::cmp::Reverse(title(post))),
        }
        Ok(page_of(posts, |post| post_position(post, filter.order), direction, start, page_size))
    }

    async fn add_comment(&self, comment: &Comment) -> Result<bool> {
        let mut posts = self.posts.lock().map_err(poisoned)?;
        let Some(post) = posts.get_mut(&comment.post_id).filter(|post| post.is_visible_to(Some(&comment.author.id)))
        else {
            return Ok(false);
        };
        post.comment_count += 1;
        self.comments.lock().map_err(poisoned)?.entry(comment.post_id.clone()).or_default().push(comment.clone());
        Ok(true)
    }

    async fn find_comment(&self, comment_id: &str) -> Result<Option<(Comment, Post)>> {
        let comments = self.comments.lock().map_err(poisoned)?;
        let Some(comment) = comments.values().flatten().find(|comment| comment.id == comment_id).cloned() else {
            return Ok(None);
        };
        Ok(self.posts.lock().map_err(poisoned)?.get(&comment.post_id).cloned().map(|post| (comment, post)))
    }

    async fn update_comment(&self, comment: &Comment, body: &str) -> Result<Option<Comment>> {
        let mut comments = self.comments.lock().map_err(poisoned)?;
        let stored = comments.get_mut(&comment.post_id).and_then(|list| list.iter_mut().find(|c| c.id == comment.id));
        Ok(stored.map(|stored| {
            stored.body = body.to_owned();
            stored.updated_at = timefmt::now();
            stored.clone()
        }))
    }

    async fn delete_comment(&self, comment: &Comment) -> Result<bool> {
        let mut comments = self.comments.lock().map_err(poisoned)?;
        let Some(list) = comments.get_mut(&comment.post_id) else { return Ok(false) };
        let before = list.len();
        list.retain(|c| c.id != comment.id);
        let removed = list.len() < before;
        if removed && let Some(post) = self.posts.lock().map_err(poisoned)?.get_mut(&comment.post_id) {
            post.comment_count = post.comment_count.saturating_sub(1);
        }
        Ok(removed)
    }

    async fn list_comments(
        &self,
        post_id: &str,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<(Option<Post>, ListPage<Comment>)> {
        let post = self.posts.lock().map_err(poisoned)?.get(post_id).cloned();
        let comments = self.comments.lock().map_err(poisoned)?.get(post_id).cloned().unwrap_or_default();
        let page = page_of(comments, |c| comment_position(&c.post_id, &c.id), direction, start, page_size);
        Ok((post, page))
    }
}
