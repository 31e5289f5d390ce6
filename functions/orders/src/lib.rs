//! The `orders` function (not built yet).
