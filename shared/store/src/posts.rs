//! Posts and their comments in the single table (see [`super::keys`]).
//! Every read a request needs is one Query where the data allows it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, Put, ReturnValue, TransactWriteItem, Update, WriteRequest,
};

use super::paging::Direction;
use super::paging::{self, ListPage, PositionKey, QuerySpec};
use super::{Item, ItemReader, Table, item_with_key, key_of, keys, n, s, sdk_error, updated_if};
use domain::post::{Author, Comment, DETAIL_COMMENTS, Post, PostChanges, PostFilter, PostOrder};
use domain::user::Principal;
use domain::user::username_key;
use domain::{Error, Result, timefmt};

const POST_POSITION: &[&str] = &[keys::PK, keys::SK];
const FEED_BY_CREATION: &[&str] = &[keys::PK, keys::SK, keys::GSI1_PK, keys::GSI1_SK];
const FEED_BY_TITLE: &[&str] = &[keys::PK, keys::SK, keys::GSI2_PK, keys::GSI2_SK];
const AUTHOR_BY_CREATION: &[&str] = &[keys::PK, keys::SK, keys::GSI3_PK, keys::GSI3_SK];
const AUTHOR_BY_TITLE: &[&str] = &[keys::PK, keys::SK, keys::GSI4_PK, keys::GSI4_SK];
const PUBLIC_BY_CREATION: &[&str] = &[keys::PK, keys::SK, keys::GSI5_PK, keys::GSI5_SK];
const PUBLIC_BY_TITLE: &[&str] = &[keys::PK, keys::SK, keys::GSI6_PK, keys::GSI6_SK];
const AUTHOR_VISIBILITY_BY_CREATION: &[&str] = &[keys::PK, keys::SK, keys::GSI7_PK, keys::GSI7_SK];
const AUTHOR_VISIBILITY_BY_TITLE: &[&str] = &[keys::PK, keys::SK, keys::GSI8_PK, keys::GSI8_SK];

/// Which index a listing reads, and whether it still needs the visibility
/// filter (only the signed-in caller's whole feed does).
struct Listing {
    index: &'static str,
    partition_attribute: &'static str,
    partition: String,
    key_attributes: &'static [&'static str],
    visibility_filter: bool,
}

/// Picks the index that holds exactly the posts the caller may see under
/// these filters; `None` when that set is empty by definition.
fn listing_for(filter: &PostFilter, viewer: Option<&Principal>) -> Option<Listing> {
    let me = viewer.map(|v| username_key(&v.username));
    let by_title = filter.order.by_title();
    let pick = |creation: (&'static str, &'static str, &'static [&'static str]),
                title: (&'static str, &'static str, &'static [&'static str]),
                partition: String,
                visibility_filter: bool| {
        let (index, partition_attribute, key_attributes) = if by_title { title } else { creation };
        Listing { index, partition_attribute, partition, key_attributes, visibility_filter }
    };
    let all = || {
        pick(
            (keys::GSI1, keys::GSI1_PK, FEED_BY_CREATION),
            (keys::GSI2, keys::GSI2_PK, FEED_BY_TITLE),
            keys::ALL_POSTS.to_owned(),
            true,
        )
    };
    let public = || {
        pick(
            (keys::GSI5, keys::GSI5_PK, PUBLIC_BY_CREATION),
            (keys::GSI6, keys::GSI6_PK, PUBLIC_BY_TITLE),
            keys::PUBLIC_POSTS.to_owned(),
            false,
        )
    };
    let author_all = |author: &str| {
        pick(
            (keys::GSI3, keys::GSI3_PK, AUTHOR_BY_CREATION),
            (keys::GSI4, keys::GSI4_PK, AUTHOR_BY_TITLE),
            keys::posts_of_author(author),
            false,
        )
    };
    let author_visibility = |author: &str, is_public: bool| {
        pick(
            (keys::GSI7, keys::GSI7_PK, AUTHOR_VISIBILITY_BY_CREATION),
            (keys::GSI8, keys::GSI8_PK, AUTHOR_VISIBILITY_BY_TITLE),
            keys::posts_of_author_by_visibility(author, is_public),
            false,
        )
    };
    let mine = |author: &String| me.as_ref() == Some(author);
    match (filter.is_public, filter.author.as_ref()) {
        // Private posts are only ever the caller's own.
        (Some(false), Some(author)) if !mine(author) => None,
        (Some(false), _) => me.as_deref().map(|me| author_visibility(me, false)),
        (Some(true), Some(author)) => Some(author_visibility(author, true)),
        (Some(true), None) => Some(public()),
        (None, Some(author)) if mine(author) => Some(author_all(author)),
        (None, Some(author)) => Some(author_visibility(author, true)),
        (None, None) if me.is_some() => Some(all()),
        (None, None) => Some(public()),
    }
}

impl Listing {
    fn index_sort_attribute(&self) -> &'static str {
        self.key_attributes[3]
    }

    fn by_title(&self) -> bool {
        matches!(self.index, keys::GSI2 | keys::GSI4 | keys::GSI6 | keys::GSI8)
    }

    /// Where a page starts in this listing's index, from a position that
    /// names the post (`id`, and `title` when ordering by title). Cursors
    /// carry such positions, not index keys, so a link works for any caller
    /// (whose listing may read another index).
    fn start_key(&self, position: &PositionKey) -> Result<PositionKey> {
        let invalid = || Error::Validation(domain::FieldErrors::single("cursor", "Invalid cursor."));
        let id = position.get("id").ok_or_else(invalid)?;
        let sort = if self.by_title() {
            keys::title_order(position.get("title").ok_or_else(invalid)?, id)
        } else {
            id.clone()
        };
        let (pk, sk) = keys::post(id);
        Ok(PositionKey::from([
            (keys::PK.to_owned(), pk),
            (keys::SK.to_owned(), sk),
            (self.partition_attribute.to_owned(), self.partition.clone()),
            (self.index_sort_attribute().to_owned(), sort),
        ]))
    }

    /// The position (see [`Listing::start_key`]) of an index key.
    fn position(&self, key: PositionKey) -> PositionKey {
        let id = key.get(keys::PK).and_then(|pk| keys::post_id_of_partition(pk)).unwrap_or_default().to_owned();
        let mut position = PositionKey::from([("id".to_owned(), id)]);
        if self.by_title()
            && let Some((title, _)) = key.get(self.index_sort_attribute()).and_then(|s| s.rsplit_once('\u{1}'))
        {
            position.insert("title".to_owned(), title.to_owned());
        }
        position
    }
}

/// Where a listing in `order` resumes after `post`: the position a cursor
/// carries (see [`Listing::start_key`]), as [`Listing::position`] makes it
/// from the item's keys.
pub fn post_position(post: &Post, order: PostOrder) -> PositionKey {
    let mut position = PositionKey::from([("id".to_owned(), post.id.clone())]);
    if order.by_title() {
        position.insert("title".to_owned(), title_key(&post.title));
    }
    position
}

/// Where a listing of a post's comments resumes after this comment.
pub fn comment_position(post_id: &str, comment_id: &str) -> PositionKey {
    let (pk, sk) = keys::comment(post_id, comment_id);
    PositionKey::from([(keys::PK.to_owned(), pk), (keys::SK.to_owned(), sk)])
}

/// The index keys that follow from a post's title and visibility: set
/// these, remove the others (public-only indexes are sparse).
fn index_keys(post: &Post) -> (Vec<(&'static str, String)>, Vec<&'static str>) {
    let author = username_key(&post.author.username);
    let title_order = keys::title_order(&title_key(&post.title), &post.id);
    let by_visibility = keys::posts_of_author_by_visibility(&author, post.is_public);
    let mut set = vec![
        (keys::GSI1_PK, keys::ALL_POSTS.to_owned()),
        (keys::GSI1_SK, post.id.clone()),
        (keys::GSI2_PK, keys::ALL_POSTS.to_owned()),
        (keys::GSI2_SK, title_order.clone()),
        (keys::GSI3_PK, keys::posts_of_author(&author)),
        (keys::GSI3_SK, post.id.clone()),
        (keys::GSI4_PK, keys::posts_of_author(&author)),
        (keys::GSI4_SK, title_order.clone()),
        (keys::GSI7_PK, by_visibility.clone()),
        (keys::GSI7_SK, post.id.clone()),
        (keys::GSI8_PK, by_visibility),
        (keys::GSI8_SK, title_order.clone()),
    ];
    let public_only = [
        (keys::GSI5_PK, keys::PUBLIC_POSTS.to_owned()),
        (keys::GSI5_SK, post.id.clone()),
        (keys::GSI6_PK, keys::PUBLIC_POSTS.to_owned()),
        (keys::GSI6_SK, title_order),
    ];
    if post.is_public {
        set.extend(public_only);
        (set, vec![])
    } else {
        (set, public_only.iter().map(|(name, _)| *name).collect())
    }
}

/// Reads per Query call when a search filter may skip most items.
const SEARCH_READ_PER_CALL: usize = 200;

#[derive(Debug, Clone)]
pub struct PostRepository {
    table: Table,
}

fn title_key(title: &str) -> String {
    title.to_lowercase()
}

fn post_item(post: &Post) -> Item {
    let mut item = item_with_key(keys::post(&post.id));
    item.insert("id".into(), s(&post.id));
    item.insert("title".into(), s(&post.title));
    item.insert("body".into(), s(&post.body));
    item.insert("is_public".into(), AttributeValue::Bool(post.is_public));
    if let Some(note) = &post.secret_note {
        item.insert("secret_note".into(), s(note));
    }
    item.insert("author_id".into(), s(&post.author.id));
    item.insert("author_username".into(), s(&post.author.username));
    item.insert("comment_count".into(), n(post.comment_count));
    item.insert("created_at".into(), s(timefmt::rfc3339(post.created_at)));
    item.insert("updated_at".into(), s(timefmt::rfc3339(post.updated_at)));
    item.insert("search_text".into(), s(post.search_text()));
    let (index_keys, _) = index_keys(post);
    item.extend(index_keys.into_iter().map(|(name, value)| (name.to_owned(), s(value))));
    item
}

fn post_from(item: &Item) -> Result<Post> {
    let read = ItemReader(item);
    Ok(Post {
        id: read.string("id")?,
        title: read.string("title")?,
        body: read.string("body")?,
        is_public: read.bool("is_public"),
        secret_note: read.optional_string("secret_note"),
        author: Author { id: read.string("author_id")?, username: read.string("author_username")? },
        comment_count: read.int("comment_count")?.max(0) as u64,
        created_at: read.time("created_at")?,
        updated_at: read.time("updated_at")?,
    })
}

fn comment_item(comment: &Comment) -> Item {
    let mut item = item_with_key(keys::comment(&comment.post_id, &comment.id));
    let (gsi1pk, gsi1sk) = keys::comment_by_id(&comment.id);
    item.insert("id".into(), s(&comment.id));
    item.insert("post_id".into(), s(&comment.post_id));
    item.insert("body".into(), s(&comment.body));
    item.insert("author_id".into(), s(&comment.author.id));
    item.insert("author_username".into(), s(&comment.author.username));
    item.insert("created_at".into(), s(timefmt::rfc3339(comment.created_at)));
    item.insert("updated_at".into(), s(timefmt::rfc3339(comment.updated_at)));
    item.insert(keys::GSI1_PK.into(), s(gsi1pk));
    item.insert(keys::GSI1_SK.into(), s(gsi1sk));
    item
}

fn comment_from(item: &Item) -> Result<Comment> {
    let read = ItemReader(item);
    Ok(Comment {
        id: read.string("id")?,
        post_id: read.string("post_id")?,
        author: Author { id: read.string("author_id")?, username: read.string("author_username")? },
        body: read.string("body")?,
        created_at: read.time("created_at")?,
        updated_at: read.time("updated_at")?,
    })
}

fn is_post(item: &Item) -> bool {
    matches!(item.get(keys::SK), Some(AttributeValue::S(sk)) if sk == keys::POST_SK)
}

/// A post that is being deleted is already gone for every reader.
fn is_deleting(item: &Item) -> bool {
    ItemReader(item).bool("deleting")
}

impl PostRepository {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    pub async fn create(&self, post: &Post) -> Result<()> {
        self.table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(post_item(post)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// The post and its oldest comments, in one Query of its item collection.
    pub async fn detail(&self, post_id: &str) -> Result<Option<(Post, Vec<Comment>)>> {
        let output = self
            .table
            .client
            .query()
            .table_name(&self.table.name)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::post_partition(post_id)))
            .consistent_read(true)
            .limit(DETAIL_COMMENTS as i32 + 1)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let items = output.items.unwrap_or_default();
        let Some(first) = items.first().filter(|i| is_post(i) && !is_deleting(i)) else { return Ok(None) };
        let post = post_from(first)?;
        let comments = items[1..].iter().map(comment_from).collect::<Result<Vec<_>>>()?;
        Ok(Some((post, comments)))
    }

    /// The post item alone, including one that is being deleted.
    async fn get_item(&self, post_id: &str) -> Result<Option<Item>> {
        self.table.get(keys::post(post_id)).await
    }

    pub async fn get(&self, post_id: &str) -> Result<Option<Post>> {
        match self.get_item(post_id).await? {
            Some(item) if !is_deleting(&item) => Ok(Some(post_from(&item)?)),
            _ => Ok(None),
        }
    }

    /// Applies `changes` if the post still exists and is `author_id`'s;
    /// `None` if it is gone.
    pub async fn update(&self, post: &Post, changes: &PostChanges) -> Result<Option<Post>> {
        let updated = post.with_changes(changes, timefmt::now());

        let mut set: Vec<String> = ["title", "body", "is_public", "updated_at", "search_text"]
            .iter()
            .map(|name| format!("{name} = :{name}"))
            .collect();
        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (":title".into(), s(&updated.title)),
            (":body".into(), s(&updated.body)),
            (":is_public".into(), AttributeValue::Bool(updated.is_public)),
            (":updated_at".into(), s(timefmt::rfc3339(updated.updated_at))),
            (":search_text".into(), s(updated.search_text())),
            (":author".into(), s(&post.author.id)),
        ]);
        // Title and visibility decide which index partitions hold the post.
        let (index_set, index_remove) = index_keys(&updated);
        for (name, value) in index_set {
            set.push(format!("{name} = :{name}"));
            values.insert(format!(":{name}"), s(value));
        }
        let mut remove: Vec<&str> = index_remove;
        match &updated.secret_note {
            Some(note) => {
                set.push("secret_note = :note".into());
                values.insert(":note".into(), s(note));
            }
            None => remove.push("secret_note"),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let result = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::post(&post.id))))
            .update_expression(expression)
            .condition_expression("author_id = :author AND attribute_not_exists(deleting)")
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match updated_if(result)? {
            Some(output) => output.attributes.as_ref().map(post_from).transpose(),
            None => Ok(None),
        }
    }

    /// Deletes the post and all its comments. The post is first marked as
    /// being deleted (gone for every reader, closed to new comments); the
    /// comments go in batches; the post item goes last. A failure anywhere
    /// leaves a marked post that a retried DELETE finishes.
    pub async fn delete(&self, post_id: &str, author_id: &str) -> Result<()> {
        self.table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::post(post_id))))
            .update_expression("SET deleting = :true")
            .condition_expression("author_id = :author")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":author", s(author_id))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem", e))?;
        self.purge_comments(post_id).await?;
        self.table
            .client
            .delete_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::post(post_id))))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        Ok(())
    }

    /// The post item even while it is being deleted, so its author can
    /// retry a DELETE that failed half-way.
    pub async fn get_for_delete(&self, post_id: &str) -> Result<Option<(Post, bool)>> {
        match self.get_item(post_id).await? {
            Some(item) => Ok(Some((post_from(&item)?, is_deleting(&item)))),
            None => Ok(None),
        }
    }

    async fn purge_comments(&self, post_id: &str) -> Result<()> {
        loop {
            let output = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .key_condition_expression("pk = :pk AND begins_with(sk, :comment)")
                .expression_attribute_values(":pk", s(keys::post_partition(post_id)))
                .expression_attribute_values(":comment", s(keys::COMMENT_SK_PREFIX))
                .projection_expression("pk, sk")
                .consistent_read(true)
                .limit(100)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            let items = output.items.unwrap_or_default();
            if items.is_empty() {
                return Ok(());
            }
            for chunk in items.chunks(25) {
                let mut requests = chunk
                    .iter()
                    .map(|key| {
                        DeleteRequest::builder()
                            .set_key(Some(key.clone()))
                            .build()
                            .map(|d| WriteRequest::builder().delete_request(d).build())
                            .map_err(Error::internal)
                    })
                    .collect::<Result<Vec<_>>>()?;
                // BatchWriteItem may leave some undone under load; resend
                // those a few times before giving up (a retry finishes).
                for attempt in 0..5 {
                    let output = self
                        .table
                        .client
                        .batch_write_item()
                        .request_items(&self.table.name, requests)
                        .send()
                        .await
                        .map_err(|e| sdk_error("BatchWriteItem", e))?;
                    requests =
                        output.unprocessed_items.and_then(|mut left| left.remove(&self.table.name)).unwrap_or_default();
                    if requests.is_empty() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
                if !requests.is_empty() {
                    return Err(Error::ServiceUnavailable {
                        detail: "comments left after BatchWriteItem retries".into(),
                        retry_after_secs: 1,
                    });
                }
            }
        }
    }

    /// One page of the posts `viewer` may see, filtered and ordered.
    pub async fn list(
        &self,
        filter: &PostFilter,
        viewer: Option<&Principal>,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<ListPage<Post>> {
        let Some(listing) = listing_for(filter, viewer) else {
            return Ok(ListPage { results: vec![], next: None, previous: None });
        };
        let mut values = HashMap::from([(":partition".to_owned(), s(&listing.partition))]);
        let mut conditions = vec!["attribute_not_exists(deleting)".to_owned()];
        if let (true, Some(me)) = (listing.visibility_filter, viewer) {
            conditions.push("(is_public = :true OR author_id = :viewer)".into());
            values.insert(":true".into(), AttributeValue::Bool(true));
            values.insert(":viewer".into(), s(&me.user_id));
        }
        let per_call = match &filter.search {
            Some(text) => {
                conditions.push("contains(search_text, :search)".into());
                values.insert(":search".into(), s(text));
                SEARCH_READ_PER_CALL
            }
            // In the whole feed, a little slack over the page (+1 to know
            // there is more) so others' few private posts rarely cost a
            // second call; other listings hold only visible posts.
            None if listing.visibility_filter => page_size + 1 + page_size / 4,
            None => page_size + 1,
        };
        let spec = QuerySpec {
            index: Some(listing.index),
            key_condition: format!("{} = :partition", listing.partition_attribute),
            filter: Some(conditions.join(" AND ")),
            names: HashMap::new(),
            values,
            ascending: filter.order.ascending(),
            key_attributes: listing.key_attributes,
            per_call,
        };
        let start = start.map(|position| listing.start_key(position)).transpose()?;
        let raw = paging::read_page(&self.table, &spec, direction, start.as_ref(), page_size).await?;
        let page = paging::arrange(raw, direction, start.as_ref(), listing.key_attributes, post_from)?;
        Ok(ListPage {
            results: page.results,
            next: page.next.map(|key| listing.position(key)),
            previous: page.previous.map(|key| listing.position(key)),
        })
    }

    /// Adds a comment and counts it, in one transaction that also checks the
    /// post exists, is not being deleted and is visible to the commenter.
    /// `false`: no such post for this commenter.
    pub async fn add_comment(&self, comment: &Comment) -> Result<bool> {
        let count = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::post(&comment.post_id))))
            .update_expression("ADD comment_count :one")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(deleting) AND (is_public = :true OR author_id = :me)",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":me", s(&comment.author.id))
            .build()
            .map_err(Error::internal)?;
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(comment_item(comment)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(Error::internal)?;
        self.table
            .transact([
                TransactWriteItem::builder().update(count).build(),
                TransactWriteItem::builder().put(put).build(),
            ])
            .await
    }

    /// A comment by id (through `gsi1`) and the post it belongs to.
    pub async fn find_comment(&self, comment_id: &str) -> Result<Option<(Comment, Post)>> {
        let (gsi1pk, _) = keys::comment_by_id(comment_id);
        let output = self
            .table
            .client
            .query()
            .table_name(&self.table.name)
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :id")
            .expression_attribute_values(":id", s(gsi1pk))
            .limit(1)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let Some(item) = output.items.unwrap_or_default().into_iter().next() else { return Ok(None) };
        let comment = comment_from(&item)?;
        Ok(self.get(&comment.post_id).await?.map(|post| (comment, post)))
    }

    pub async fn update_comment(&self, comment: &Comment, body: &str) -> Result<Option<Comment>> {
        let result = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::comment(&comment.post_id, &comment.id))))
            .update_expression("SET body = :body, updated_at = :now")
            .condition_expression("attribute_exists(pk) AND author_id = :author")
            .expression_attribute_values(":body", s(body))
            .expression_attribute_values(":now", s(timefmt::rfc3339(timefmt::now())))
            .expression_attribute_values(":author", s(&comment.author.id))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match updated_if(result)? {
            Some(output) => output.attributes.as_ref().map(comment_from).transpose(),
            None => Ok(None),
        }
    }

    /// Deletes the comment and uncounts it in one transaction; `false` if it
    /// was already gone (a concurrent delete counted once).
    pub async fn delete_comment(&self, comment: &Comment) -> Result<bool> {
        let delete = Delete::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::comment(&comment.post_id, &comment.id))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(Error::internal)?;
        let uncount = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key_of(keys::post(&comment.post_id))))
            .update_expression("ADD comment_count :minus_one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":minus_one", n(-1))
            .build()
            .map_err(Error::internal)?;
        self.table
            .transact([
                TransactWriteItem::builder().delete(delete).build(),
                TransactWriteItem::builder().update(uncount).build(),
            ])
            .await
    }

    /// A page of a post's comments, oldest first, with the post (`None`: no
    /// such post). The first page reads the post and its comments in one
    /// Query; later pages start past the post item and read it apart.
    pub async fn list_comments(
        &self,
        post_id: &str,
        direction: Direction,
        start: Option<&PositionKey>,
        page_size: usize,
    ) -> Result<(Option<Post>, ListPage<Comment>)> {
        let mut values = HashMap::from([(":pk".to_owned(), s(keys::post_partition(post_id)))]);
        let (post, key_condition, page_start) = match start {
            None => {
                let post_then_comments = QuerySpec {
                    index: None,
                    key_condition: "pk = :pk".into(),
                    filter: None,
                    names: HashMap::new(),
                    values: values.clone(),
                    ascending: true,
                    key_attributes: POST_POSITION,
                    per_call: page_size + 2,
                };
                let mut raw =
                    paging::read_page(&self.table, &post_then_comments, Direction::Forward, None, page_size + 1)
                        .await?;
                let post = match raw.items.first() {
                    Some(item) if is_post(item) && !is_deleting(item) => post_from(item)?,
                    _ => return Ok((None, ListPage { results: vec![], next: None, previous: None })),
                };
                raw.items.remove(0);
                let page = paging::arrange(raw, Direction::Forward, None, POST_POSITION, comment_from)?;
                return Ok((Some(post), page));
            }
            Some(position) => (self.get(post_id).await?, "pk = :pk AND begins_with(sk, :comment)", position),
        };
        if post.is_none() {
            return Ok((None, ListPage { results: vec![], next: None, previous: None }));
        }
        values.insert(":comment".into(), s(keys::COMMENT_SK_PREFIX));
        let spec = QuerySpec {
            index: None,
            key_condition: key_condition.into(),
            filter: None,
            names: HashMap::new(),
            values,
            ascending: true,
            key_attributes: POST_POSITION,
            per_call: page_size + 1,
        };
        let raw = paging::read_page(&self.table, &spec, direction, Some(page_start), page_size).await?;
        Ok((post, paging::arrange(raw, direction, Some(page_start), POST_POSITION, comment_from)?))
    }
}
