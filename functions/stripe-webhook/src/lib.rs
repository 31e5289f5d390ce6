//! The `stripe-webhook` function (not built yet).
