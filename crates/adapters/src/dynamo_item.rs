//! The small pieces every DynamoDB adapter uses to build and read items: number and string
//! attributes, and "the condition did not hold" told apart from other failures.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

/// A number attribute.
pub fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A string attribute.
pub fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// The item's number attribute `name`, if it holds a `u64`.
pub fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// The item's string attribute `name`.
pub fn string(item: &Item, name: &str) -> Option<String> {
    item.get(name)?.as_s().ok().cloned()
}

/// Whether a conditional write was refused because its condition did not hold (as opposed to
/// failing).
pub fn is_condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings_read_back_and_other_types_do_not() {
        let item = Item::from([
            ("id".to_owned(), n(42)),
            ("name".to_owned(), s("ada")),
            ("neg".to_owned(), AttributeValue::N("-1".into())),
        ]);
        assert_eq!(number(&item, "id"), Some(42));
        assert_eq!(string(&item, "name").as_deref(), Some("ada"));
        assert_eq!(number(&item, "name"), None);
        assert_eq!(string(&item, "id"), None);
        assert_eq!(number(&item, "neg"), None, "not a u64");
        assert_eq!(number(&item, "absent"), None);
    }
}
