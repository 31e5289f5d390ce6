//! The `receipt-mailer` function (not built yet).
