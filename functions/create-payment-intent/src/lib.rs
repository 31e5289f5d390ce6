//! The `create-payment-intent` function (not built yet).
