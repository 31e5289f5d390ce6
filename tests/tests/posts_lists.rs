//! The contract's "Posts and comments" section, `GET /posts`: visibility,
//! the `author` / `is_public` / `search` filters, the four orderings, cursor
//! pages with absolute links, tamper-evident cursors bound to their listing,
//! stable walks while posts are added, and one DynamoDB call per page.
//!
//! The table is shared with suites running at the same time: every test
//! isolates itself with fresh users (`author=`) or unique search words.

use std::collections::HashSet;

use e2e_tests::posts::{
    User, bounded, create_post, create_titled, encode, get, id_of, keys, new_user, query_param, result_ids, send,
    unique_word, walk, walk_ids,
};
use e2e_tests::{Api, assert_error, aws_calls, fresh_request_id};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const LIST_ITEM_KEYS: [&str; 8] =
    ["author", "body", "comment_count", "created_at", "id", "is_public", "title", "updated_at"];

fn by_author(user: &User) -> String {
    format!("/api/v1/posts?author={}", user.username)
}

/// Creates posts with these titles one after another (so their creation
/// order is their listing order) and returns their ids.
async fn create_in_order(api: &Api, user: &User, titles: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for title in titles {
        ids.push(id_of(&create_titled(api, user, title).await));
    }
    ids
}

#[tokio::test]
async fn lists_show_each_caller_only_what_they_may_see() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let public = id_of(
        &create_post(&api, &alice, json!({"title": "Alice in public", "body": "", "secret_note": "hidden"})).await,
    );
    let private =
        id_of(&create_post(&api, &alice, json!({"title": "Alice in private", "body": "", "is_public": false})).await);
    let bobs = id_of(&create_titled(&api, &bob, "Bob in public").await);

    // The page shape, and list items carry comment_count but no comments.
    let anonymous = get(&api, &by_author(&alice), None).await;
    assert_eq!(anonymous.status, StatusCode::OK, "{}", anonymous.body);
    assert_eq!(keys(&anonymous.body), ["next", "previous", "results"]);
    assert_eq!(anonymous.body["next"], Value::Null);
    assert_eq!(anonymous.body["previous"], Value::Null);
    assert_eq!(result_ids(&anonymous.body), std::slice::from_ref(&public));
    let item = &anonymous.body["results"][0];
    assert_eq!(keys(item), LIST_ITEM_KEYS, "{item}");
    assert_eq!(item["comment_count"], 0);
    assert_eq!(item["author"], json!({"id": alice.id, "username": alice.username}));

    assert_eq!(result_ids(&get(&api, &by_author(&alice), bob.token()).await.body), std::slice::from_ref(&public));
    assert_eq!(result_ids(&get(&api, &by_author(&alice), alice.token()).await.body), [private.clone(), public.clone()]);

    // `author` in any letter case.
    for spelling in [alice.username.to_uppercase(), alice.username.to_lowercase(), mixed_case(&alice.username)] {
        let answer = get(&api, &format!("/api/v1/posts?author={spelling}"), alice.token()).await;
        assert_eq!(result_ids(&answer.body), [private.clone(), public.clone()], "author={spelling}");
    }
    // An unknown author: an empty page, not an error.
    let nobody = get(&api, &format!("/api/v1/posts?author=nobody-{}", unique_word()), None).await;
    assert_eq!(nobody.status, StatusCode::OK);
    assert_eq!(nobody.body, json!({"next": null, "previous": null, "results": []}));

    // `is_public`.
    let cases: [(Option<&str>, &str, &User, Vec<String>); 7] = [
        (alice.token(), "true", &alice, vec![public.clone()]),
        (alice.token(), "false", &alice, vec![private.clone()]),
        (bob.token(), "true", &alice, vec![public.clone()]),
        (bob.token(), "false", &alice, vec![]),
        (None, "false", &alice, vec![]),
        (None, "true", &bob, vec![bobs.clone()]),
        (bob.token(), "false", &bob, vec![]),
    ];
    for (token, flag, author, expected) in cases {
        let answer = get(&api, &format!("{}&is_public={flag}", by_author(author)), token).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(result_ids(&answer.body), expected, "is_public={flag} author={}", author.username);
    }
    // `is_public=false` without an author is the caller's own private posts.
    assert_eq!(walk_ids(&api, "/api/v1/posts?is_public=false", alice.token(), 5).await, std::slice::from_ref(&private));
    assert_eq!(walk_ids(&api, "/api/v1/posts?is_public=false", bob.token(), 5).await, Vec::<String>::new());
    assert_eq!(walk_ids(&api, "/api/v1/posts?is_public=false", None, 5).await, Vec::<String>::new());

    // The global feed (newest first), down to alice's public post (older
    // than the private one), never shows alice's private post to others.
    let bobs_feed = feed_down_to(&api, &public, bob.token()).await;
    assert!(!bobs_feed.contains(&private), "a private post in someone else's feed");
    assert!(bobs_feed.contains(&bobs));
    let anonymous_feed = feed_down_to(&api, &public, None).await;
    assert!(!anonymous_feed.contains(&private), "a private post in the anonymous feed");
    let alices_feed = feed_down_to(&api, &public, alice.token()).await;
    assert!(alices_feed.contains(&private), "the author's own private post is in their feed");
}

/// The global feed's ids, newest first, up to and including `last`.
async fn feed_down_to(api: &Api, last: &str, token: Option<&str>) -> Vec<String> {
    let mut ids = Vec::new();
    let mut url = Some("/api/v1/posts?page_size=100".to_owned());
    while let Some(current) = url.take() {
        let answer = get(api, &current, token).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(!answer.body.to_string().contains("secret_note"));
        for post in answer.body["results"].as_array().unwrap() {
            assert!(post.get("comments").is_none(), "{post}");
            ids.push(id_of(post));
            if ids.last().map(String::as_str) == Some(last) {
                return ids;
            }
        }
        url = answer.body["next"].as_str().map(str::to_owned);
        assert!(ids.len() < 5_000, "the feed does not reach {last}");
    }
    panic!("{last} is not in the feed");
}

fn mixed_case(name: &str) -> String {
    name.chars().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect()
}

#[tokio::test]
async fn search_is_case_insensitive_over_title_and_body() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    let word = unique_word();
    let in_title = id_of(
        &create_post(&api, &alice, json!({"title": format!("About {}", word.to_uppercase()), "body": "plain"})).await,
    );
    let in_body =
        id_of(&create_post(&api, &alice, json!({"title": "Another one", "body": format!("lorem {word} ipsum")})).await);
    let _neither = create_post(&api, &alice, json!({"title": "Unrelated", "body": "nothing here"})).await;
    let bobs = id_of(&create_post(&api, &bob, json!({"title": format!("{word}!"), "body": ""})).await);
    let bobs_private =
        id_of(&create_post(&api, &bob, json!({"title": "Private", "body": word.clone(), "is_public": false})).await);

    let query = mixed_case(&word);
    let everyone = walk_ids(&api, &format!("/api/v1/posts?search={query}"), None, 20).await;
    assert_eq!(everyone, [bobs.clone(), in_body.clone(), in_title.clone()], "newest first");
    let for_bob = walk_ids(&api, &format!("/api/v1/posts?search={query}"), bob.token(), 20).await;
    assert_eq!(for_bob, [bobs_private.clone(), bobs.clone(), in_body.clone(), in_title.clone()]);
    let alices = walk_ids(&api, &format!("{}&search={}", by_author(&alice), word.to_uppercase()), None, 20).await;
    assert_eq!(alices, [in_body.clone(), in_title.clone()]);
    let by_title = walk_ids(&api, &format!("/api/v1/posts?search={word}&ordering=title"), None, 20).await;
    assert_eq!(by_title, [in_title.clone(), in_body.clone(), bobs.clone()], "About…, Another one, w…!");
    // A part of the word matches too (a substring search, as DRF's icontains).
    let part = &word[word.len() - 12..];
    assert_eq!(walk_ids(&api, &format!("/api/v1/posts?search={part}"), None, 20).await.len(), 3);

    // Search follows edits.
    let renamed = unique_word();
    let patched = send(
        &api,
        Method::PATCH,
        &format!("/api/v1/posts/{in_title}"),
        alice.token(),
        Some(&json!({"title": format!("Now {renamed}")})),
        None,
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(
        walk_ids(&api, &format!("/api/v1/posts?search={word}"), None, 20).await,
        [bobs.clone(), in_body.clone()]
    );
    assert_eq!(walk_ids(&api, &format!("/api/v1/posts?search={}", renamed.to_uppercase()), None, 20).await, [in_title]);
    // Nothing matches: an empty list, not an error.
    assert!(walk_ids(&api, &format!("/api/v1/posts?search={}", unique_word()), None, 20).await.is_empty());
}

#[tokio::test]
async fn ordering_by_created_at_or_title_either_way() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let titles = ["Banana", "Apple", "Date", "Cherry"];
    let ids = create_in_order(&api, &alice, &titles).await;
    let id_for = |title: &str| ids[titles.iter().position(|t| *t == title).unwrap()].clone();

    let newest: Vec<String> = ids.iter().rev().cloned().collect();
    let oldest = ids.clone();
    let by_title: Vec<String> = ["Apple", "Banana", "Cherry", "Date"].iter().map(|t| id_for(t)).collect();
    let by_title_desc: Vec<String> = by_title.iter().rev().cloned().collect();
    for (ordering, expected) in [
        ("", &newest),
        ("&ordering=-created_at", &newest),
        ("&ordering=created_at", &oldest),
        ("&ordering=title", &by_title),
        ("&ordering=-title", &by_title_desc),
    ] {
        let url = format!("{}{ordering}", by_author(&alice));
        assert_eq!(&walk_ids(&api, &url, None, 5).await, expected, "{ordering}");
        // The same order across pages of one.
        assert_eq!(&walk_ids(&api, &format!("{url}&page_size=1"), None, 10).await, expected, "{ordering}, by one");
    }

    // A changed title moves the post in the title order.
    let patched = send(
        &api,
        Method::PATCH,
        &format!("/api/v1/posts/{}", id_for("Date")),
        alice.token(),
        Some(&json!({"title": "Aardvark"})),
        None,
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK);
    let reordered = walk_ids(&api, &format!("{}&ordering=title", by_author(&alice)), None, 5).await;
    assert_eq!(reordered, [id_for("Date"), id_for("Apple"), id_for("Banana"), id_for("Cherry")]);
}

#[tokio::test]
async fn title_ordering_puts_a_title_before_its_longer_continuations() {
    let api = Api::new();
    let alice = new_user(&api).await;
    // Created in an order unlike the expected one.
    let titles = ["Rusty", "Rust tips", "Rust"];
    let ids = create_in_order(&api, &alice, &titles).await;
    let (rusty, tips, rust) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    let ascending = walk_ids(&api, &format!("{}&ordering=title", by_author(&alice)), None, 5).await;
    let names = |ids: &[String]| -> Vec<&str> {
        ids.iter().map(|id| titles[[&rusty, &tips, &rust].iter().position(|x| *x == id).unwrap()]).collect()
    };
    assert_eq!(names(&ascending), ["Rust", "Rust tips", "Rusty"], "ordering=title");
    let descending = walk_ids(&api, &format!("{}&ordering=-title", by_author(&alice)), None, 5).await;
    assert_eq!(names(&descending), ["Rusty", "Rust tips", "Rust"], "ordering=-title");
}

#[tokio::test]
async fn bad_list_parameters_are_400_naming_the_field() {
    let api = Api::new();
    let cases = [
        ("ordering=author", vec!["ordering"]),
        ("ordering=created", vec!["ordering"]),
        ("ordering=-updated_at", vec!["ordering"]),
        ("page_size=0", vec!["page_size"]),
        ("page_size=101", vec!["page_size"]),
        ("page_size=-5", vec!["page_size"]),
        ("page_size=ten", vec!["page_size"]),
        ("page_size=", vec!["page_size"]),
        ("is_public=yes", vec!["is_public"]),
        ("is_public=1", vec!["is_public"]),
        ("is_public=", vec!["is_public"]),
        ("ordering=x&page_size=1000&is_public=maybe", vec!["ordering", "page_size", "is_public"]),
    ];
    for (query, fields) in cases {
        let answer = get(&api, &format!("/api/v1/posts?{query}"), None).await;
        assert_error(answer.status, &answer.body, 400, "validation_error");
        for field in &fields {
            let messages = answer.body["errors"][field].as_array();
            assert!(messages.is_some_and(|m| !m.is_empty()), "{query} → {}", answer.body);
        }
        assert_eq!(answer.body["errors"].as_object().unwrap().len(), fields.len(), "{query} → {}", answer.body);
    }
    // The edges are fine.
    for query in ["page_size=1", "page_size=100", "is_public=true", "is_public=false", "ordering=-title"] {
        let answer = get(&api, &format!("/api/v1/posts?author=nobody-{}&{query}", unique_word()), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{query} → {}", answer.body);
    }
}

#[tokio::test]
async fn walking_45_posts_by_20_returns_each_once_in_order_while_posts_are_added() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let creates: Vec<_> = (0..45)
        .map(|i| {
            let api = api.clone();
            let alice = alice.clone();
            async move { id_of(&create_titled(&api, &alice, &format!("Walk {i:02}")).await) }
        })
        .collect();
    let mut originals = bounded(4, creates).await;
    originals.sort();
    let newest_first: Vec<String> = originals.iter().rev().cloned().collect();

    // Default page size 20; absolute links that keep the filters.
    let first = get(&api, &by_author(&alice), None).await;
    assert_eq!(result_ids(&first.body), newest_first[..20]);
    assert_eq!(first.body["previous"], Value::Null);
    let next = first.body["next"].as_str().expect("a next link").to_owned();
    assert!(next.starts_with(&format!("{}/api/v1/posts?", api.base)), "{next}");
    assert_eq!(query_param(&next, "author").as_deref(), Some(alice.username.as_str()), "{next}");
    assert!(query_param(&next, "cursor").is_some_and(|c| !c.is_empty()), "{next}");

    // Walk newest first, adding a post before each next page.
    let mut added = Vec::new();
    let mut pages = Vec::new();
    let mut url = Some(format!("{}&page_size=20", by_author(&alice)));
    while let Some(current) = url.take() {
        let answer = get(&api, &current, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        url = answer.body["next"].as_str().map(str::to_owned);
        pages.push(answer.body);
        assert!(pages.len() <= 5, "too many pages");
        added.push(id_of(&create_titled(&api, &alice, &format!("Added {}", added.len())).await));
    }
    let sizes: Vec<usize> = pages.iter().map(|p| p["results"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [20, 20, 5]);
    let walked: Vec<String> = pages.iter().flat_map(result_ids).collect();
    assert_eq!(walked, newest_first, "each of the 45 exactly once, newest first");
    for page in &pages {
        let times: Vec<&str> =
            page["results"].as_array().unwrap().iter().map(|p| p["created_at"].as_str().unwrap()).collect();
        // Compared to the millisecond: ids (ULIDs) order by creation to the millisecond.
        let parsed: Vec<i128> = times
            .iter()
            .map(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap())
            .map(|t| t.unix_timestamp_nanos() / 1_000_000)
            .collect();
        assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    }

    // And back with `previous`: the same pages, then the posts added since.
    let back_two = get(&api, pages[2]["previous"].as_str().expect("previous on page 3"), None).await;
    assert_eq!(result_ids(&back_two.body), result_ids(&pages[1]));
    let back_one = get(&api, back_two.body["previous"].as_str().expect("previous on page 2"), None).await;
    assert_eq!(result_ids(&back_one.body), result_ids(&pages[0]));
    let newer = get(&api, back_one.body["previous"].as_str().expect("newer posts were added"), None).await;
    let added_newest_first: Vec<String> = added.iter().rev().cloned().collect();
    assert_eq!(result_ids(&newer.body), added_newest_first);
    assert_eq!(newer.body["previous"], Value::Null);
    let forward_again = get(&api, newer.body["next"].as_str().expect("next back to the first page"), None).await;
    assert_eq!(result_ids(&forward_again.body), result_ids(&pages[0]));

    // Oldest first, adding as we go: the 45 once each, in order, the new ones after them.
    let mut seen = Vec::new();
    let mut url = Some(format!("{}&ordering=created_at&page_size=20", by_author(&alice)));
    let mut more_added = HashSet::new();
    while let Some(current) = url.take() {
        let answer = get(&api, &current, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        url = answer.body["next"].as_str().map(str::to_owned);
        seen.extend(result_ids(&answer.body));
        assert!(seen.len() <= 60, "the walk does not end");
        if url.is_some() && more_added.len() < 3 {
            more_added.insert(id_of(&create_titled(&api, &alice, "Added while walking up").await));
        }
    }
    assert_eq!(seen[..45], originals[..], "the 45, oldest first");
    let tail: HashSet<&String> = seen[45..].iter().collect();
    assert_eq!(tail.len(), seen.len() - 45, "no duplicates: {seen:?}");
    let known: HashSet<&String> = added.iter().chain(more_added.iter()).collect();
    assert!(tail.is_subset(&known), "only posts added during the walks follow");
    assert_eq!(tail.len(), added.len() + more_added.len(), "all of them, since each was added before the last page");
}

#[tokio::test]
async fn cursors_are_tamper_evident_and_bound_to_their_ordering_and_filters() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    create_in_order(&api, &alice, &["One", "Two", "Three"]).await;
    create_titled(&api, &bob, "Bob's").await;

    let first = get(&api, &format!("{}&page_size=1", by_author(&alice)), None).await;
    let next = first.body["next"].as_str().unwrap().to_owned();
    let cursor = query_param(&next, "cursor").unwrap();
    let (payload, signature) = cursor.split_once('.').expect("payload.signature");

    let flip = |text: &str, at: usize| -> String {
        let mut chars: Vec<char> = text.chars().collect();
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect()
    };
    let made_up_payload = base64_url(br##"{"s":"x","d":"f","k":{"pk":"POST#1","sk":"#POST"}}"##);
    let bad_cursors = [
        ("payload altered", format!("{}.{signature}", flip(payload, payload.len() / 2))),
        ("signature altered", format!("{payload}.{}", flip(signature, 3))),
        ("truncated", cursor[..cursor.len() - 5].to_owned()),
        ("payload only", payload.to_owned()),
        ("made up", format!("{made_up_payload}.{signature}")),
        ("made up, unsigned", made_up_payload.clone()),
        ("garbage", "%%%not-base64%%%".to_owned()),
    ];
    for (what, bad) in &bad_cursors {
        let answer = get(&api, &format!("{}&page_size=1&cursor={}", by_author(&alice), encode(bad)), None).await;
        assert_error(answer.status, &answer.body, 400, "validation_error");
        assert_eq!(answer.body["errors"]["cursor"], json!(["Invalid cursor."]), "{what}: {}", answer.body);
    }

    // Bound to the ordering and the filters it was made for.
    for other in [
        format!("{}&ordering=title", by_author(&alice)),
        format!("{}&ordering=created_at", by_author(&alice)),
        format!("{}&ordering=-title", by_author(&alice)),
        by_author(&bob),
        format!("{}&is_public=true", by_author(&alice)),
        format!("{}&search=one", by_author(&alice)),
        "/api/v1/posts?ordering=-created_at".to_owned(),
    ] {
        let answer = get(&api, &format!("{other}&page_size=1&cursor={}", encode(&cursor)), None).await;
        assert_error(answer.status, &answer.body, 400, "validation_error");
        assert!(answer.body["errors"]["cursor"].is_array(), "{other}: {}", answer.body);
    }

    // The genuine cursor still works, signed in or not, and the walk goes on.
    for token in [None, alice.token(), bob.token()] {
        let second = get(&api, &next, token).await;
        assert_eq!(second.status, StatusCode::OK, "{}", second.body);
        assert_eq!(second.body["results"][0]["title"], "Two");
    }
    let titles: Vec<String> = walk(&api, &next, None, 5)
        .await
        .iter()
        .flat_map(|p| {
            p["results"].as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(titles, ["Two", "One"]);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_list_page_without_search_is_one_dynamodb_call() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    create_in_order(&api, &alice, &["First", "Second", "Third", "Fourth", "Fifth"]).await;

    let mut next_link = None;
    for (query, token) in [
        ("", None),
        ("", alice.token()),
        ("", bob.token()),
        ("&ordering=title", None),
        ("&ordering=-title", alice.token()),
        ("&ordering=created_at", bob.token()),
        ("&is_public=true", None),
        ("&is_public=false", alice.token()),
        ("&page_size=2", alice.token()),
        ("&page_size=2", None),
    ] {
        let request_id = fresh_request_id();
        let url = format!("{}{query}", by_author(&alice));
        let answer = send(&api, Method::GET, &url, token, None, Some(&request_id)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(
            aws_calls(&request_id, "dynamodb").await,
            1,
            "GET {url} (signed in: {}): DynamoDB calls",
            token.is_some()
        );
        if query == "&page_size=2" {
            next_link = answer.body["next"].as_str().map(str::to_owned);
        }
    }
    // A page reached by cursor too.
    let request_id = fresh_request_id();
    let next = next_link.expect("a second page");
    let answer = send(&api, Method::GET, &next, None, None, Some(&request_id)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(result_ids(&answer.body).len(), 2);
    assert_eq!(aws_calls(&request_id, "dynamodb").await, 1, "a cursor page: DynamoDB calls");
}

/// The bound holds whatever the author keeps private: another viewer's page
/// of their posts is still one round trip.
#[tokio::test]
async fn a_list_page_is_one_dynamodb_call_even_past_the_authors_private_posts() {
    let api = Api::new();
    let alice = new_user(&api).await;
    let bob = new_user(&api).await;
    create_in_order(&api, &alice, &["One", "Two", "Three", "Four", "Five", "Six"]).await;
    for i in 0..2 {
        create_post(&api, &alice, json!({"title": format!("Private {i}"), "body": "", "is_public": false})).await;
    }
    for (query, token) in
        [("&page_size=5", None), ("&page_size=5", bob.token()), ("&page_size=5&is_public=true", alice.token())]
    {
        let request_id = fresh_request_id();
        let url = format!("{}{query}", by_author(&alice));
        let answer = send(&api, Method::GET, &url, token, None, Some(&request_id)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let titles: Vec<&str> =
            answer.body["results"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["Six", "Five", "Four", "Three", "Two"]);
        assert_eq!(
            aws_calls(&request_id, "dynamodb").await,
            1,
            "GET {url} (signed in: {}): DynamoDB calls",
            token.is_some()
        );
    }
}
