//! What every `GET /v1/{objects}/search` shares: the `query` parsed for the object's fields
//! (`crate::search`), `limit`, the `page` token, and the `search_result` answer with its
//! `next_page` (Stripe's shape, <https://docs.stripe.com/api/pagination/search>).
//!
//! A `page` token is the last answered object's number, tied to its query by a hash of the
//! query's text and to its kind of object by a prefix, so that a token is not replayed
//! against another query or another search.

use serde_json::{Value, json};

use super::merchant;
use crate::error::ApiError;
use crate::form::Form;
use crate::search::{Fields, Query};

/// A search request's parameters, checked.
pub(super) struct Search {
    /// The parsed query.
    pub query: Query,
    /// At most this many objects.
    pub limit: i64,
    /// Only objects older than this number (`page`).
    pub after: Option<i64>,
    text: String,
    tag: &'static str,
}

/// `query` (required), `limit`, `page`, `expand[]`, for objects with these `fields`; `tag`
/// marks their page tokens (`pis`, `cus`).
pub(super) fn parse(form: &Form, fields: &Fields, tag: &'static str) -> Result<Search, ApiError> {
    form.check_known(&["query", "limit", "page", "expand[]"])?;
    let text = form
        .string("query")
        .ok_or_else(|| ApiError::missing("query"))?;
    let query = crate::search::parse(text, fields).map_err(|message| ApiError {
        code: None,
        ..ApiError::invalid("", "query", message)
    })?;
    let limit = merchant::limit_of(form)?;
    let after = form
        .string("page")
        .map(|t| page_after(tag, text, t))
        .transpose()?;
    Ok(Search {
        query,
        limit,
        after,
        text: text.to_owned(),
        tag,
    })
}

impl Search {
    /// The `search_result` of `items` (the storage's answer: at most `limit` plus one,
    /// newest first, each with its number), rendered by `render`.
    pub(super) fn answer<T>(
        &self,
        url: &str,
        mut items: Vec<T>,
        seq: impl Fn(&T) -> i64,
        render: impl Fn(&T) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let has_more = items.len() > self.limit as usize;
        items.truncate(self.limit as usize);
        let next_page = match items.last() {
            Some(last) if has_more => Value::from(page_token(self.tag, &self.text, seq(last))),
            _ => Value::Null,
        };
        let data = items.iter().map(render).collect::<Result<Vec<_>, _>>()?;
        Ok(json!({
            "object": "search_result",
            "url": url,
            "has_more": has_more,
            "next_page": next_page,
            "data": data,
        }))
    }
}

/// A search's `page` token: the last answered object's number, tied to the query.
fn page_token(tag: &str, query: &str, seq: i64) -> String {
    format!("{tag}_{seq:x}_{:016x}", fnv1a(query))
}

/// The number a `page` token of `query` resumes after.
fn page_after(tag: &str, query: &str, token: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::invalid(
            "parameter_invalid_string",
            "page",
            "The page token is not one this search returned for this query: send the same query with the next_page of its last answer.",
        )
    };
    let rest = token
        .strip_prefix(tag)
        .and_then(|r| r.strip_prefix('_'))
        .ok_or_else(bad)?;
    let (seq, hash) = rest.split_once('_').ok_or_else(bad)?;
    if hash != format!("{:016x}", fnv1a(query)) {
        return Err(bad());
    }
    i64::from_str_radix(seq, 16).map_err(|_| bad())
}

/// FNV-1a, 64 bits: stable across builds and nodes.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_token_resumes_only_its_own_query_and_kind() {
        let t = page_token("cus", "email~'abc'", 42);
        assert_eq!(page_after("cus", "email~'abc'", &t).unwrap(), 42);
        assert!(page_after("cus", "email~'abd'", &t).is_err());
        assert!(page_after("prod", "email~'abc'", &t).is_err());
        assert!(page_after("cus", "email~'abc'", "cus_zz_1").is_err());
    }
}
