//! Input rules SQS enforces, shared by several actions.

use crate::error::{ErrorCode, SqsError, SqsResult};
use crate::queue::message::{AttributeValue, Attributes};

/// Queue names: 1–80 of `[A-Za-z0-9_-]`, FIFO names ending in `.fifo` (which counts).
pub fn queue_name(name: &str, fifo: bool) -> SqsResult<()> {
    let stem = if fifo {
        name.strip_suffix(".fifo")
    } else {
        Some(name)
    };
    let ok = stem.is_some_and(|stem| {
        !stem.is_empty()
            && name.len() <= 80
            && stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if ok {
        return Ok(());
    }
    Err(SqsError::invalid_parameter(
        if fifo || name.ends_with(".fifo") {
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."
        } else {
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        },
    ))
}

/// Characters SQS accepts in bodies and string values:
/// #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF.
pub fn allowed_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

pub fn message_contents(text: &str) -> SqsResult<()> {
    if let Some(bad) = text.chars().find(|c| !allowed_char(*c)) {
        return Err(SqsError::new(
            ErrorCode::InvalidMessageContents,
            format!(
                "Invalid binary character '#x{:X}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
                bad as u32
            ),
        ));
    }
    Ok(())
}

/// MessageGroupId / MessageDeduplicationId / ReceiveRequestAttemptId: 1–128 characters,
/// alphanumeric or ASCII punctuation.
pub fn token(value: &str, parameter: &str) -> SqsResult<()> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b.is_ascii_punctuation());
    if ok {
        Ok(())
    } else {
        Err(SqsError::invalid_value(
            value,
            parameter,
            &format!(
                "{parameter} can only include alphanumeric and punctuation characters. 1 to 128 in length."
            ),
        ))
    }
}

/// User message attributes: at most 10, valid names and types, non-empty values of the
/// declared type. Returns their size as counted against MaximumMessageSize.
pub fn message_attributes(attributes: &Attributes) -> SqsResult<usize> {
    if attributes.len() > 10 {
        return Err(SqsError::invalid_parameter(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            attributes.len()
        )));
    }
    let mut size = 0;
    for (name, value) in attributes {
        attribute_name(name)?;
        attribute_value(name, value, "Message (user) attribute")?;
        size += value.wire_size(name);
    }
    Ok(size)
}

/// Letters SQS accepts in attribute names besides ASCII: the Latin-1 Supplement and Latin
/// Extended-A letters (À–ſ, without the × and ÷ signs).
fn latin_letter(c: char) -> bool {
    matches!(c, '\u{C0}'..='\u{17F}') && c != '\u{D7}' && c != '\u{F7}'
}

fn attribute_name(name: &str) -> SqsResult<()> {
    let lower = name.to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.chars().count() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') || latin_letter(c))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if ok {
        Ok(())
    } else {
        Err(SqsError::invalid_parameter(format!(
            "Message (user) attribute name '{name}' is invalid. Attribute names can contain alphanumeric characters, hyphens, underscores and periods, cannot start or end with a period, cannot contain consecutive periods, and cannot start with AWS. or Amazon."
        )))
    }
}

/// Checks one attribute value against its declared data type.
pub fn attribute_value(name: &str, value: &AttributeValue, kind: &str) -> SqsResult<()> {
    if value.data_type.is_empty() {
        return Err(SqsError::invalid_parameter(format!(
            "{kind} '{name}' must contain a non-empty attribute type."
        )));
    }
    if value.data_type.len() > 256 {
        return Err(SqsError::invalid_parameter(format!(
            "{kind} '{name}' has a data type longer than 256 characters."
        )));
    }
    // The custom type label is echoed in replies (and in XML): printable characters only.
    if value
        .data_type
        .chars()
        .any(|c| c.is_control() || !allowed_char(c))
    {
        return Err(SqsError::invalid_parameter(format!(
            "{kind} '{name}' has a data type with invalid characters."
        )));
    }
    let non_empty = |type_name: &str| {
        SqsError::invalid_parameter(format!(
            "{kind} '{name}' must contain a non-empty value of type '{type_name}'."
        ))
    };
    match value.base_type() {
        "String" => {
            let text = value
                .string_value
                .as_deref()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| non_empty("String"))?;
            if text.chars().any(|c| !allowed_char(c)) {
                return Err(SqsError::invalid_parameter(format!(
                    "{kind} '{name}' contains invalid characters."
                )));
            }
        }
        "Number" => {
            let text = value
                .string_value
                .as_deref()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| non_empty("Number"))?;
            if !is_sqs_number(text) {
                return Err(SqsError::invalid_parameter(format!(
                    "Can't cast the value of message (user) attribute '{name}' to a number."
                )));
            }
        }
        "Binary" => {
            value
                .binary_value
                .as_ref()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| non_empty("Binary"))?;
        }
        _ => {
            return Err(SqsError::invalid_parameter(format!(
                "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        }
    }
    Ok(())
}

/// SQS numbers: a decimal with up to 38 significant digits, magnitude 10^-128 to 10^+126.
fn is_sqs_number(text: &str) -> bool {
    let Ok(value) = text.trim().parse::<f64>() else {
        return false;
    };
    if !value.is_finite() {
        return false;
    }
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let digits = mantissa
        .trim_start_matches(['+', '-'])
        .trim_start_matches(['0', '.'])
        .bytes()
        .filter(u8::is_ascii_digit)
        .count();
    digits <= 38 && (value == 0.0 || (1e-128..=1e126).contains(&value.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        assert!(queue_name("orders-1_a", false).is_ok());
        assert!(queue_name(&"a".repeat(80), false).is_ok());
        assert!(queue_name(&"a".repeat(81), false).is_err());
        assert!(queue_name("bad name", false).is_err());
        assert!(queue_name("", false).is_err());
        assert!(queue_name("x.fifo", true).is_ok());
        assert!(queue_name(&format!("{}.fifo", "a".repeat(75)), true).is_ok());
        assert!(queue_name(&format!("{}.fifo", "a".repeat(76)), true).is_err());
        assert!(queue_name("x", true).is_err());
        assert!(queue_name("x.fifo", false).is_err());
    }

    #[test]
    fn characters() {
        assert!(message_contents("tab\tnew\nline\r ok ✓ 😀").is_ok());
        assert!(message_contents("nul\u{0}").is_err());
        assert!(message_contents("\u{FFFE}").is_err());
        assert!(message_contents("\u{1F}").is_err());
    }

    #[test]
    fn attribute_names() {
        for ok in ["attr.1øßä", "Ĳsel", "a-b_c.d", &"é".repeat(256)] {
            assert!(attribute_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a×b",
            "a÷b",
            "ǀ",
            "a b",
            ".a",
            "a.",
            "a..b",
            "AWS.x",
            &"é".repeat(257),
        ] {
            assert!(attribute_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn data_types_are_printable() {
        let value = |data_type: &str| AttributeValue {
            data_type: data_type.into(),
            string_value: Some("v".into()),
            binary_value: None,
        };
        assert!(attribute_value("a", &value("String.custom-1_x"), "k").is_ok());
        assert!(attribute_value("a", &value("String.ünï"), "k").is_ok());
        for bad in [
            "String.\u{1}",
            "String.a\tb",
            "Number.\u{7f}",
            "String.\u{FFFE}",
        ] {
            assert!(attribute_value("a", &value(bad), "k").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens() {
        assert!(token("group-1!", "MessageGroupId").is_ok());
        assert!(token("group 123", "MessageGroupId").is_err());
        assert!(token("", "MessageGroupId").is_err());
        assert!(token(&"a".repeat(129), "MessageGroupId").is_err());
    }

    #[test]
    fn numbers() {
        for ok in [
            "1",
            "-1.5",
            "4563442423554324324264524243.32543234",
            "1e10",
            "0",
        ] {
            assert!(is_sqs_number(ok), "{ok}");
        }
        for bad in ["abc", "", "1e200", &"9".repeat(39), "NaN"] {
            assert!(!is_sqs_number(bad), "{bad}");
        }
    }
}
