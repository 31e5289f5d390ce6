//! The `posts` function (not built yet).
