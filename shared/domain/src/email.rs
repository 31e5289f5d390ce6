//! Email addresses as the suppression list keeps them.

/// The address a suppression is kept under, and looked up by: a display
/// name dropped (`Ann <ann@x.org>` → `ann@x.org`), trimmed, lower-cased
/// (providers treat the local part case-insensitively, and SES reports it
/// as the recipient's server spelled it). `None` for something that is not
/// an address.
pub fn normalise_address(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let inner = match (raw.rfind('<'), raw.rfind('>')) {
        (Some(open), Some(close)) if open < close => &raw[open + 1..close],
        _ => raw,
    };
    let address = inner.trim().to_lowercase();
    let (local, domain) = address.split_once('@')?;
    let plausible = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !address.chars().any(char::is_whitespace);
    plausible.then_some(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised() {
        assert_eq!(normalise_address("  Ann@Example.org "), Some("ann@example.org".into()));
        assert_eq!(normalise_address("Ann B <Ann@Example.org>"), Some("ann@example.org".into()));
        assert_eq!(normalise_address("no-at-sign"), None);
        assert_eq!(normalise_address("a@b@c.org"), None);
        assert_eq!(normalise_address("a@localhost"), None);
        assert_eq!(normalise_address("@example.org"), None);
        assert_eq!(normalise_address("a b@example.org"), None);
    }
}
