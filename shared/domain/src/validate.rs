//! Small field checks shared by every input type, worded as DRF words them.

use crate::FieldErrors;

pub const REQUIRED: &str = "This field is required.";
pub const BLANK: &str = "This field may not be blank.";

/// A required string: present and, unless `allow_blank`, not blank.
pub fn required_string(errors: &mut FieldErrors, field: &str, value: Option<String>, allow_blank: bool) -> String {
    match value {
        None => {
            errors.add(field, REQUIRED);
            String::new()
        }
        Some(v) if !allow_blank && v.trim().is_empty() => {
            errors.add(field, BLANK);
            v
        }
        Some(v) => v,
    }
}

/// Length in characters (not bytes) between `min` and `max`, inclusive.
pub fn length_between(errors: &mut FieldErrors, field: &str, value: &str, min: usize, max: usize) {
    let length = value.chars().count();
    if length < min {
        errors.add(field, format!("Ensure this field has at least {min} characters."));
    } else if length > max {
        errors.add(field, format!("Ensure this field has no more than {max} characters."));
    }
}

/// A plain email address check: one `@`, a non-empty local part, a domain
/// with a dot and no empty labels, no whitespace, at most 254 characters.
pub fn is_valid_email(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else { return false };
    !local.is_empty()
        && !local.contains('@')
        && local.len() <= 64
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@example.com", "x@sub.domain.org"] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in ["", "a", "a@", "@b.co", "a@b", "a b@c.de", "a@b..c", "a@@b.co", "a@-b.co", "a@b.co\n"] {
            assert!(!is_valid_email(bad), "{bad:?}");
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let mut errors = FieldErrors::new();
        length_between(&mut errors, "t", "ééé", 3, 3);
        assert!(errors.is_empty());
        length_between(&mut errors, "t", "ab", 3, 200);
        assert_eq!(errors.get("t").unwrap(), ["Ensure this field has at least 3 characters."]);
    }
}
